"""``brightline serve``: run the API (and, on a fresh store, bootstrap its first principal)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from brightline.cli.app import command, console, settings
from brightline.service.serving import prepare_server


@command(name="serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    world: Annotated[
        Path, typer.Option("--world", help="World loaded into an empty store on first start.")
    ] = Path("examples/world"),
    keep_alive: Annotated[
        int,
        typer.Option(
            "--keep-alive",
            min=1,
            help="Seconds an idle HTTP connection is kept open (longer than the idle "
            "timeout of the gateways and load balancers in front).",
        ),
    ] = 75,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Worker processes on this port. They share console sessions, rate limits "
            "and the ledger writer's lock through the database, as separate servers on one "
            "database do (docs/operations.md).",
        ),
    ] = 1,
) -> None:
    """Serve decisions, bundles, restrictions and the ledger over HTTP (TLS at your proxy)."""
    import uvicorn

    from brightline.server import UVICORN_LOGS, create_app
    from brightline.server.workers import FACTORY

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
    console.print(
        f"Brightline on http://{host}:{port}  (OpenAPI: /openapi.json)"
        + (f", {workers} workers" if workers > 1 else ""),
        highlight=False,
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if workers == 1:
        uvicorn.run(
            create_app(config, prepared.store, prepared.signer),
            host=host,
            port=port,
            timeout_keep_alive=keep_alive,
            **UVICORN_LOGS,
        )
        return
    # Each worker builds its own application (and store connections) from the settings
    # in the environment it inherits; the parent only prepared the store.
    prepared.store.close()
    uvicorn.run(
        FACTORY,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        timeout_keep_alive=keep_alive,
        **UVICORN_LOGS,
    )
