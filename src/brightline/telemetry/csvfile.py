"""Reading CSV files (plain or gzip-compressed) in batches of text columns.

Only the named columns are read; the others are skipped by the parser and never become
values. A UTF-8 byte-order mark before the header is accepted.

Lines are parsed by Arrow (fast, in 16 MiB blocks). When Arrow cannot parse a line (too
few or too many fields, a field larger than a block, bytes that are not UTF-8), reading
goes on from the first row not yet given out with Python's parser, which knows each
record's line: a record it cannot use becomes a row of nulls marked ``malformed_line``
with its line number, and reading continues. A line's text is never kept.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import pyarrow as pa
import pyarrow.csv as pacsv

from brightline.errors import InvalidInputError, Problem
from brightline.telemetry.schema import Reason

CSV_BLOCK_BYTES: Final = 16 << 20
#: The largest field Python's parser reads; a larger one makes its line malformed.
MAX_FIELD_BYTES: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class CsvBatch:
    """Text columns of consecutive records. ``malformed`` marks records that could not be
    parsed (their values are null), ``lines`` gives each record's first line, when known;
    ``done`` of ``total`` bytes of the file read so far."""

    batch: pa.RecordBatch
    malformed: pa.Array | None
    lines: pa.Array | None
    done: int
    total: int


def is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def csv_header(path: Path) -> list[str]:
    """The header's column names (a leading byte-order mark removed)."""
    with _text(path) as (_, handle):
        row = next(csv.reader(handle), None)
    if not row:
        raise InvalidInputError(Problem(str(path), "empty CSV file: no header"))
    return row


@contextlib.contextmanager
def _text(path: Path) -> Iterator[tuple[IO[bytes], io.TextIOWrapper]]:
    with path.open("rb") as raw:
        stream: IO[bytes] = (
            gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip(path) else raw  # type: ignore[assignment]
        )
        # Undecodable bytes become U+FFFD: such a value matches no id and is quarantined.
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        try:
            yield raw, text
        except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
            raise InvalidInputError(Problem(str(path), f"cannot read: {exc}")) from exc


def read_csv(
    path: Path, header: list[str], wanted: list[str], batch_rows: int
) -> Iterator[CsvBatch]:
    """Batches of the ``wanted`` columns (strings; empty values null), every record in
    order, malformed ones included."""
    given = 0
    try:
        for batch in _arrow_batches(path, header, wanted):
            given += batch.batch.num_rows
            yield batch
        return
    except pa.ArrowInvalid:
        pass  # go on with Python's parser from the first record not given out
    yield from _python_batches(path, header, wanted, batch_rows, skip=given)


def _arrow_batches(path: Path, header: list[str], wanted: list[str]) -> Iterator[CsvBatch]:
    total = path.stat().st_size
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        include_columns=wanted,
        strings_can_be_null=True,
        null_values=[""],
    )
    # The header is ours (read above, its byte-order mark removed): Arrow skips its line.
    read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, column_names=header, skip_rows=1)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    with pa.OSFile(str(path), "rb") as raw:
        source: pa.NativeFile = pa.CompressedInputStream(raw, "gzip") if is_gzip(path) else raw
        reader = pacsv.open_csv(
            source, read_options=read, parse_options=parse, convert_options=convert
        )
        for batch in reader:
            yield CsvBatch(batch, None, None, raw.tell(), total)


def _python_batches(
    path: Path, header: list[str], wanted: list[str], batch_rows: int, *, skip: int
) -> Iterator[CsvBatch]:
    total = path.stat().st_size
    index = [header.index(name) for name in wanted]
    width = len(header)
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(MAX_FIELD_BYTES)
    try:
        with _text(path) as (raw, handle):
            reader = csv.reader(handle, strict=False)
            next(reader, None)  # the header
            columns: list[list[str | None]] = [[] for _ in wanted]
            malformed: list[str | None] = []
            lines: list[int] = []
            record = 0
            while True:
                start = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error:
                    row = None  # a field over the limit: the record is malformed
                if row == []:
                    continue  # a blank line is not a record (as for Arrow)
                record += 1
                if record <= skip:
                    continue
                ok = row is not None and len(row) == width
                for values, i in zip(columns, index, strict=True):
                    values.append((row[i] or None) if ok and row is not None else None)
                malformed.append(None if ok else str(Reason.MALFORMED))
                lines.append(start)
                if len(lines) >= batch_rows:
                    yield _batch(wanted, columns, malformed, lines, raw.tell(), total)
                    columns = [[] for _ in wanted]
                    malformed, lines = [], []
            if lines:
                yield _batch(wanted, columns, malformed, lines, raw.tell(), total)
    finally:
        csv.field_size_limit(previous_limit)


def _batch(
    wanted: list[str],
    columns: list[list[str | None]],
    malformed: list[str | None],
    lines: list[int],
    done: int,
    total: int,
) -> CsvBatch:
    batch = pa.RecordBatch.from_arrays([pa.array(v, pa.string()) for v in columns], names=wanted)
    return CsvBatch(
        batch, pa.array(malformed, pa.string()), pa.array(lines, pa.int64()), done, total
    )
