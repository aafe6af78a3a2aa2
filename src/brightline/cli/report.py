"""``brightline report``: reports from people (``submit``) and transparency reports
(``transparency`` writes one, ``verify`` checks one against the public log; ``audit``
recounts its private figures from ``disclose-release``'s records)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from brightline import files
from brightline.access import Action
from brightline.cases import ReporterIdentity, Signal, SourceKind
from brightline.cli.app import app, command, console, err_console, settings
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.cli.witness_options import WitnessKeys, WitnessQuorumOption
from brightline.errors import InvalidInputError, LedgerIntegrityError, NotFoundError, Problem
from brightline.ledger import NoteVerifier, read_verifier
from brightline.service.intake import parse_references, submit_report
from brightline.service.ledger import LedgerKeys
from brightline.service.private_audit import audit_transparency_report, read_disclosures
from brightline.service.private_figures import disclose_release
from brightline.service.transparency import (
    verify_transparency_report,
    write_transparency_report,
)
from brightline.service.witnessing import witness_quorum
from brightline.transparency.private_doc import PrivateFigures
from brightline.transparency.private_figures import decimal

report_app = typer.Typer(
    help="Reports from people, and transparency reports anyone can verify.",
    no_args_is_help=True,
)
app.add_typer(report_app, name="report")


@command(report_app, name="submit")
def submit(
    node: Annotated[list[str], typer.Option("--node", help="Node concerned (repeatable).")],
    policy: Annotated[list[str], typer.Option("--policy", help="Policy allegedly broken.")],
    summary: Annotated[str, typer.Option("--summary")],
    source: Annotated[SourceKind, typer.Option("--source")] = SourceKind.ANONYMOUS,
    ref: Annotated[
        list[str] | None, typer.Option("--ref", help="[label=]https://… or sha256:<hex>")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Reporter (kept apart).")] = None,
    contact: Annotated[str | None, typer.Option("--contact")] = None,
    organization: Annotated[str | None, typer.Option("--organization")] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Record a report received from a person (intake staff: investigators and case admins);
    anonymous unless --name is given (then seen by case admins only)."""
    signal = Signal(
        source_kind=source,
        nodes=tuple(node),
        policies=tuple(policy),
        summary=summary,
        references=parse_references(ref or []),
    )
    identity = None if name is None else ReporterIdentity(name, contact, organization)
    with acting(Action.SUBMIT_REPORT, key_file, token_file, record=True) as (store, actor):
        stored = submit_report(store, signal, actor=actor, identity=identity)
    if as_json:
        console.print_json(json.dumps({"signal": stored.ref}))
    else:
        console.print(f"report received as signal {stored.ref}", highlight=False)


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(
            Problem(option, f"{value!r} is not an ISO date (YYYY-MM-DD)")
        ) from exc


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A Rich spinner naming the current step (none with --json, or off a terminal)."""
    if not enabled:
        yield lambda _: None
        return
    with err_console.status("starting") as status:
        yield lambda step: status.update(step)


@command(report_app, name="transparency")
def transparency(
    period_from: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, UTC).")],
    period_to: Annotated[str, typer.Option("--to", help="Last day, included (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the site to.")],
    tiles: Annotated[
        Path | None,
        typer.Option("--tiles", help="Where to export the log's tiles (default: OUT/tiles)."),
    ] = None,
    no_tiles: Annotated[
        bool, typer.Option("--no-tiles", help="Do not export tiles (publish them elsewhere).")
    ] = False,
    k: Annotated[
        int | None,
        typer.Option("--k", help="Show counts from 1 to k-1 as '< k' (default: the setting)."),
    ] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a transparency report: a static site whose every count anyone can recompute
    from the public log."""
    first, last = _date(period_from, "--from"), _date(period_to, "--to")
    config = settings()
    tiles_dir = None if no_tiles else (tiles if tiles is not None else out / "tiles")
    with (
        acting(Action.VIEW_LEDGER, key_file, token_file, config=config) as (store, _),
        _progress(not as_json) as step,
    ):
        summary = write_transparency_report(
            store,
            settings=config,
            period_from=first,
            period_to=last,
            out_dir=out,
            tiles_dir=tiles_dir,
            k=k,
            progress=step,
        )
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "out": str(summary.out_dir),
                    "tiles": None if summary.tiles_dir is None else str(summary.tiles_dir),
                    "checkpoint_size": summary.checkpoint.size,
                    "tables": summary.tables,
                    "restrictions_in_force": summary.in_force,
                    "files": list(summary.files),
                    **summary.parameters.to_json(),
                    "private_figures": _released(summary.private),
                }
            )
        )
        return
    console.print(
        f"wrote the transparency report for {first} to {last} to {summary.out_dir}: "
        f"{summary.tables} tables, {summary.in_force} restrictions in force, from a log "
        f"of {summary.checkpoint.size} entries (k = {summary.parameters.k})",
        highlight=False,
    )
    if summary.private is not None:
        private = summary.private
        console.print(
            f"released {private.figures} figures about investigations with differential "
            f"privacy (ε = {decimal(private.release_epsilon)}, ledger entry "
            f"{private.release_entry}): ε = {decimal(private.budget_after)} of the budget of "
            f"{decimal(private.budget_cap)} spent so far",
            highlight=False,
        )
    if summary.tiles_dir is not None:
        console.print(f"tiles exported to {summary.tiles_dir}", highlight=False)


@command(report_app, name="verify")
def verify(
    report_dir: Annotated[Path, typer.Argument(help="The report's directory.")],
    tiles: Annotated[Path, typer.Option("--tiles", help="The log's tiles directory.")],
    verifier: Annotated[
        Path | None,
        typer.Option(
            "--verifier",
            help="The log's public (verifier) key file, from a source you trust "
            "(default, on the provider's own machine: the deployment's log.pub).",
        ),
    ] = None,
    witness: WitnessKeys = None,
    witness_quorum_: WitnessQuorumOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute every figure of a report from the log's tiles and checkpoint alone, render
    the report again and compare every file; exit non-zero naming what differs. With
    --witness, the report's checkpoint must carry a quorum of those witnesses' cosignatures."""
    key = read_verifier(verifier) if verifier is not None else _deployment_verifier()
    witnesses = witness_quorum(witness or [], witness_quorum_)
    with _progress(not as_json) as step:
        result = verify_transparency_report(
            report_dir, tiles, verifier=key, witnesses=witnesses, progress=step
        )
    if as_json:
        console.print_json(json.dumps(result.to_json()))
    elif result.ok:
        assert result.parameters is not None
        assert result.checkpoint is not None
        assert result.tiles_root is not None
        parameters = result.parameters
        console.print(
            f"OK: {result.tables} tables and {result.in_force} restrictions in force match "
            f"the log (period {parameters.period.first} to {parameters.period.last}, as of "
            f"{parameters.to_json()['as_of']}, k = {parameters.k}); the report's checkpoint "
            f"has {result.checkpoint.size} entries; the tiles have {result.tiles_size}, root "
            f"{result.tiles_root.hex()} (hex; "
            f"{base64.b64encode(result.tiles_root).decode()} in the checkpoint's base64)",
            highlight=False,
            soft_wrap=True,
        )
    _conclude(result.warnings, result.problems, "the report does not match the log", as_json)


def _released(private: PrivateFigures | None) -> dict[str, object] | None:
    if private is None:
        return None
    return {
        "release_entry": private.release_entry,
        "figures": private.figures,
        "epsilon_per_figure": private.epsilon_per_figure,
        "release_epsilon": private.release_epsilon,
        "cumulative_epsilon": private.budget_after,
        "epsilon_budget": private.budget_cap,
    }


def _deployment_verifier() -> NoteVerifier:
    try:
        return LedgerKeys.of(settings()).verifier()
    except NotFoundError as exc:
        raise InvalidInputError(
            Problem(
                "--verifier",
                "pass --verifier with the log's public key file (log.pub), from a source you "
                "trust: this machine has no deployment key to default to",
            )
        ) from exc


@command(report_app, name="disclose-release")
def disclose_release_command(
    entry: Annotated[int, typer.Argument(help="The release's ledger entry (in the report).")],
    out: Annotated[Path, typer.Option("--out", help="File to write, one disclosure a line.")],
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write what an auditor needs to recount a report's private figures (auditors): the
    release entry's record and salt, and those of every entry it was counted from."""
    config = settings()
    with acting(Action.DISCLOSE, key_file, token_file, config=config) as (store, _):
        disclosures = disclose_release(store, entry)
    files.write_file(out, "".join(json.dumps(d.to_json()) + "\n" for d in disclosures))
    console.print(
        f"wrote {len(disclosures)} disclosures (the release and {len(disclosures) - 1} inputs) "
        f"to {out}: they hold private records, keep them as such",
        highlight=False,
    )


@command(report_app, name="audit")
def audit(
    report_dir: Annotated[Path, typer.Argument(help="The report's directory.")],
    tiles: Annotated[Path, typer.Option("--tiles", help="The log's tiles directory.")],
    disclosure: Annotated[
        list[Path],
        typer.Option(
            "--disclosure",
            help="Disclosed entries: `brightline report disclose-release` output, or "
            "`brightline ledger disclose` outputs (repeatable).",
        ),
    ],
    verifier: Annotated[
        Path | None,
        typer.Option("--verifier", help="The log's public (verifier) key file."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify a report, then recount its private figures exactly from disclosed records:
    each checked against the log's commitment, every figure its true value plus the noise
    recorded before the report was written. Exit non-zero naming what differs."""
    key = read_verifier(verifier) if verifier is not None else _deployment_verifier()
    result = audit_transparency_report(
        report_dir, tiles, read_disclosures(disclosure), verifier=key
    )
    if as_json:
        console.print_json(json.dumps(result.to_json()))
    elif result.ok:
        console.print(
            f"OK: the report verifies, and its {result.figures} figures with differential "
            f"privacy (release entry {result.release_entry}) are exactly the true values "
            f"recounted from {result.inputs} disclosed records plus the noise recorded",
            highlight=False,
            soft_wrap=True,
        )
    _conclude(result.warnings, result.problems, "the audit failed", as_json)


def _conclude(
    warnings: Sequence[str], problems: Sequence[str], failure: str, as_json: bool
) -> None:
    """Print the warnings, then each problem once; LedgerIntegrityError (exit 5) counting
    them if there are any."""
    if not as_json:
        for warning in warnings:
            err_console.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
        for problem in problems:
            err_console.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
    if problems:
        count = len(problems)
        raise LedgerIntegrityError(
            f"{failure}: {count} problem{'s' if count > 1 else ''}"
            + (' (see "problems")' if as_json else ", listed above")
        )
