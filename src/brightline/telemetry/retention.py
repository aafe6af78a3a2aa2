"""Retention: removing metering rows older than the retention period, except under holds.

A hold (set by a case, see the cases issue) keeps every row of the held node's subtree,
however old. Holds come from a :class:`HoldSource`; :class:`HoldsFile` reads the simple
file format below, which the cases service can write until it offers its own source::

    {"node": "unit-8200", "until": "2027-01-01T00:00:00Z", "reason": "case C-17"}

one JSON object per line; ``until`` is optional (held until removed).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from brightline import files
from brightline.errors import InvalidInputError, Problem
from brightline.telemetry import rollups
from brightline.telemetry.dataset import TelemetryDataset, iter_days
from brightline.telemetry.schema import HOURS, SUBSCRIPTION
from brightline.world import Directory

DEFAULT_RETENTION_DAYS: Final = 400


class HoldSource(Protocol):
    def held_nodes(self, now: datetime) -> set[str]:
        """Ids of the nodes under a hold at ``now``; each keeps its whole subtree."""
        ...


@dataclass(frozen=True, slots=True)
class StaticHolds:
    nodes: frozenset[str] = frozenset()

    def held_nodes(self, now: datetime) -> set[str]:
        return set(self.nodes)


@dataclass(frozen=True, slots=True)
class HoldsFile:
    """Holds from a JSON Lines file; a missing file holds nothing."""

    path: Path

    def held_nodes(self, now: datetime) -> set[str]:
        if not self.path.is_file():
            return set()
        held: set[str] = set()
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{self.path}:{number}"
            try:
                item = json.loads(line)
                node = item["node"]
                until = item.get("until")
                ends = None if until is None else datetime.fromisoformat(until).astimezone(UTC)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise InvalidInputError(Problem(where, f"bad hold: {exc}")) from exc
            if not isinstance(node, str):
                raise InvalidInputError(Problem(where, "bad hold: node must be a string"))
            if ends is None or now < ends:
                held.add(node)
        return held


@dataclass(frozen=True, slots=True)
class PruneReport:
    cutoff: str
    days_removed: tuple[str, ...]
    days_kept_for_holds: tuple[str, ...]
    rows_removed: int
    rows_kept_for_holds: int


def held_subscriptions(directory: Directory, held: Iterable[str]) -> set[str]:
    """Every node under a held node. An unknown held node is an error, not a no-op."""
    out: set[str] = set()
    for node in held:
        if node not in directory:
            raise InvalidInputError(Problem("holds", f"unknown node {node!r} under hold"))
        out.update(directory.subtree(node))
    return out


def prune(
    dataset: TelemetryDataset,
    *,
    now: datetime,
    holds: HoldSource,
    directory: Directory | None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    dry_run: bool = False,
) -> PruneReport:
    """Remove rows of days entirely before ``now - retention_days`` (UTC), keeping the rows
    of subscriptions under a hold, and recompute those days' rollups. ``directory`` is
    needed when there are holds. A prune stopped by an error leaves the days pending: the
    next writer recomputes their rollups from the rows left."""
    if retention_days < 1:
        raise InvalidInputError(Problem("retention", "retention must be at least one day"))
    cutoff = (now.astimezone(UTC) - timedelta(days=retention_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    held_nodes = holds.held_nodes(now)
    if held_nodes and directory is None:
        raise InvalidInputError("holds are set: the world is needed to expand them")
    keep = pa.array(
        sorted(held_subscriptions(directory, held_nodes)) if directory else [], pa.string()
    )
    removed_days: list[str] = []
    kept_days: list[str] = []
    rows_removed = rows_kept = 0
    with contextlib.nullcontext() if dry_run else dataset.writing():
        old_days = list(iter_days(dataset, before=cutoff))
        touched = [day for day, _ in old_days]
        if not dry_run:
            # The rollups of the days pruned follow them (see ``rollups``).
            rollups.mark(dataset.root, touched)
        for day, partition in old_days:
            day_files = sorted(partition.glob("*.parquet"))
            table = pq.read_table(day_files, columns=[SUBSCRIPTION]) if day_files else None
            total = table.num_rows if table is not None else 0
            held_mask = pc.is_in(table.column(SUBSCRIPTION), keep) if table is not None else None
            held_rows = int(pc.sum(held_mask).as_py() or 0) if held_mask is not None else 0
            rows_removed += total - held_rows
            rows_kept += held_rows
            if held_rows:
                kept_days.append(day)
                if not dry_run and held_rows < total:
                    _rewrite_held(partition, day_files, keep)
            else:
                removed_days.append(day)
                if not dry_run:
                    _remove_day(partition, day_files)
        if not dry_run and touched:
            rollups.refresh(dataset.root, touched)
            rollups.clear(dataset.root)
    return PruneReport(
        cutoff=cutoff.strftime("%Y-%m-%d"),
        days_removed=tuple(removed_days),
        days_kept_for_holds=tuple(kept_days),
        rows_removed=rows_removed,
        rows_kept_for_holds=rows_kept,
    )


def _remove_day(partition: Path, day_files: list[Path]) -> None:
    try:
        for file in day_files:
            file.unlink()
        partition.rmdir()
    except OSError as exc:
        raise files.storage_error(partition, exc) from exc


def _with_hours(table: pa.Table) -> pa.Table:
    if HOURS in table.schema.names:
        return table
    return table.append_column(HOURS, pa.repeat(pa.scalar(1, pa.int8()), table.num_rows))


def _rewrite_held(partition: Path, day_files: list[Path], keep: pa.Array) -> None:
    """Replace a day's files by one holding only the held rows.

    The new file is written whole and in place before the old ones go: a crash in
    between leaves held rows twice, never held rows lost.
    """
    # File by file: files stored before the ``hours`` column lack it (an hourly row each).
    table = pa.concat_tables(
        [_with_hours(pq.read_table(f, partitioning=None)) for f in day_files],
        promote_options="default",
    )
    held = table.filter(pc.is_in(table.column(SUBSCRIPTION), keep))
    target = partition / "held-0.parquet"
    with files.writing(target) as out:
        pq.write_table(held, out)
    try:
        for file in day_files:
            if file != target:
                file.unlink()
    except OSError as exc:
        raise files.storage_error(partition, exc) from exc
