"""``brightline export``: render the restrictions in other policy languages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from brightline.access import Action
from brightline.cli.app import app, command, console
from brightline.cli.check import load_snapshot
from brightline.cli.credentials import KeyFile, TokenFile
from brightline.exports import export_cedar

export_app = typer.Typer(
    help="Render restrictions as Cedar (and cloud-native policies).", no_args_is_help=True
)
app.add_typer(export_app, name="export")


@command(export_app, name="cedar")
def cedar(
    out: Annotated[Path, typer.Option("--out", help="Directory to write into.")],
    world: Annotated[
        Path | None, typer.Option("--world", help="World directory; default: the store.")
    ] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write schema.cedarschema, policies.cedar, dry-run.cedar and entities.json.

    From the store; with --world, from files only and without a credential."""
    snapshot = load_snapshot(
        world,
        datetime.now(UTC),
        action=Action.EXPORT_POLICY,
        key_file=key_file,
        token_file=token_file,
    )
    for path in export_cedar(snapshot).write(out):
        console.print(f"wrote {path}", highlight=False)
