"""``brightline serve`` and ``brightline apikey``: run the API; manage API keys."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from brightline.cli.app import app, command, console, settings
from brightline.policy import format_time
from brightline.service import open_store
from brightline.service.apikeys import ADMIN, ROLES, create_key, list_keys, revoke_key
from brightline.service.serving import prepare_server

apikey_app = typer.Typer(help="API keys: stored hashed, shown once.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


@command(name="serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    world: Annotated[
        Path, typer.Option("--world", help="World loaded into an empty store on first start.")
    ] = Path("examples/world"),
) -> None:
    """Serve decisions, bundles, restrictions and the ledger over HTTP (TLS at your proxy)."""
    import uvicorn

    from brightline.server import create_app

    config = settings()
    prepared = prepare_server(config, example_world=world)
    for note in prepared.notes:
        console.print(note, highlight=False)
    if prepared.admin_key is not None:
        console.print(
            "[bold]admin API key (shown once, store it now):[/] " + prepared.admin_key,
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"Brightline on http://{host}:{port}  (OpenAPI: /openapi.json)", highlight=False)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    uvicorn.run(
        create_app(config, prepared.store, prepared.signer),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


@command(apikey_app, name="create")
def create(
    principal: Annotated[str, typer.Argument(help="Who the key is for.")],
    role: Annotated[
        list[str], typer.Option("--role", help=f"One of: {', '.join(sorted(ROLES))}. Repeatable.")
    ],
    by: Annotated[str, typer.Option("--as", help="Who creates it.")] = ADMIN,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    with open_store(settings()) as store:
        info, key = create_key(store, principal=principal, roles=role, created_by=by)
    console.print(f"key {info.id} for {info.principal} ({', '.join(info.roles)}):", highlight=False)
    console.print(key, highlight=False, soft_wrap=True)


@command(apikey_app, name="list")
def list_command() -> None:
    """List API keys (ids, principals, roles; never the secrets)."""
    with open_store(settings()) as store:
        keys = list_keys(store)
    table = Table("id", "principal", "roles", "created", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.principal,
            ", ".join(k.roles),
            format_time(k.created_at),
            format_time(k.revoked_at) or "",
        )
    console.print(table)


@command(apikey_app, name="revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="Key id.")],
    by: Annotated[str, typer.Option("--as", help="Who revokes it.")] = ADMIN,
) -> None:
    """Revoke an API key (it stops working within seconds)."""
    with open_store(settings()) as store:
        revoke_key(store, key_id, by=by)
    console.print(f"revoked {key_id}")
