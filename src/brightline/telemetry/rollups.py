"""Daily rollups: the stored rows summed per subscription, service, operation, region,
unit and UTC day, kept beside the raw rows and always derived from them.

Layout, under the telemetry directory::

    _rollups/day=2025-10-01/<content hash>.parquet   one file per day with rows, ROLLUP_SCHEMA
    _rollups/_pending.json                           days being rewritten (see below)

A day's rollup holds, per key, ``quantity`` (the sum) and ``rows`` (the raw rows summed:
metered hours for hourly rows, one per daily row), and ``epoch_day`` (days since
1970-01-01). Its file is named by a hash of its content, so that a reader tells which days
changed since it last looked from the names alone (:func:`fingerprints`).

**Consistency.** Every writer of raw rows (ingest, re-delivery, retention) rewrites the
rollups of the days it touched in the same hold of the dataset, before the step that makes
its change count (the manifest entry, for an ingest). Before touching anything it records
those days in ``_pending.json``; the marker goes once rollups and raw rows agree again. A
writer killed in between leaves the marker, and the next writer
(:meth:`~brightline.telemetry.TelemetryDataset.writing`) first recomputes those days from
the raw rows. Readers take rollups only when they :func:`cover` the raw days and no marker
is pending; otherwise they read raw rows. ``telemetry rollup --rebuild`` recomputes every
day; ``--check`` compares every day with its raw rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from brightline import files
from brightline.errors import StorageError
from brightline.telemetry.schema import (
    DAY,
    OPERATION,
    QUANTITY,
    REGION,
    SERVICE,
    SUBSCRIPTION,
    UNIT,
)

if TYPE_CHECKING:
    import duckdb

    from brightline.telemetry.dataset import TelemetryDataset

ROLLUP_DIR: Final = "_rollups"
PENDING: Final = "_pending.json"
EPOCH_DAY: Final = "epoch_day"
ROWS: Final = "rows"
#: The keys of a rollup row, after its day.
KEYS: Final = (SUBSCRIPTION, SERVICE, OPERATION, REGION, UNIT)
ROLLUP_SCHEMA: Final = pa.schema(
    [
        pa.field(EPOCH_DAY, pa.int64(), nullable=False),
        *(pa.field(key, pa.string(), nullable=False) for key in KEYS),
        pa.field(QUANTITY, pa.float64(), nullable=False),
        pa.field(ROWS, pa.int64(), nullable=False),
    ]
)
#: Relative difference of a stored sum from a recomputed one that ``--check`` accepts
#: (sums of the same floats in another order).
_TOLERANCE: Final = 1e-9
_EPOCH: Final = date(1970, 1, 1)
#: Rows per Parquet row group of a day's rollup. A rollup is sorted by subscription, so each
#: group's min/max statistics let a reader of a few subscriptions skip the others' groups.
ROW_GROUP: Final = 2048


def epoch_day(day: str) -> int:
    """Days since 1970-01-01 of a ``YYYY-MM-DD`` day."""
    return (date.fromisoformat(day) - _EPOCH).days


def day_name(number: int) -> str:
    return date.fromordinal(_EPOCH.toordinal() + number).isoformat()


def rollup_root(telemetry_root: Path) -> Path:
    return telemetry_root / ROLLUP_DIR


def raw_days(telemetry_root: Path) -> dict[str, list[Path]]:
    """The raw rows' files, by day."""
    if not telemetry_root.is_dir():
        return {}
    out: dict[str, list[Path]] = {}
    for partition in sorted(telemetry_root.glob(f"{DAY}=*")):
        found = sorted(partition.glob("*.parquet"))
        if partition.is_dir() and found:
            out[partition.name.removeprefix(f"{DAY}=")] = found
    return out


def fingerprints(telemetry_root: Path) -> dict[str, str]:
    """Each rolled-up day's file name (a hash of its content), by day."""
    root = rollup_root(telemetry_root)
    if not root.is_dir():
        return {}
    out: dict[str, str] = {}
    for partition in sorted(root.glob(f"{DAY}=*")):
        found = sorted(partition.glob("*.parquet"))
        if found:
            out[partition.name.removeprefix(f"{DAY}=")] = found[-1].name
    return out


def rollup_files(telemetry_root: Path) -> dict[str, Path]:
    root = rollup_root(telemetry_root)
    return {day: root / f"{DAY}={day}" / name for day, name in fingerprints(telemetry_root).items()}


def pending(telemetry_root: Path) -> list[str]:
    """Days a writer was rewriting when it stopped (empty when none)."""
    path = rollup_root(telemetry_root) / PENDING
    try:
        days = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return ["*"]  # unreadable: treat every day as pending
    return sorted(str(d) for d in days) if isinstance(days, list) else ["*"]


def cover(telemetry_root: Path) -> bool:
    """Whether the rollups stand for the raw rows: a rollup for exactly the days with raw
    rows, and no writer's change pending."""
    if pending(telemetry_root):
        return False
    return set(fingerprints(telemetry_root)) == set(raw_days(telemetry_root))


def compute(day: str, raw: Iterable[Path]) -> pa.Table:
    """The rollup of one day from its raw files (ROLLUP_SCHEMA, sorted by key)."""
    paths = list(raw)
    if not paths:
        return ROLLUP_SCHEMA.empty_table()
    # File by file and by name: files written before the ``hours`` column, or with
    # dictionary-encoded text, all read back as the same columns.
    tables = [
        pq.read_table(p, columns=[*KEYS, QUANTITY], partitioning=None).cast(
            pa.schema([*(pa.field(k, pa.string()) for k in KEYS), pa.field(QUANTITY, pa.float64())])
        )
        for p in paths
    ]
    table = pa.concat_tables(tables)
    grouped = table.group_by(list(KEYS), use_threads=False).aggregate(
        [(QUANTITY, "sum"), (QUANTITY, "count")]
    )
    grouped = grouped.sort_by([(k, "ascending") for k in KEYS])
    return pa.table(
        [
            pa.repeat(pa.scalar(epoch_day(day), pa.int64()), grouped.num_rows),
            *(grouped.column(k) for k in KEYS),
            grouped.column(f"{QUANTITY}_sum"),
            pc.cast(grouped.column(f"{QUANTITY}_count"), pa.int64()),
        ],
        schema=ROLLUP_SCHEMA,
    )


def _encoded(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, store_schema=False, compression="zstd", row_group_size=ROW_GROUP)
    return sink.getvalue()


_duckdb_lock = threading.Lock()
_duckdb: dict[str, duckdb.DuckDBPyConnection] = {}  # the process's DuckDB, once opened


def _cursor() -> duckdb.DuckDBPyConnection:
    """A cursor (for one thread) on the process's in-memory DuckDB: opening a database
    costs more than a case's read itself."""
    import duckdb

    with _duckdb_lock:
        if "memory" not in _duckdb:
            _duckdb["memory"] = duckdb.connect(":memory:")
        return _duckdb["memory"].cursor()


def read_summed(paths: Sequence[Path], subscriptions: Sequence[str]) -> pa.Table:
    """The rollup rows of ``subscriptions`` in the day files ``paths``, summed per key
    over those days: KEYS, ``quantity`` (float64) and ``rows`` (int64).

    One DuckDB query over every file, the subscription filter pushed into the scan (it
    skips the row groups of other subscriptions, see ROW_GROUP): far quicker than opening
    thirty files one by one. StorageError when a file cannot be read."""
    import duckdb

    if not paths or not subscriptions:
        return _SUMMED.empty_table()
    keys = ", ".join(KEYS)
    query = (
        f"SELECT {keys}, sum({QUANTITY})::DOUBLE AS {QUANTITY}, sum({ROWS})::BIGINT AS {ROWS} "
        f"FROM read_parquet($files) WHERE {SUBSCRIPTION} IN (SELECT unnest($subs)) "
        f"GROUP BY {keys}"
    )
    try:
        with _cursor() as cursor:
            table = cursor.sql(
                query, params={"files": [str(p) for p in paths], "subs": list(subscriptions)}
            ).to_arrow_table()
    except duckdb.Error as exc:
        raise StorageError(Path(paths[0]).parent.parent, str(exc), verb="read") from exc
    return table.cast(_SUMMED)


_SUMMED: Final = pa.schema(
    [
        *(pa.field(key, pa.string()) for key in KEYS),
        pa.field(QUANTITY, pa.float64()),
        pa.field(ROWS, pa.int64()),
    ]
)


def write_day(telemetry_root: Path, day: str, table: pa.Table) -> Path | None:
    """Replace a day's rollup with ``table`` (none when it is empty), on disk when this
    returns; StorageError when it cannot be written (the day's old file is then kept)."""
    partition = rollup_root(telemetry_root) / f"{DAY}={day}"
    old = sorted(partition.glob("*.parquet")) if partition.is_dir() else []
    target: Path | None = None
    if table.num_rows:
        data = _encoded(table)
        target = partition / f"{hashlib.sha256(data).hexdigest()[:20]}.parquet"
        if target not in old:
            files.write_file(target, data)
    try:
        for file in old:
            if file != target:
                file.unlink()
        if target is None and partition.is_dir() and not any(partition.iterdir()):
            partition.rmdir()
    except OSError as exc:
        raise files.storage_error(partition, exc) from exc
    return target


def refresh(telemetry_root: Path, days: Iterable[str]) -> None:
    """Recompute the rollups of ``days`` from the raw rows (StorageError on failure)."""
    raw = raw_days(telemetry_root)
    for day in sorted(set(days)):
        write_day(telemetry_root, day, compute(day, raw.get(day, [])))


def settle(telemetry_root: Path, days: Iterable[str]) -> None:
    """After a failed change: recompute ``days`` from whatever raw rows it left and clear
    the marker. Never fails: if this cannot be done, the marker stays for the next writer."""
    with contextlib.suppress(StorageError, OSError):
        refresh(telemetry_root, days)
        clear(telemetry_root)


def mark(telemetry_root: Path, days: Iterable[str]) -> None:
    already = [d for d in pending(telemetry_root) if d != "*"]
    path = rollup_root(telemetry_root) / PENDING
    files.write_file(path, json.dumps(sorted({*already, *days})))


def clear(telemetry_root: Path) -> None:
    """Remove the pending marker (rollups and raw rows agree). StorageError on failure."""
    path = rollup_root(telemetry_root) / PENDING
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise files.storage_error(path, exc) from exc


def recover(telemetry_root: Path) -> None:
    """Recompute the days a killed writer left pending (every day when the marker is
    unreadable). For a writer holding the dataset."""
    days = pending(telemetry_root)
    if not days:
        return
    if "*" in days:
        rebuild(telemetry_root)
        return
    refresh(telemetry_root, days)
    clear(telemetry_root)


@dataclass(frozen=True, slots=True)
class RollupReport:
    days: int
    rows: int
    rewritten: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    #: Days whose rollup differs from their raw rows (``--check``), with why.
    mismatched: tuple[tuple[str, str], ...] = ()


def rebuild(telemetry_root: Path) -> RollupReport:
    """Recompute every day's rollup from the raw rows; remove rollups of days without any.
    For a writer holding the dataset."""
    raw = raw_days(telemetry_root)
    before = fingerprints(telemetry_root)
    mark(telemetry_root, sorted({*raw, *before}))
    rows = 0
    rewritten: list[str] = []
    for day, paths in raw.items():
        table = compute(day, paths)
        rows += table.num_rows
        target = write_day(telemetry_root, day, table)
        if target is None or before.get(day) != target.name:
            rewritten.append(day)
    removed = sorted(set(before) - set(raw))
    for day in removed:
        write_day(telemetry_root, day, ROLLUP_SCHEMA.empty_table())
    clear(telemetry_root)
    return RollupReport(
        days=len(raw), rows=rows, rewritten=tuple(rewritten), removed=tuple(removed)
    )


def check(telemetry_root: Path) -> RollupReport:
    """Compare every day's stored rollup with one recomputed from its raw rows (read-only)."""
    raw = raw_days(telemetry_root)
    stored = rollup_files(telemetry_root)
    mismatched: list[tuple[str, str]] = []
    rows = 0
    if pending(telemetry_root):
        mismatched.append(
            ("*", f"a writer's change is pending: {', '.join(pending(telemetry_root))}")
        )
    for day in sorted({*raw, *stored}):
        if day not in stored:
            mismatched.append((day, "raw rows without a rollup"))
            continue
        if day not in raw:
            mismatched.append((day, "a rollup without raw rows"))
            continue
        want = compute(day, raw[day])
        rows += want.num_rows
        have = pq.read_table(stored[day], partitioning=None)
        why = _difference(want, have)
        if why:
            mismatched.append((day, why))
    return RollupReport(days=len(raw), rows=rows, mismatched=tuple(mismatched))


def _difference(want: pa.Table, have: pa.Table) -> str | None:
    if have.schema.names != ROLLUP_SCHEMA.names:
        return f"columns {have.schema.names}, not {ROLLUP_SCHEMA.names}"
    if want.num_rows != have.num_rows:
        return f"{have.num_rows} keys, raw rows give {want.num_rows}"
    have = have.sort_by([(k, "ascending") for k in KEYS])
    for column in (EPOCH_DAY, *KEYS, ROWS):
        if not want.column(column).equals(have.column(column).cast(want.schema.field(column).type)):
            return f"{column} differs"
    for a, b in zip(
        want.column(QUANTITY).to_pylist(), have.column(QUANTITY).to_pylist(), strict=True
    ):
        if not math.isclose(a, b, rel_tol=_TOLERANCE, abs_tol=1e-12):
            return f"quantity {b!r}, raw rows give {a!r}"
    return None


def rebuild_rollups(dataset: TelemetryDataset) -> RollupReport:
    """``telemetry rollup --rebuild``: every day's rollup recomputed, holding the dataset."""
    with dataset.writing():
        return rebuild(dataset.root)


def check_rollups(dataset: TelemetryDataset) -> RollupReport:
    """``telemetry rollup --check``: every day's rollup compared with its raw rows."""
    return check(dataset.root)


def rollups_cover(dataset: TelemetryDataset) -> bool:
    return cover(dataset.root)
