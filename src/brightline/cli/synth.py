"""``brightline synth``: a synthetic world and its metering, with planted patterns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brightline.cli.app import command, console
from brightline.errors import InvalidInputError
from brightline.synth import synthesize


@command(name="synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="Directory to write.")],
    subscriptions: Annotated[int, typer.Option("--subscriptions", min=1)] = 1000,
    days: Annotated[int, typer.Option("--days", min=1, max=366)] = 30,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    rows: Annotated[
        int | None, typer.Option("--rows", help="About this many rows; default 3 per sub-hour.")
    ] = None,
) -> None:
    """Write a world directory, telemetry/metering.parquet and truth.json."""
    if out.exists() and any(out.iterdir()):
        raise InvalidInputError(f"{out} is not empty")
    result = synthesize(out, subscriptions=subscriptions, days=days, seed=seed, rows=rows)
    console.print(
        f"{result.out}: {result.customers} customers, {result.subscriptions} subscriptions, "
        f"{result.rows} metering rows; planted {', '.join(result.planted)}; "
        f"decoys {', '.join(result.decoys)}",
        highlight=False,
    )
