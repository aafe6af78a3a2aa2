"""``brightline telemetry``: ingest metering files (CSV, JSON Lines, Parquet, FOCUS), prune."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from brightline.cli.app import app, command, console, settings
from brightline.service.telemetry import ingest_files, prune_telemetry, resolve_world
from brightline.telemetry import DEFAULT_RETENTION_DAYS

telemetry_app = typer.Typer(help="Metering telemetry: ingest and retention.", no_args_is_help=True)
app.add_typer(telemetry_app, name="telemetry")

WorldOption = Annotated[
    Path | None, typer.Option("--world", help="World directory; default: the store.")
]


@command(telemetry_app, name="ingest")
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV, JSON Lines or Parquet files.")],
    world: WorldOption = None,
) -> None:
    """Validate and store metering rows; bad rows are quarantined with their reason."""
    now = datetime.now(UTC)
    config = settings()
    loaded = resolve_world(config, world, now)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[Path, object] = {}

        def step(path: Path, done: int, total: int) -> None:
            if path not in tasks:
                tasks[path] = progress.add_task(f"ingesting {path.name}", total=total)
            progress.update(tasks[path], completed=done, total=total)  # type: ignore[arg-type]

        reports = ingest_files(config, files, world=loaded, now=now, progress=step)
    for report in reports:
        if report.duplicate:
            console.print(
                f"{report.file}: already ingested (sha256 {report.sha256[:16]}…): skipped, "
                "its usage is not counted twice",
                highlight=False,
            )
            continue
        console.print(
            f"{report.file}: {report.rows} rows, {report.accepted} stored, "
            f"{report.quarantined_rows} quarantined",
            highlight=False,
        )
        for reason, count in report.quarantined.items():
            console.print(f"  {reason}: {count}", highlight=False)
        if report.quarantine_file:
            console.print(f"  quarantine: {report.quarantine_file}", highlight=False)


@command(telemetry_app, name="prune")
def prune(
    retention_days: Annotated[
        int, typer.Option("--retention-days", help="Keep this many days.")
    ] = DEFAULT_RETENTION_DAYS,
    world: WorldOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only.")] = False,
) -> None:
    """Remove metering rows older than the retention period, except those under a hold."""
    now = datetime.now(UTC)
    config = settings()
    report = prune_telemetry(
        config,
        now=now,
        world=lambda: resolve_world(config, world, now),
        retention_days=retention_days,
        dry_run=dry_run,
    )
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"cutoff {report.cutoff}: {verb} {report.rows_removed} rows "
        f"({len(report.days_removed)} whole days); kept {report.rows_kept_for_holds} rows under "
        f"hold in {len(report.days_kept_for_holds)} days",
        highlight=False,
    )
