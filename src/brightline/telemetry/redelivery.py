"""Re-deliveries: a later file covering the same charge periods replaces the earlier rows.

Providers deliver usage again: a FOCUS export is rewritten month to date every day, a
metering pipeline re-sends an hour it corrected. Counting both would double the usage.
So an ingest **replaces**, in the dataset, every earlier row of the same subscription
whose period overlaps a period the new file has rows for, subscription by subscription:
a row covers the hours ``[ts, ts + hours)``, an hour or a UTC day.

Files ingested together (one ``telemetry ingest`` of the parts of one export) are one
delivery and never replace each other's rows. Re-ingesting an identical file is skipped
before this (by its SHA-256).

The plan is made from the staged rows before anything moves; :class:`Replacement` then
swaps each affected file for its rewritten version (or removes it when no row is left),
keeping the original aside so that a failed ingest puts every file back.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from brightline import files
from brightline.telemetry.schema import DAY, HOURS, SUBSCRIPTION, TS
from brightline.telemetry.values import DAY_US, HOUR_US

_FULL_DAY = (1 << 24) - 1


def ingest_of(file: Path) -> str:
    """The ingest a stored file belongs to (its name up to the first ``-``)."""
    return file.name.split("-", 1)[0]


@dataclass(frozen=True, slots=True)
class Swap:
    """One stored file of an earlier ingest: ``removed`` of its ``rows`` are replaced;
    ``rewritten`` holds the rest (None when none is left)."""

    target: Path
    rewritten: Path | None
    ingest_id: str
    day: str
    rows: int
    removed: int


@dataclass(slots=True)
class Replacement:
    """The swaps of one ingest, applied all together or undone."""

    swaps: list[Swap]
    aside: Path
    work: Path
    _done: list[tuple[Swap, Path]] = field(default_factory=list)

    def removed_by_ingest(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for swap in self.swaps:
            out[swap.ingest_id] = out.get(swap.ingest_id, 0) + swap.removed
        return dict(sorted(out.items()))

    def days(self) -> list[str]:
        return sorted({swap.day for swap in self.swaps})

    def apply(self) -> None:
        """Swap every file; StorageError (after undoing what moved) when one cannot be."""
        touched: list[Path] = []
        for swap in self.swaps:
            kept = self.aside / swap.day / swap.target.name
            try:
                kept.parent.mkdir(parents=True, exist_ok=True)
                swap.target.replace(kept)
                self._done.append((swap, kept))
                if swap.rewritten is not None:
                    swap.rewritten.replace(swap.target)
                    touched.append(swap.target)
            except OSError as exc:
                self.undo()
                raise files.storage_error(swap.target, exc) from exc
        files.force_to_disk(touched)

    def undo(self) -> None:
        """Put every swapped file back. Never fails: clean-up must not hide a cause."""
        for swap, kept in reversed(self._done):
            with contextlib.suppress(OSError):
                swap.target.parent.mkdir(parents=True, exist_ok=True)
                kept.replace(swap.target)
        self._done.clear()

    def discard(self) -> None:
        """Remove the originals set aside and unused rewritten files. Never fails."""
        shutil.rmtree(self.aside, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)
        with contextlib.suppress(OSError):
            if self.aside.parent.is_dir() and not any(self.aside.parent.iterdir()):
                self.aside.parent.rmdir()
        for swap in self.swaps:
            if swap.rewritten is None:
                with contextlib.suppress(OSError):
                    if swap.target.parent.is_dir() and not any(swap.target.parent.iterdir()):
                        swap.target.parent.rmdir()


def plan(
    *,
    staged: Path,
    root: Path,
    work: Path,
    aside: Path,
    same_delivery: Iterable[str],
) -> Replacement:
    """What publishing ``staged`` (an ingest's ``day=…`` directories) replaces under
    ``root``; rewritten files are written under ``work``. Files of ``same_delivery``
    ingests are left alone."""
    spared = set(same_delivery)
    swaps: list[Swap] = []
    if not staged.is_dir():
        return Replacement(swaps, aside, work)
    for day_dir in sorted(staged.iterdir()):
        if not day_dir.name.startswith(f"{DAY}="):
            continue
        target_dir = root / day_dir.name
        earlier = [
            f
            for f in sorted(target_dir.glob("*.parquet"))
            if target_dir.is_dir() and ingest_of(f) not in spared
        ]
        if not earlier:
            continue
        covered = _covered(sorted(day_dir.glob("*.parquet")))
        if not covered:
            continue
        subs = pa.array(list(covered), pa.string())
        masks = pa.array(list(covered.values()), pa.int64())
        for file in earlier:
            replaced = _replaced(file, subs, masks)
            removed = int(pc.sum(replaced).as_py() or 0)
            if not removed:
                continue
            rows = len(replaced)
            rewritten = None
            if removed < rows:
                rewritten = work / day_dir.name / file.name
                rewritten.parent.mkdir(parents=True, exist_ok=True)
                table = pq.read_table(file, partitioning=None).filter(pc.invert(replaced))
                try:
                    with files.writing(rewritten) as out:
                        pq.write_table(table, out, store_schema=False)
                except OSError as exc:
                    raise files.storage_error(rewritten, exc) from exc
            swaps.append(
                Swap(
                    target=file,
                    rewritten=rewritten,
                    ingest_id=ingest_of(file),
                    day=day_dir.name,
                    rows=rows,
                    removed=removed,
                )
            )
    return Replacement(swaps, aside, work)


def _masks(ts: pa.Array, hours: pa.Array) -> pa.Array:
    """Each row's hours of its UTC day as a 24-bit mask."""
    micros = pc.cast(ts, pa.int64())
    start = pc.divide(pc.subtract(micros, pc.multiply(pc.divide(micros, DAY_US), DAY_US)), HOUR_US)
    width = pc.subtract(pc.shift_left(pa.scalar(1, pa.int64()), pc.cast(hours, pa.int64())), 1)
    return pc.bit_wise_and(pc.shift_left(width, start), _FULL_DAY)


def _columns(file: Path) -> tuple[pa.Array, pa.Array, pa.Array]:
    names = pq.ParquetFile(file).schema_arrow.names
    wanted = [SUBSCRIPTION, TS, *([HOURS] if HOURS in names else [])]
    table = pq.read_table(file, columns=wanted, partitioning=None)
    hours = (
        table.column(HOURS).combine_chunks()
        if HOURS in names
        else pa.repeat(pa.scalar(1, pa.int8()), table.num_rows)
    )
    sub = pc.cast(table.column(SUBSCRIPTION).combine_chunks(), pa.string())
    return sub, table.column(TS).combine_chunks(), hours


def _covered(staged: list[Path]) -> dict[str, int]:
    """Hours of the day each subscription has rows for in the new ingest, as masks."""
    covered: dict[str, int] = {}
    for file in staged:
        sub, ts, hours = _columns(file)
        distinct = pa.table({"sub": sub, "mask": _masks(ts, hours)}).group_by(["sub", "mask"])
        for row in distinct.aggregate([]).to_pylist():
            covered[row["sub"]] = covered.get(row["sub"], 0) | int(row["mask"])
    return covered


def _replaced(file: Path, subs: pa.Array, masks: pa.Array) -> pa.Array:
    sub, ts, hours = _columns(file)
    new = pc.fill_null(pc.take(masks, pc.index_in(sub, value_set=subs)), 0)
    return pc.not_equal(pc.bit_wise_and(_masks(ts, hours), new), 0)
