"""``brightline bootstrap``, ``brightline principal`` and ``brightline apikey``: the first
principal of a store, who holds which role, and the keys principals act with.

A principal's effective roles are its key's roles that the store also grants it
(``brightline.access.effective_roles``): creating a key for a role grants nothing, and
granting a role does nothing for a key that does not carry it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from brightline import files
from brightline.access import Action, Role
from brightline.cli.app import app, command, console, err_console, settings
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.errors import InvalidInputError, Problem
from brightline.policy import format_time
from brightline.service.access import bootstrap as bootstrap_store
from brightline.service.apikeys import create_key, list_keys, revoke_key
from brightline.service.intake import grant_role, list_principals, revoke_role
from brightline.service.ledger import recording

principal_app = typer.Typer(
    help="Principals and the roles the store grants them.", no_args_is_help=True
)
apikey_app = typer.Typer(help="API keys: stored hashed, shown once.", no_args_is_help=True)
app.add_typer(principal_app, name="principal")
app.add_typer(apikey_app, name="apikey")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KeyOut = Annotated[
    Path | None,
    typer.Option(
        "--key-out",
        help="Write the key to this new file (mode 0600) instead of printing it.",
        show_default=False,
    ),
]


@contextmanager
def _key_out(path: Path | None) -> Iterator[Path | None]:
    """A new file for a key, made (empty, mode 0600) before the key exists, so that no key
    is made that cannot be written; removed if no key was written into it."""
    if path is None:
        yield None
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError as exc:
        raise InvalidInputError(Problem(str(path), "--key-out: exists; not overwritten")) from exc
    except OSError as exc:
        raise InvalidInputError(Problem(str(path), f"--key-out: cannot create: {exc}")) from exc
    try:
        yield path
    finally:
        # Kept once the key is in it, even if a later step fails: the key is then stored.
        if path.stat().st_size == 0:
            path.unlink()


def _show_key(key: str, path: Path | None) -> None:
    """Into the file (written whole over the empty one made for it), or alone on standard
    output (so that a script can capture it); what is said about it goes to standard
    error."""
    if path is not None:
        files.write_file(path, key + "\n", mode=0o600)
        err_console.print(f"key written to {path} (mode 0600)", highlight=False)
        return
    err_console.print("[bold]the key (shown once, store it now):[/]", highlight=False)
    console.print(key, highlight=False, markup=False, soft_wrap=True)


# -- bootstrap --------------------------------------------------------------------------------


@command(name="bootstrap")
def bootstrap(
    principal: Annotated[
        str, typer.Option("--principal", help="The first principal: admin and case admin.")
    ],
    key_out: KeyOut = None,
) -> None:
    """Make the first principal of an empty store: admin and case admin, with a key.

    Recorded in the ledger. Refused (exit 4) on a store that has any grant or key: ask an
    admin for a key there (`brightline apikey create`)."""
    with _key_out(key_out) as out, recording(settings()) as store:
        key = bootstrap_store(store, principal=principal)
        _show_key(key, out)
    err_console.print(
        f"{principal}: admin, case-admin. Next: `brightline apikey create` and "
        "`brightline principal grant` for each person (docs/operations.md)",
        highlight=False,
    )


# -- principals -------------------------------------------------------------------------------


@command(principal_app, name="grant")
def grant(
    principal: str,
    role: Role,
    node: Annotated[
        str | None, typer.Option("--node", help="customer: the node the grant binds it to")
    ] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Grant a role (admins and case admins; no one changes their own roles). A customer
    grant names the node it binds the principal to (``--node``)."""
    with acting(Action.GRANT_ROLES, key_file, token_file, record=True) as (store, actor):
        roles = grant_role(store, principal, role, actor=actor, node=node)
    _roles(principal, roles, as_json)


@command(principal_app, name="revoke")
def revoke(
    principal: str,
    role: Role,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Revoke a role (admins and case admins); it applies from the principal's next command
    or request."""
    with acting(Action.REVOKE_ROLES, key_file, token_file, record=True) as (store, actor):
        roles = revoke_role(store, principal, role, actor=actor)
    _roles(principal, roles, as_json)


def _roles(principal: str, roles: frozenset[Role], as_json: bool) -> None:
    if as_json:
        _json({"principal": principal, "roles": sorted(roles)})
    else:
        console.print(f"{principal}: {', '.join(sorted(roles)) or 'no role'}", highlight=False)


@command(principal_app, name="list")
def principals(
    key_file: KeyFile = None, token_file: TokenFile = None, as_json: AsJson = False
) -> None:
    """Every principal holding a role."""
    with acting(Action.LIST_PRINCIPALS, key_file, token_file) as (store, actor):
        holders = list_principals(store, actor=actor)
    if as_json:
        _json({h.principal: sorted(h.roles) for h in holders})
        return
    for h in holders:
        bound = f" (customer of {h.node})" if h.node else ""
        console.print(f"{h.principal}: {', '.join(sorted(h.roles))}{bound}", highlight=False)


def _json(value: Any) -> None:
    console.print_json(json.dumps(value, ensure_ascii=False))


# -- API keys ---------------------------------------------------------------------------------


@command(apikey_app, name="create")
def create(
    principal: Annotated[str, typer.Argument(help="Who the key is for.")],
    role: Annotated[list[Role], typer.Option("--role", help="A role the key carries. Repeatable.")],
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    key_out: KeyOut = None,
) -> None:
    """Create an API key (admins); it is shown once and stored only as a hash. The key's
    roles limit what it may do: grant them too (`brightline principal grant`)."""
    with (
        _key_out(key_out) as out,
        acting(Action.CREATE_KEY, key_file, token_file) as (store, actor),
    ):
        info, key = create_key(store, principal=principal, roles=role, actor=actor)
        err_console.print(
            f"key {info.id} for {info.principal} ({', '.join(info.roles)})", highlight=False
        )
        _show_key(key, out)


@command(apikey_app, name="list")
def list_command(
    key_file: KeyFile = None, token_file: TokenFile = None, as_json: AsJson = False
) -> None:
    """List API keys (ids, principals, roles; never the secrets)."""
    with acting(Action.LIST_KEYS, key_file, token_file) as (store, actor):
        keys = list_keys(store, actor=actor)
    if as_json:
        _json(
            [
                {
                    "id": k.id,
                    "principal": k.principal,
                    "roles": list(k.roles),
                    "created_at": format_time(k.created_at),
                    "created_by": k.created_by,
                    "revoked_at": format_time(k.revoked_at),
                }
                for k in keys
            ]
        )
        return
    table = Table("id", "principal", "roles", "created", "by", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.principal,
            ", ".join(k.roles),
            format_time(k.created_at),
            k.created_by,
            format_time(k.revoked_at) or "",
        )
    console.print(table)


@command(apikey_app, name="revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="Key id.")],
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Revoke an API key (admins); it is refused from the next command or request on."""
    with acting(Action.REVOKE_KEY, key_file, token_file) as (store, actor):
        revoke_key(store, key_id, actor=actor)
    console.print(f"revoked {key_id}", highlight=False)
