"""``brightline ledger``: keys, status, proofs, disclosure, verification, tiles, and sealing
a log to continue in a new one."""

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
from brightline.ledger import Cosignature, read_verifier
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
    unlogged,
    verify_store,
    verify_tiles,
)
from brightline.service.ledger_keys import sealed_verifiers
from brightline.service.ledger_seal import log_verifier, seal_and_restart
from brightline.service.ledger_verify import VerifyReport, verify_chain, verify_tiles_chain
from brightline.service.store_audit import audit_beside
from brightline.service.witnessing import witness_quorum, witnessed_store, witnessed_tiles
from brightline.store import Store

ledger_app = typer.Typer(
    help="The public, append-only log of every state change.", no_args_is_help=True
)
app.add_typer(ledger_app, name="ledger")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Verifier = Annotated[
    Path | None,
    typer.Option("--verifier", help="Verifier key file (default: the deployment's log.pub)."),
]
Log = Annotated[
    int | None,
    typer.Option("--log", help="Which log, by number (default: the current one).", min=1),
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
def status(
    log: Log = None, key_file: KeyFile = None, token_file: TokenFile = None, as_json: AsJson = False
) -> None:
    """Size, root and the latest signed checkpoint of a log (default: the current one)."""
    config = settings()
    with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
        sync(config, store)
        state = ledger_status(store, log=log)
    note = state.checkpoint.note if state.checkpoint else None
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "size": state.size,
                    "root": state.root.hex(),
                    "checkpoint": note,
                    "log": state.log,
                    "origin": state.origin,
                    "logs": state.logs,
                }
            )
        )
        return
    which = "sealed" if state.log < state.logs else f"the current one of {state.logs}"
    console.print(f"log {state.log} ({state.origin or 'no origin yet'}), {which}", highlight=False)
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
    log: Log = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Print an inclusion proof for an entry (JSON)."""
    config = settings()
    with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
        sync(config, store)
        proof = prove_inclusion(store, entry, size=size, log=log)
    console.print_json(json.dumps(proof.to_json()))


@command(ledger_app, name="disclose")
def disclose_command(
    entry: Annotated[int, typer.Argument(help="Entry index (from 0).")],
    log: Log = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Print an entry's private record, salt, public form and inclusion proof (auditors)."""
    config = settings()
    with acting(Action.DISCLOSE, key_file, token_file, config=config) as (store, _):
        sync(config, store)
        disclosure = disclose(store, entry, log=log)
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
    chain: Annotated[
        bool,
        typer.Option(
            "--chain",
            help="Also verify every sealed log the current one continues, back to the first.",
        ),
    ] = False,
    previous_verifier: Annotated[
        list[Path] | None,
        typer.Option(
            "--previous-verifier",
            help="A sealed log's verifier key (repeatable; default: the deployment's "
            "ledger/logs/<n>/log.pub).",
        ),
    ] = None,
    previous_tiles: Annotated[
        list[Path] | None,
        typer.Option(
            "--previous-tiles",
            help="With --tiles --chain: an exported sealed log (repeatable, any order).",
        ),
    ] = None,
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
    With --witness, the latest checkpoint must carry a quorum of those witnesses'
    cosignatures (without, the deployment's own witness settings apply).

    With --chain, walk back through every sealed log: each log's first entry must commit
    to the final checkpoint of the log before it. Then audit the store: every history row
    has its one outbox event and ledger entry, in order, across all its logs, and the
    restrictions in force agree (docs/ledger.md#the-store-audit); --no-store-audit skips
    it. With --tiles it reads only files and needs no credential.

    Verification never writes: the store is opened read-only (nothing is appended,
    signed or submitted to witnesses); events not yet logged are only counted."""
    key = read_verifier(verifier) if verifier is not None else LedgerKeys.of(settings()).verifier()
    witnesses = witness_quorum(witness or [], witness_quorum_, settings())
    older = None
    if checkpoint is not None:
        try:
            older = checkpoint.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(Problem(str(checkpoint), f"cannot read: {exc}")) from exc
    if (previous_tiles or previous_verifier) and not chain:
        raise InvalidInputError(
            Problem("--previous-tiles", "--previous-tiles and --previous-verifier need --chain")
        )
    sealed = [*sealed_verifiers(settings()), *(read_verifier(p) for p in previous_verifier or [])]
    reports: tuple[VerifyReport, ...]
    audited: tuple[str, ...] = ()
    if tiles is not None:
        if chain:
            reports = verify_tiles_chain(
                tiles, key, previous=previous_tiles or [], sealed=sealed, older=older
            )
        else:
            reports = (verify_tiles(tiles, key, older=older),)
        cosigned = witnessed_tiles(tiles, key, witnesses)
    else:
        if previous_tiles:
            raise InvalidInputError(Problem("--previous-tiles", "needs --tiles"))
        config = settings()
        with acting(Action.VIEW_LEDGER, key_file, token_file, config=config, read_only=True) as (
            store,
            _,
        ):
            waiting = unlogged(store)
            if waiting:
                console.print(
                    f"[yellow]note:[/] {waiting} outbox event(s) not yet logged (verify never "
                    "logs them): run `brightline ledger sync`",
                    highlight=False,
                )

            def checked(opened: Store) -> tuple[tuple[VerifyReport, ...], tuple[Cosignature, ...]]:
                if chain:
                    trees = verify_chain(opened, key, sealed=sealed, older=older)
                else:
                    trees = (verify_store(opened, key, older=older),)
                return trees, witnessed_store(opened, key, witnesses)

            if no_store_audit:
                reports, cosigned = checked(store)
            else:  # the store audit while another process checks the tree
                (reports, cosigned), audit = audit_beside(
                    store, checked, granularity=granularity_of(config)
                )
                audited = audit.notes()
    for index, report in enumerate(reports):
        what = f"{report.origin} ({report.source})" if chain else report.source
        console.print(f"[green]verified[/] {what}: {report.size} entries", highlight=False)
        for note in report.notes:
            console.print(f"  {note}", highlight=False)
        if index == 0 and witnesses:
            names = ", ".join(c.witness.name for c in cosigned)
            console.print(
                f"  cosigned by {len(cosigned)} of {len(witnesses.witnesses)} witnesses "
                f"({witnesses.quorum} needed): {names}",
                highlight=False,
            )
        console.print(f"  root {_b64(report.root)}", highlight=False)
        if index + 1 < len(reports):
            console.print(
                f"  its entry 0 continues {reports[index + 1].origin} at its final checkpoint",
                highlight=False,
            )
    if chain:
        console.print(
            f"[green]verified[/] the chain of {len(reports)} log(s) back to {reports[-1].origin}",
            highlight=False,
        )
    for note in audited:
        console.print(f"  {note}", highlight=False)


@command(ledger_app, name="export-tiles")
def export_tiles_command(
    directory: Annotated[Path, typer.Argument(help="Directory to write the tiles into.")],
    log: Log = None,
    verifier: Verifier = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write a log (default: the current one) as C2SP tlog-tiles, servable by any static
    web server. A sealed log is written up to its final checkpoint."""
    config = settings()
    with acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _):
        sync(config, store)
        key = read_verifier(verifier) if verifier is not None else log_verifier(config, store, log)
        checkpoint = export_tiles_dir(store, directory, key, log=log)
    console.print(
        f"wrote {checkpoint.size} entries of {checkpoint.origin} as tiles to {directory}",
        highlight=False,
    )


@command(ledger_app, name="seal-and-restart")
def seal_and_restart_command(
    log: Annotated[
        int,
        typer.Option(
            "--log",
            help="The number of the current log, which this seals (`ledger status` shows it).",
            min=1,
        ),
    ],
    origin: Annotated[
        str | None,
        typer.Option("--origin", help="The new log's origin (default: <first origin>/<n>)."),
    ] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Seal the current log at a final checkpoint and continue in a new log, under a new
    key, whose first entry commits to that checkpoint. Entries already published stay as
    they are; every new entry goes to the new log."""
    config = settings()
    with acting(Action.SEAL_LEDGER, key_file, token_file, config=config) as (store, actor):
        result = seal_and_restart(config, store, actor=actor, expected=log, origin=origin)
    sealed, new = result.sealed, result.log
    keys = LedgerKeys.of(config)
    console.print(
        f"sealed log {sealed.number} ({sealed.origin}) at {result.final_size} entries; "
        f"its final checkpoint:\n{result.final_checkpoint}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"log {new.number} ({new.origin}) continues it; its verifier key ({keys.public}):",
        highlight=False,
    )
    console.print(str(result.verifier), highlight=False, soft_wrap=True)
    console.print(
        f"Publish the new key and log {new.number}'s tiles; keep publishing log "
        f"{sealed.number}'s tiles (`brightline ledger export-tiles DIR --log {sealed.number}`) "
        f"and its key ({LedgerKeys.sealed(config, sealed.number).public}).",
        highlight=False,
    )
