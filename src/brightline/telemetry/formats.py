"""Reading metering files in batches: CSV (plain or gzip), JSON Lines, Parquet, and FOCUS
exports.

:func:`read_metering` checks a file's columns before any row is read, then yields batches
with the metering columns (types as found in the file) plus ``hours``, ``_scale``,
``_reason`` and ``_field``, and how far through the file it is, so that memory stays
bounded and a progress bar can follow.

A Brightline metering file may hold only the metering columns (and ``hours``): any other
column refuses the whole file, naming the column. A FOCUS export is read through an
explicit allow-list instead (see :mod:`brightline.telemetry.focus`): its other columns
are dropped unread and reported.
"""

from __future__ import annotations

import enum
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from brightline.errors import InvalidInputError, Problem
from brightline.limits import MAX_JSON_LINE_BYTES, check_json
from brightline.telemetry import focus
from brightline.telemetry.csvfile import csv_header, read_csv
from brightline.telemetry.maps import ServiceMap
from brightline.telemetry.schema import (
    COLUMNS,
    HOURS,
    OPTIONAL_COLUMNS,
    PRESET_FIELD,
    PRESET_REASON,
    QUANTITY,
    Reason,
)

BATCH_ROWS: Final = 262_144
SCALE: Final = focus.SCALE
FOCUS_MAPPING: Final = focus.FOCUS_MAPPING


class FileFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Rows as read, before validation; ``done`` of ``total`` (bytes or rows) read so far.

    ``read`` records were consumed from the file; those skipped (FOCUS charges that are
    not usage) are counted in ``skipped`` and are not in ``batch``. ``rows`` numbers the
    rows of ``batch`` in the file (1-based records after the header), ``lines`` gives the
    line each starts on when known (CSV read line by line).
    """

    batch: pa.RecordBatch
    done: int
    total: int
    rows: pa.Array
    read: int
    lines: pa.Array | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class MeteringFile:
    """A file whose columns were accepted: its batches, and for a FOCUS export the
    columns dropped unread and the map's columns the file lacks."""

    batches: Iterator[RawBatch]
    focus: bool = False
    dropped: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    field_names: dict[str, str] = field(default_factory=dict)


def file_format(path: Path) -> FileFormat:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] == ".gz":
        if len(suffixes) == 2 and suffixes[0] == ".csv":
            return FileFormat.CSV
        raise InvalidInputError(
            Problem(str(path), "unknown format: only CSV may be gzip-compressed (.csv.gz)")
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return FileFormat.CSV
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return FileFormat.JSONL
    if suffix in {".parquet", ".pq"}:
        return FileFormat.PARQUET
    raise InvalidInputError(
        Problem(str(path), "unknown format: expected .csv, .csv.gz, .jsonl or .parquet")
    )


def read_metering(
    path: Path, *, service_map: ServiceMap | None = None, batch_rows: int = BATCH_ROWS
) -> MeteringFile:
    """A metering or FOCUS file, its columns checked. Raises InvalidInputError before
    any row is read when they are refused (JSON Lines: as soon as a line shows one)."""
    kind = file_format(path)
    if kind is FileFormat.JSONL:
        if service_map is not None:
            raise InvalidInputError(Problem(str(path), "a service map applies to FOCUS exports"))
        return MeteringFile(_numbered(_read_jsonl(path, batch_rows)))
    header = csv_header(path) if kind is FileFormat.CSV else _parquet_names(path)
    if focus.is_focus(header):
        selected = focus.plan(path, header, service_map)
        raw = _read_columns(path, kind, header, list(selected.read), batch_rows)
        return MeteringFile(
            _focus_batches(raw, selected),
            focus=True,
            dropped=selected.dropped,
            absent=selected.absent,
            field_names=dict(FOCUS_MAPPING),
        )
    if service_map is not None:
        raise InvalidInputError(
            Problem(str(path), "a service map applies to FOCUS exports; this is a metering file")
        )
    _check_columns(path, header)
    wanted: list[str] = [c for c in (*COLUMNS, *OPTIONAL_COLUMNS) if c in header]
    raw = _read_columns(path, kind, header, wanted, batch_rows)
    return MeteringFile(_numbered(_metering(b, m, lines, d, t) for b, m, lines, d, t in raw))


_Raw = tuple[pa.RecordBatch, pa.Array | None, pa.Array | None, int, int]


def _read_columns(
    path: Path, kind: FileFormat, header: list[str], wanted: list[str], batch_rows: int
) -> Iterator[_Raw]:
    if kind is FileFormat.CSV:
        for b in read_csv(path, header, wanted, batch_rows):
            yield b.batch, b.malformed, b.lines, b.done, b.total
    else:
        for batch, done, total in _read_parquet(path, wanted, batch_rows):
            yield batch, None, None, done, total


def _parquet_names(path: Path) -> list[str]:
    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(Problem(str(path), f"not a readable Parquet file: {exc}")) from exc


def _check_columns(path: Path, header: list[str]) -> None:
    allowed = frozenset((*COLUMNS, *OPTIONAL_COLUMNS))
    problems = [
        Problem(
            str(path),
            f"column {name!r} is not in the metering schema: the whole file is refused "
            "(a column outside the schema could carry content)",
        )
        for name in header
        if name not in allowed
    ]
    problems += [
        Problem(str(path), f"required column {name!r} is missing: the whole file is refused")
        for name in COLUMNS
        if name not in header
    ]
    problems += [
        Problem(str(path), f"column {name!r} appears more than once: the whole file is refused")
        for name in sorted({n for n in header if header.count(n) > 1})
    ]
    if problems:
        raise InvalidInputError(problems)


def _metering(
    batch: pa.RecordBatch, malformed: pa.Array | None, lines: pa.Array | None, done: int, total: int
) -> RawBatch:
    rows = batch.num_rows
    hours = (
        batch.column(HOURS) if HOURS in batch.schema.names else pa.repeat(1, rows).cast(pa.int8())
    )
    reason = malformed if malformed is not None else pa.nulls(rows, pa.string())
    out = pa.RecordBatch.from_arrays(
        [
            *(batch.column(c) for c in COLUMNS),
            hours,
            pa.nulls(rows, pa.float64()),
            reason,
            pa.nulls(rows, pa.string()),
        ],
        names=[*COLUMNS, HOURS, SCALE, PRESET_REASON, PRESET_FIELD],
    )
    return RawBatch(out, done, total, rows=pa.array([], pa.int64()), read=rows, lines=lines)


def _numbered(batches: Iterator[RawBatch]) -> Iterator[RawBatch]:
    """Number each batch's rows, consecutively through the file."""
    seen = 0
    for raw in batches:
        rows = pa.array(range(seen + 1, seen + raw.read + 1), pa.int64())
        yield RawBatch(raw.batch, raw.done, raw.total, rows=rows, read=raw.read, lines=raw.lines)
        seen += raw.read


def _focus_batches(raw: Iterator[_Raw], selected: focus.FocusPlan) -> Iterator[RawBatch]:
    seen = 0
    for batch, malformed, lines, done, total in raw:
        read = batch.num_rows
        mapped = focus.to_metering(batch, malformed, selected)
        rows = pa.array(range(seen + 1, seen + read + 1), pa.int64())
        if mapped.kept is not None:
            rows = rows.take(mapped.kept)
            lines = lines.take(mapped.kept) if lines is not None else None
        seen += read
        yield RawBatch(
            mapped.batch,
            done,
            total,
            rows=rows,
            read=read,
            lines=lines,
            skipped=mapped.skipped,
            unmapped=mapped.unmapped,
        )


def _read_parquet(
    path: Path, wanted: list[str], batch_rows: int
) -> Iterator[tuple[pa.RecordBatch, int, int]]:
    # Text columns are read as dictionaries, as Parquet stores them: decoding every
    # string into a plain array cost more than all of the validation.
    schema = pq.ParquetFile(path).schema_arrow
    text = [
        name
        for name in wanted
        if pa.types.is_string(schema.field(name).type)
        or pa.types.is_large_string(schema.field(name).type)
    ]
    file = pq.ParquetFile(path, read_dictionary=text)
    total = file.metadata.num_rows
    done = 0
    for batch in file.iter_batches(batch_size=batch_rows, columns=wanted):
        done += batch.num_rows
        yield batch, done, total


def _read_jsonl(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    total = path.stat().st_size
    allowed = frozenset((*COLUMNS, *OPTIONAL_COLUMNS))
    with path.open("rb") as handle:
        while True:
            rows = _jsonl_chunk(path, handle, batch_rows, allowed)
            if not rows:
                return
            batch = _jsonl_batch(rows)
            yield RawBatch(
                batch, handle.tell(), total, rows=pa.array([], pa.int64()), read=batch.num_rows
            )


def _jsonl_chunk(
    path: Path, handle: IO[bytes], batch_rows: int, allowed: frozenset[str]
) -> list[dict[str, Any] | None]:
    rows: list[dict[str, Any] | None] = []
    for line in handle:
        if not line.strip():
            continue
        try:
            check_json(line, where=str(path), max_bytes=MAX_JSON_LINE_BYTES)
            value = json.loads(line)
        except (InvalidInputError, json.JSONDecodeError, UnicodeDecodeError):
            value = None  # a malformed row, quarantined with its reason
        if isinstance(value, dict):
            extra = sorted(set(value) - allowed)
            if extra:
                raise InvalidInputError(
                    Problem(
                        str(path),
                        f"column {extra[0]!r} is not in the metering schema: the whole file "
                        "is refused (a column outside the schema could carry content)",
                    )
                )
            rows.append(value)
        else:
            rows.append(None)
        if len(rows) >= batch_rows:
            break
    return rows


def _jsonl_batch(rows: list[dict[str, Any] | None]) -> pa.RecordBatch:
    """Columns of strings (``quantity`` of floats, ``hours`` of integers); a value of the
    wrong JSON type is nulled and the row marked ``wrong_type``."""
    names = (*COLUMNS, HOURS)
    columns: dict[str, list[Any]] = {c: [] for c in names}
    reasons: list[str | None] = []
    fields: list[str | None] = []
    for row in rows:
        if row is None:
            for values in columns.values():
                values.append(None)
            reasons.append(str(Reason.MALFORMED))
            fields.append(None)
            continue
        reason: str | None = None
        wrong: str | None = None
        for name in names:
            value = row.get(name, 1 if name == HOURS else None)
            if value is not None and not _json_type_ok(name, value):
                value, reason, wrong = None, str(Reason.WRONG_TYPE), wrong or name
            if value is not None and name == QUANTITY:
                value = float(value)
            columns[name].append(value)
        reasons.append(reason)
        fields.append(wrong)
    kinds = {QUANTITY: pa.float64(), HOURS: pa.int64()}
    arrays = [pa.array(columns[c], kinds.get(c, pa.string())) for c in names]
    return pa.RecordBatch.from_arrays(
        [
            *arrays,
            pa.nulls(len(rows), pa.float64()),
            pa.array(reasons, pa.string()),
            pa.array(fields, pa.string()),
        ],
        names=[*names, SCALE, PRESET_REASON, PRESET_FIELD],
    )


def _json_type_ok(name: str, value: object) -> bool:
    if name == QUANTITY:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if name == HOURS:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)
