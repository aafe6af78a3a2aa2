"""``brightline ledger``: keys, status, proofs, disclosure, verification and tiles."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer

from brightline.access import Action
from brightline.cli.app import app, command, console, settings
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.errors import InvalidInputError, Problem
from brightline.ledger import read_verifier
from brightline.service.ledger import (
    DEFAULT_ORIGIN,
    LedgerKeys,
    disclose,
    export_tiles_dir,
    granularity_of,
    keygen,
    ledger_status,
    prove_inclusion,
    sync,
    verify_store,
    verify_tiles,
)
from brightline.service.store_audit import verify_and_audit

ledger_app = typer.Typer(
    help="The public, append-only log of every state change.", no_args_is_help=True
)
app.add_typer(ledger_app, name="ledger")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Verifier = Annotated[
    Path | None,
    typer.Option("--verifier", help="Verifier key file (default: the deployment's log.pub)."),
]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@command(ledger_app, name="keygen")
def keygen_command(
    name: Annotated[str, typer.Option("--name", help="The log's origin name.")] = DEFAULT_ORIGIN,
) -> None:
    """Create the log's Ed25519 signing key (private file mode 0600) and print the verifier key."""
    keys, verifier = keygen(settings(), name=name)
    console.print(f"private key: {keys.private} (mode 0600)", highlight=False)
    console.print(f"verifier key ({keys.public}):", highlight=False)
    console.print(str(verifier), highlight=False, soft_wrap=True)


@command(ledger_app, name="sync")
def sync_command(key_file: KeyFile = None, token_file: TokenFile = None) -> None:
    """Log every pending state change and sign a checkpoint."""
    config = settings()
    with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
        result = sync(config, store)
    console.print(f"appended {result.appended}; the log holds {result.size} entries")


@command(ledger_app, name="status")
def status(key_file: KeyFile = None, token_file: TokenFile = None, as_json: AsJson = False) -> None:
    """Size, root and the latest signed checkpoint."""
    config = settings()
    with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
        sync(config, store)
        state = ledger_status(store)
    note = state.checkpoint.note if state.checkpoint else None
    if as_json:
        console.print_json(
            json.dumps({"size": state.size, "root": state.root.hex(), "checkpoint": note})
        )
        return
    console.print(
        f"size {state.size}\nroot {_b64(state.root)} (base64, as in the checkpoint)",
        highlight=False,
    )
    if note is None:
        console.print("[yellow]no signed checkpoint: run `brightline ledger keygen`[/]")
    else:
        console.print("latest checkpoint:\n" + note, highlight=False, soft_wrap=True)


@command(ledger_app, name="prove")
def prove(
    entry: Annotated[int, typer.Argument(help="Entry index (from 0).")],
    size: Annotated[int | None, typer.Option("--size", help="Tree size (default: signed).")] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Print an inclusion proof for an entry (JSON)."""
    config = settings()
    with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
        sync(config, store)
        proof = prove_inclusion(store, entry, size=size)
    console.print_json(json.dumps(proof.to_json()))


@command(ledger_app, name="disclose")
def disclose_command(
    entry: Annotated[int, typer.Argument(help="Entry index (from 0).")],
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Print an entry's private record, salt, public form and inclusion proof (auditors)."""
    config = settings()
    with acting(Action.DISCLOSE, key_file, token_file, config=config) as (store, _):
        sync(config, store)
        disclosure = disclose(store, entry)
    console.print_json(json.dumps(disclosure.to_json()))


@command(ledger_app, name="verify")
def verify(
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="An older signed checkpoint you kept.")
    ] = None,
    tiles: Annotated[
        Path | None, typer.Option("--tiles", help="Verify an exported tiles directory instead.")
    ] = None,
    verifier: Verifier = None,
    no_store_audit: Annotated[
        bool,
        typer.Option(
            "--no-store-audit",
            help="Check only the tree, not that the ledger records the store's history.",
        ),
    ] = False,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Recompute the tree and check it against the signed checkpoints; name the first bad entry.
    Then audit the store: every history row has its one outbox event and ledger entry, in
    order, and the restrictions in force agree (docs/ledger.md#the-store-audit).

    With --tiles it reads only files and needs no credential."""
    key = read_verifier(verifier) if verifier is not None else LedgerKeys.of(settings()).verifier()
    older = None
    if checkpoint is not None:
        try:
            older = checkpoint.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(Problem(str(checkpoint), f"cannot read: {exc}")) from exc
    if tiles is not None:
        report = verify_tiles(tiles, key, older=older)
    else:
        config = settings()
        with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
            sync(config, store)
            if no_store_audit:
                report = verify_store(store, key, older=older)
            else:
                report = verify_and_audit(
                    store, key, older=older, granularity=granularity_of(config)
                )
    console.print(f"[green]verified[/] {report.source}: {report.size} entries", highlight=False)
    for note in report.notes:
        console.print(f"  {note}", highlight=False)
    console.print(f"  root {_b64(report.root)}", highlight=False)


@command(ledger_app, name="export-tiles")
def export_tiles_command(
    directory: Annotated[Path, typer.Argument(help="Directory to write the tiles into.")],
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write the log as C2SP tlog-tiles, servable by any static web server."""
    config = settings()
    keys = LedgerKeys.of(config)
    with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
        sync(config, store)
        checkpoint = export_tiles_dir(store, directory, keys.verifier())
    console.print(f"wrote {checkpoint.size} entries as tiles to {directory}", highlight=False)
