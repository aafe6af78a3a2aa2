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
from brightline.cli.witness_options import WitnessKeys, WitnessQuorumOption
from brightline.errors import InvalidInputError, Problem
from brightline.ledger import read_verifier
from brightline.service.ledger import (
    DEFAULT_ORIGIN,
    LedgerKeys,
    disclose,
    export_tiles_dir,
    keygen,
    ledger_status,
    prove_inclusion,
    sync,
    verify_store,
    verify_tiles,
)
from brightline.service.witnessing import witness_quorum, witnessed_store, witnessed_tiles

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
    witness: WitnessKeys = None,
    witness_quorum_: WitnessQuorumOption = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Recompute the tree and check it against the signed checkpoints; name the first bad entry.
    With --witness, the latest checkpoint must carry a quorum of those witnesses'
    cosignatures (without, the deployment's own witness settings apply).

    With --tiles it reads only files and needs no credential."""
    key = read_verifier(verifier) if verifier is not None else LedgerKeys.of(settings()).verifier()
    witnesses = witness_quorum(witness or [], witness_quorum_, settings())
    older = None
    if checkpoint is not None:
        try:
            older = checkpoint.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(Problem(str(checkpoint), f"cannot read: {exc}")) from exc
    if tiles is not None:
        report = verify_tiles(tiles, key, older=older)
        cosigned = witnessed_tiles(tiles, key, witnesses)
    else:
        config = settings()
        with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
            sync(config, store)
            report = verify_store(store, key, older=older)
            cosigned = witnessed_store(store, key, witnesses)
    console.print(f"[green]verified[/] {report.source}: {report.size} entries", highlight=False)
    for note in report.notes:
        console.print(f"  {note}", highlight=False)
    if witnesses:
        names = ", ".join(c.witness.name for c in cosigned)
        console.print(
            f"  cosigned by {len(cosigned)} of {len(witnesses.witnesses)} witnesses "
            f"({witnesses.quorum} needed): {names}",
            highlight=False,
        )
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
