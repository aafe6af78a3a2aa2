"""Deciding a file of requests (CSV or Parquet) in batches, writing the rows back with decisions.

Input columns: ``node, service, operation, region`` and optionally ``time`` (RFC 3339
with a zone; empty = the ``at`` given, by default now). Other columns pass through.
Output: the same rows plus ``decision`` (allow/deny/error), ``restrictions`` and
``would_deny`` (ids joined by ``;``) and ``error``. Memory stays bounded by the batch size.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from brightline import files
from brightline.errors import InvalidInputError, Problem, StorageError
from brightline.policy import BatchEffect, BatchError, Snapshot, to_micros

REQUIRED: Final = ("node", "service", "operation", "region")
OUTPUT: Final = ("decision", "restrictions", "would_deny", "error")
_BATCH_BYTES: Final = 8 << 20
_I64_MIN: Final = int(np.iinfo(np.int64).min)


@dataclass(slots=True)
class FileSummary:
    rows: int = 0
    by_decision: dict[str, int] = field(default_factory=lambda: {"allow": 0, "deny": 0, "error": 0})


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InvalidInputError(Problem(str(path), "expected a .csv or .parquet file"))


def read_batches(path: Path) -> tuple[int, Iterator[pa.RecordBatch]]:
    """The file's size in bytes (or rows, for Parquet) and an iterator of batches."""
    if not path.is_file():
        raise InvalidInputError(Problem(str(path), "file not found"))
    if file_format(path) == "csv":
        return path.stat().st_size, _csv_batches(path)
    parquet = pq.ParquetFile(path)
    _check_columns(path, parquet.schema_arrow.names)
    return parquet.metadata.num_rows, parquet.iter_batches(batch_size=262_144)


def _csv_batches(path: Path) -> Iterator[pa.RecordBatch]:
    try:
        with path.open("rb") as handle:
            header = handle.readline().decode("utf-8").strip().split(",")
        names = [h.strip() for h in header]
        _check_columns(path, names)
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_BATCH_BYTES),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
        yield from reader
    except pa.ArrowInvalid as exc:
        raise InvalidInputError(Problem(str(path), f"malformed CSV: {exc}")) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(Problem(str(path), "not UTF-8 text")) from exc


def _check_columns(path: Path, names: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InvalidInputError(
            Problem(
                str(path), f"missing column(s): {', '.join(missing)} (need {','.join(REQUIRED)})"
            )
        )
    clash = [c for c in OUTPUT if c in names]
    if clash:
        raise InvalidInputError(
            Problem(str(path), f"column(s) {', '.join(clash)} would be overwritten by the output")
        )


def decide_file(
    snapshot: Snapshot,
    source: Path,
    out: Path,
    *,
    at: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> FileSummary:
    """Decide every row of ``source`` into ``out``; ``progress(done, total)`` reports bytes or rows.

    The output is written whole (:mod:`brightline.files`): a failed run leaves no partial
    output, and one that cannot write it raises StorageError.
    """
    out_format = file_format(out)
    total, batches = read_batches(source)
    summary = FileSummary()
    writer: Any = None
    done = 0
    with files.writing(out) as handle:
        try:
            for batch in batches:
                decided = decide_record_batch(snapshot, batch, at=at)
                if writer is None:
                    writer = _writer(out_format, handle, decided.schema)
                writer.write_batch(decided)
                summary.rows += decided.num_rows
                for name, count in zip(
                    *np.unique(
                        decided.column("decision").to_numpy(zero_copy_only=False),
                        return_counts=True,
                    ),
                    strict=True,
                ):
                    summary.by_decision[str(name)] += int(count)
                done = (
                    done + batch.nbytes if file_format(source) == "csv" else done + batch.num_rows
                )
                if progress is not None:
                    progress(min(done, total), total)
            if writer is None:  # an empty input still gets its header
                schema = pa.schema([(c, pa.string()) for c in (*REQUIRED, "time", *OUTPUT)])
                writer = _writer(out_format, handle, schema)
        except BaseException:
            if writer is not None:  # the output is dropped: its footer does not matter
                with contextlib.suppress(OSError, StorageError, pa.ArrowException):
                    writer.close()
            raise
        writer.close()
    return summary


def _writer(out_format: str, handle: io.BufferedWriter, schema: pa.Schema) -> Any:
    if out_format == "csv":
        return pacsv.CSVWriter(handle, schema)
    return pq.ParquetWriter(handle, schema)


def decide_record_batch(
    snapshot: Snapshot, batch: pa.RecordBatch, *, at: datetime
) -> pa.RecordBatch:
    """Decide one batch and return it with the output columns appended."""
    columns: dict[str, Any] = {name: batch.column(name) for name in REQUIRED}
    bad_times: dict[int, str] = {}
    if "time" in batch.schema.names:
        columns["time"], bad_times = parse_times(batch.column("time"), at)
    result = snapshot.decide_batch(columns, at=at)
    table = result.to_arrow()
    if bad_times:
        errors = table.column("error").to_pylist()
        for row, message in bad_times.items():
            if result.error[row] == BatchError.TIME:
                errors[row] = message
        table = table.set_column(3, "error", pa.array(errors, pa.string()))
    arrays = [*batch.columns, *table.columns]
    names = [*batch.schema.names, *table.column_names]
    return pa.RecordBatch.from_arrays(
        [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays], names=names
    )


def parse_times(column: pa.Array, at: datetime) -> tuple[pa.Array, dict[int, str]]:
    """Times as int64 µs; nulls take ``at``; unparseable rows get a sentinel and a message."""
    default = to_micros(at)
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            raise InvalidInputError(Problem("time", "timestamps must be timezone-aware (UTC)"))
        return column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).fill_null(default), {}
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    try:
        parsed = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        return parsed.fill_null(default), {}
    except pa.ArrowInvalid:
        pass
    values: list[int] = []
    bad: dict[int, str] = {}
    for row, text in enumerate(column.to_pylist()):
        if text is None:
            values.append(default)
            continue
        try:
            moment = datetime.fromisoformat(text.strip())
            if moment.tzinfo is None:
                raise ValueError
            values.append(to_micros(moment))
        except ValueError:
            values.append(_I64_MIN)
            bad[row] = f"invalid time {text!r} (RFC 3339 with a zone, e.g. 2025-10-01T12:00:00Z)"
    return pa.array(values, pa.int64()), bad


def effect_name(code: int) -> str:
    return BatchEffect(code).name.lower()
