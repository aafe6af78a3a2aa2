"""``brightline telemetry``: ingest metering files (CSV, JSON Lines, Parquet, FOCUS), prune."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from brightline.cli.app import app, command, console, settings
from brightline.errors import InvalidInputError, Problem
from brightline.service.telemetry import (
    ingest_files,
    prune_telemetry,
    resolve_world,
    rollup_telemetry,
)
from brightline.telemetry import DEFAULT_RETENTION_DAYS, IngestReport

telemetry_app = typer.Typer(
    help="Metering telemetry: ingest, daily rollups and retention.", no_args_is_help=True
)
app.add_typer(telemetry_app, name="telemetry")

WorldOption = Annotated[
    Path | None, typer.Option("--world", help="World directory; default: the store.")
]


@command(telemetry_app, name="ingest")
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(help="CSV (or .csv.gz), JSON Lines or Parquet files: one delivery."),
    ],
    world: WorldOption = None,
    service_map: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="Service map for FOCUS exports: aws, azure, gcp, or a YAML file.",
        ),
    ] = None,
) -> None:
    """Validate and store metering rows; bad rows are quarantined with their reason.

    The files of one command are one delivery: each replaces the rows that earlier
    deliveries stored for the subscriptions and periods it covers."""
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

        reports = ingest_files(
            config, files, world=loaded, now=now, service_map=service_map, progress=step
        )
    for report in reports:
        if report.duplicate:
            console.print(
                f"{report.file}: already ingested (sha256 {report.sha256[:16]}…): skipped, "
                "its usage is not counted twice",
                highlight=False,
            )
            continue
        _print_report(report)


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


@command(telemetry_app, name="rollup")
def rollup(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute every day's rollup from the raw rows.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Compare every day's rollup with its raw rows.")
    ] = False,
) -> None:
    """The daily rollups (per subscription, service, operation, region, unit and day) that
    ingest keeps beside the raw rows: rebuild them, or check them."""
    if rebuild == check:
        raise InvalidInputError(Problem("rollup", "give one of --rebuild or --check"))
    report = rollup_telemetry(settings(), rebuild=rebuild)
    if rebuild:
        _say(
            f"rebuilt {report.days} days ({report.rows} rollup rows): "
            f"{len(report.rewritten)} rewritten, {len(report.removed)} removed"
        )
        return
    for day, why in report.mismatched:
        _say(f"  {day}: {why}")
    if report.mismatched:
        raise InvalidInputError(
            Problem(
                "rollups",
                f"{len(report.mismatched)} day(s) differ from the raw rows: "
                "run `brightline telemetry rollup --rebuild`",
            )
        )
    _say(f"rollups match the raw rows: {report.days} days, {report.rows} rollup rows")


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False)


def _print_report(report: IngestReport) -> None:
    say = _say
    say(
        f"{report.file}: {report.rows} rows, {report.accepted} stored, "
        f"{report.skipped_rows} skipped, {report.quarantined_rows} quarantined"
    )
    if report.dropped_columns:
        say(f"  columns dropped unread: {', '.join(report.dropped_columns)}")
    if report.absent_map_columns:
        say(f"  map columns not in the file: {', '.join(report.absent_map_columns)}")
    for kind, count in report.skipped.items():
        say(f"  skipped {kind}: {count}")
    for reason, count in report.quarantined.items():
        say(f"  {reason}: {count}")
    for name, count in report.unmapped.items():
        say(f"    unmapped {name}: {count}")
    if report.replaced:
        days = report.replaced_days
        span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
        say(f"  replaced {report.replaced_rows} rows of earlier deliveries ({span}):")
        for replaced in report.replaced:
            say(f"    {replaced.file} ({replaced.ingest_id}): {replaced.rows} rows")
    if report.quarantine_file:
        say(f"  quarantine: {report.quarantine_file}")
