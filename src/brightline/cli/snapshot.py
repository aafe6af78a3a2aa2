"""``brightline snapshot``: compile the restrictions in force at a time, from the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from brightline.access import Action
from brightline.cli.app import command, console, settings
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.errors import InvalidInputError, Problem
from brightline.service import compile_snapshot_at, notice_of, write_snapshot


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(Problem("--at", f"not an RFC 3339 time: {text!r}")) from exc
    if moment.tzinfo is None:
        raise InvalidInputError(
            Problem("--at", "time must carry a zone, e.g. 2025-10-01T12:00:00Z")
        )
    return moment.astimezone(UTC)


@command(name="snapshot")
def snapshot(
    at: Annotated[str | None, typer.Option("--at", help="RFC 3339 time; default now.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the snapshot JSON here (default: stdout).")
    ] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Compile the world and the restrictions in force at a time into a snapshot file."""
    moment = _moment(at)
    config = settings()
    with acting(Action.READ_BUNDLE, key_file, token_file, config=config) as (store, _):
        compiled = compile_snapshot_at(store, moment, notice=notice_of(config))
    if out is None:
        typer.echo(json.dumps(compiled.document(), indent=2, ensure_ascii=False))
        return
    write_snapshot(compiled, out)
    console.print(
        f"snapshot {compiled.snapshot.version[:12]}… at {compiled.document()['at']}: "
        f"{len(compiled.snapshot.restrictions)} restrictions, world version "
        f"{compiled.world_version} → {out}",
        highlight=False,
    )
