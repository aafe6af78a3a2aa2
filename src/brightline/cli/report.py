"""``brightline report submit``: a report from a person becomes a signal."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from brightline.cases import ReporterIdentity, Signal, SourceKind
from brightline.cli.app import app, command, console, settings
from brightline.service.intake import parse_references, submit_report
from brightline.service.ledger import recording

report_app = typer.Typer(help="Reports from people.", no_args_is_help=True)
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
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Submit a report; anonymous unless --name is given (then seen by case admins only)."""
    signal = Signal(
        source_kind=source,
        nodes=tuple(node),
        policies=tuple(policy),
        summary=summary,
        references=parse_references(ref or []),
    )
    identity = None if name is None else ReporterIdentity(name, contact, organization)
    with recording(settings()) as store:
        stored = submit_report(store, signal, identity=identity)
    if as_json:
        console.print_json(json.dumps({"signal": stored.ref}))
    else:
        console.print(f"report received as signal {stored.ref}", highlight=False)
