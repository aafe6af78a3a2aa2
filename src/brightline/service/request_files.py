"""Deciding a file of requests (CSV or Parquet) in batches, writing the rows back with decisions.

Input columns: ``node, service, operation, region`` (text) and optionally ``time``
(RFC 3339 with a zone, or a zoned Parquet timestamp; empty = the ``at`` given, by default
now). Other columns pass through: as text from a CSV file, as stored from a Parquet one.
Output: the same rows plus ``decision`` (allow/deny/error), ``restrictions`` and
``would_deny`` (ids joined by ``;``) and ``error``.

Speed without a Python object per row: pyarrow reads the file in record batches (a CSV
file block by block, a Parquet file row group by row group), the engine turns
each name column straight into its own codes with one hash lookup per row
(:meth:`~brightline.policy.BatchArrays.encode`; a dictionary-encoded Parquet column is
looked up once per distinct name), and pyarrow writes the batch. Reading the next batch
and writing the last one run in threads of their own while one is decided (pyarrow
holds no GIL while it parses or formats); at most two batches wait on each side, so
memory stays bounded by the batch size. Nothing on the way imports pandas
(:mod:`brightline.policy.columns`).

Nothing is dropped: a row that names an unknown node, service, operation or region, or
holds a bad time, is written with ``decision`` ``error`` and why, and the summary names
the first of them by file, line and field (:meth:`RequestFile.places`). A file that
cannot be read as a whole (a row with the wrong number of fields, text that is not
UTF-8) is refused, naming its line.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from brightline import files
from brightline.errors import InvalidInputError, Problem, StorageError
from brightline.policy import BatchDecisions, BatchEffect, BatchError, Snapshot, to_micros
from brightline.policy.columns import int_values

if TYPE_CHECKING:
    import pyarrow.parquet as pq

REQUIRED: Final = ("node", "service", "operation", "region")
OUTPUT: Final = ("decision", "restrictions", "would_deny", "error")
#: Bad rows the summary names by line; every one of them is in the output.
REPORTED_ERRORS: Final = 20
_BLOCK_BYTES: Final = 4 << 20
#: Under the engine's 100,000 rows with a message each (batch._error_messages).
_PARQUET_BATCH_ROWS: Final = 65_536
_I64_MIN: Final = int(np.iinfo(np.int64).min)


@dataclass(slots=True)
class FileSummary:
    rows: int = 0
    by_decision: dict[str, int] = field(default_factory=lambda: {"allow": 0, "deny": 0, "error": 0})
    #: The first :data:`REPORTED_ERRORS` rows that could not be decided: where
    #: (``file:line: field``) and what is wrong.
    errors: list[Problem] = field(default_factory=list)


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InvalidInputError(Problem(str(path), "expected a .csv or .parquet file"))


class RequestFile:
    """A file of requests, read in record batches; its columns are checked on opening.

    A row is named by its line in a CSV file (:meth:`places`: quoted line breaks and
    blank lines counted) and by its number in a Parquet file.
    """

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise InvalidInputError(Problem(str(path), "file not found"))
        self.path = path
        self.format = file_format(path)
        self._parquet: pq.ParquetFile | None = None
        self._rows_read: int | None = None  # once every batch has been read
        #: Each column's type as stored, where a batch may differ (read as a dictionary).
        self.stored: dict[str, pa.DataType] = {}
        if self.format == "csv":
            self.names = _csv_header(path)
            self.size = path.stat().st_size
        else:
            import pyarrow.parquet as pq

            try:
                schema = pq.read_schema(path)  # as stored, whatever a batch is read as
                self._parquet = pq.ParquetFile(path, read_dictionary=list(REQUIRED))
            except (pa.ArrowException, OSError) as exc:
                raise InvalidInputError(Problem(str(path), f"not a Parquet file: {exc}")) from exc
            self.names = schema.names
            self.stored = {
                name: schema.field(name).type for name in REQUIRED if name in schema.names
            }
            self.size = self._parquet.metadata.num_rows
            _check_parquet_types(path, schema)
        _check_columns(path, self.names)

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self._parquet is not None:
            # The name columns come dictionary-encoded, as Parquet stores them: the engine
            # looks each distinct name up once.
            yield from self._parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS)
            return
        # Every column as text: the engine looks names up, and the rest pass through as written.
        types = {name: pa.string() for name in self.names}
        try:
            reader = pacsv.open_csv(
                self.path,
                # The header was parsed (and its names trimmed) by _csv_header.
                read_options=pacsv.ReadOptions(
                    block_size=_BLOCK_BYTES, column_names=self.names, skip_rows=1
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, strings_can_be_null=True, null_values=[""]
                ),
            )
            rows = 0
            for batch in reader:
                rows += batch.num_rows
                yield batch
            self._rows_read = rows
        except pa.ArrowInvalid as exc:
            raise InvalidInputError(_csv_problem(self.path, len(self.names), exc)) from exc

    def places(self, rows: Sequence[int]) -> list[str]:
        """Where each of ``rows`` (0-based, ascending) is: ``file:LINE`` or ``file: row N``."""
        if not rows:
            return []
        if self.format != "csv":
            return [f"{self.path}: row {row + 1}" for row in rows]
        lines = _csv_lines(self.path, rows, total=self._rows_read)
        return [f"{self.path}:{line}" for line in lines]


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        header = next(csv.reader([first.decode("utf-8-sig")]), None)
    except UnicodeDecodeError as exc:
        raise InvalidInputError(Problem(f"{path}:1", "not UTF-8 text")) from exc
    except csv.Error as exc:
        raise InvalidInputError(Problem(f"{path}:1", f"malformed CSV header: {exc}")) from exc
    if not header:
        raise InvalidInputError(Problem(f"{path}:1", "expected a header line"))
    names = [name.strip() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInputError(
            Problem(f"{path}:1", f"column(s) named more than once: {', '.join(repeated)}")
        )
    return names


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


def _check_parquet_types(path: Path, schema: pa.Schema) -> None:
    for name in REQUIRED:
        if name not in schema.names:
            continue  # reported by _check_columns
        kind = schema.field(name).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        # Integers would be taken for the engine's own codes: a file names things.
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise InvalidInputError(
                Problem(f"{path}: column {name}", f"expected text, got {schema.field(name).type}")
            )
    if "time" in schema.names:
        kind = schema.field("time").type
        if pa.types.is_timestamp(kind) and kind.tz is None:
            raise InvalidInputError(
                Problem(f"{path}: column time", "timestamps must be timezone-aware (UTC)")
            )


def _csv_lines(path: Path, rows: Sequence[int], *, total: int | None) -> list[int]:
    """The line on which each of ``rows`` (0-based data rows, ascending) starts.

    When the file holds one line per row (``total`` rows were read, and it has that many
    lines after the header), row ``i`` is on line ``i + 2``. Otherwise (blank lines,
    which the reader skips, or quoted line breaks) the file is walked.
    """
    if total is not None:
        with path.open("rb") as handle:
            lines, last = 0, b""
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        lines += 1 if last not in (b"", b"\n") else 0
        if lines - 1 == total:
            return [row + 2 for row in rows]
    starts: list[int] = []
    wanted = iter(rows)
    target = next(wanted, None)
    with path.open(encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        next(reader, None)  # the header
        index, start = 0, reader.line_num + 1
        for record in reader:
            if target is None:
                break
            if record:  # a blank line is no row
                if index == target:
                    starts.append(start)
                    target = next(wanted, None)
                index += 1
            start = reader.line_num + 1
    return starts


def _csv_problem(path: Path, columns: int, exc: pa.ArrowInvalid) -> Problem:
    """The first line of ``path`` that the CSV reader refused, and why."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text)
            start = 1
            for record in reader:
                if record and len(record) != columns:
                    return Problem(
                        f"{path}:{start}",
                        f"{len(record)} field(s), the header names {columns}",
                    )
                start = reader.line_num + 1
    except UnicodeDecodeError:
        with path.open("rb") as raw:
            for number, line in enumerate(raw, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return Problem(f"{path}:{number}", "not UTF-8 text")
    except csv.Error as bad:
        return Problem(str(path), f"malformed CSV: {bad}")
    return Problem(str(path), f"malformed CSV: {exc}")


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
    requests = RequestFile(source)
    summary = FileSummary()
    counts = np.zeros(3, dtype=np.int64)
    bad: list[tuple[int, str, str]] = []  # (row, field, message) of the first bad rows
    done = 0
    with files.writing(out) as handle:
        output = _WriteBehind(out_format, handle)
        try:
            for batch in _read_ahead(requests.batches()):
                decided, result = _decide(snapshot, batch, at=at, stored=requests.stored)
                output.write(decided)
                counts += np.bincount(result.effect, minlength=3)
                if len(bad) < REPORTED_ERRORS and counts[BatchEffect.ERROR]:
                    bad.extend(_first_errors(result, summary.rows, len(bad)))
                summary.rows += batch.num_rows
                done += batch.nbytes if requests.format == "csv" else batch.num_rows
                if progress is not None:
                    progress(min(done, requests.size), requests.size)
            # An empty input still gets its header.
            output.close(pa.schema([(c, pa.string()) for c in (*requests.names, *OUTPUT)]))
        except BaseException:
            output.abandon()
            raise
    for effect in BatchEffect:
        summary.by_decision[effect.name.lower()] = int(counts[effect])
    places = requests.places([row for row, _, _ in bad])
    summary.errors = [
        Problem(f"{place}: {name}", message)
        for place, (_, name, message) in zip(places, bad, strict=True)
    ]
    return summary


def _read_ahead(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``batches``, read by a thread of their own one batch ahead of the consumer.

    pyarrow parses a CSV block without holding the GIL, so reading the next batch
    overlaps deciding and writing this one. At most two batches wait; a reading error is
    raised here, in order; a consumer that stops early stops the reader.
    """
    ready: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def hand(item: pa.RecordBatch | BaseException | None) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(item, timeout=0.1)
                return True
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not hand(batch):
                    return
            hand(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            hand(exc)

    reader = threading.Thread(target=read, name="request-file-reader", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


class _WriteBehind:
    """Writes decided batches in a thread of its own, while the next batch is decided.

    pyarrow formats and writes a batch without holding the GIL. At most two batches
    wait; a failure to write is raised by the next :meth:`write` or by :meth:`close`.
    """

    def __init__(self, out_format: str, handle: io.BufferedWriter) -> None:
        self._format = out_format
        self._handle = handle
        self._writer: Any = None
        self._failure: BaseException | None = None
        self._dropped = False
        self._waiting: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._run, name="request-file-writer")
        self._thread.start()

    def write(self, batch: pa.RecordBatch) -> None:
        if self._failure is not None:
            raise self._failure
        if self._writer is None:
            self._writer = _writer(self._format, self._handle, batch.schema)
        self._waiting.put(batch)

    def close(self, empty_schema: pa.Schema) -> None:
        """Wait for every batch to be written, and end the file (its header alone, with
        ``empty_schema``, when no batch came)."""
        self._waiting.put(None)
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        if self._writer is None:
            self._writer = _writer(self._format, self._handle, empty_schema)
        self._writer.close()

    def abandon(self) -> None:
        """Stop writing: the output is being dropped, and its footer does not matter."""
        self._dropped = True
        self._waiting.put(None)
        self._thread.join()
        if self._writer is not None:
            with contextlib.suppress(OSError, StorageError, pa.ArrowException):
                self._writer.close()

    def _run(self) -> None:
        while (batch := self._waiting.get()) is not None:
            if self._failure is not None or self._dropped:
                continue  # drained unwritten, so that the producer never blocks
            try:
                self._writer.write_batch(batch)
            except BaseException as exc:  # raised in the producer's thread
                self._failure = exc


def _first_errors(result: BatchDecisions, offset: int, have: int) -> list[tuple[int, str, str]]:
    rows = np.flatnonzero(result.error)[: REPORTED_ERRORS - have].tolist()
    out = []
    for row in rows:
        code = BatchError(int(result.error[row]))
        out.append((offset + row, code.field, result.error_message(row) or ""))
    return out


def _writer(out_format: str, handle: io.BufferedWriter, schema: pa.Schema) -> Any:
    if out_format == "csv":
        return pacsv.CSVWriter(handle, schema)
    import pyarrow.parquet as pq

    return pq.ParquetWriter(handle, schema)


def _decide(
    snapshot: Snapshot, batch: pa.RecordBatch, *, at: datetime, stored: dict[str, pa.DataType]
) -> tuple[pa.RecordBatch, BatchDecisions]:
    """Decide one batch: it with the output columns appended (each input column of the
    type ``stored`` gives, where it gives one), and the decisions."""
    columns: dict[str, Any] = {name: batch.column(name) for name in REQUIRED}
    bad_times: dict[int, str] = {}
    if "time" in batch.schema.names:
        columns["time"], bad_times = parse_times(batch.column("time"), at)
    result: BatchDecisions = snapshot.decide_batch(columns, at=at)
    if bad_times:  # why a time could not be read, where it is the row's first problem
        messages = {r: m for r, m in bad_times.items() if result.error[r] == BatchError.TIME}
        result = dataclasses.replace(result, error_messages={**result.error_messages, **messages})
    table = result.to_arrow()
    arrays = [
        column.cast(stored[name]) if name in stored and column.type != stored[name] else column
        for name, column in zip(batch.schema.names, batch.columns, strict=True)
    ]
    arrays += [column.combine_chunks() for column in table.columns]
    names = [*batch.schema.names, *table.column_names]
    return pa.RecordBatch.from_arrays(arrays, names=names), result


def parse_times(column: pa.Array, at: datetime) -> tuple[Any, dict[int, str]]:
    """Times for the engine (nulls take ``at``), and a message for each unreadable row
    (its time becomes a sentinel that the engine reports as a time error)."""
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            raise InvalidInputError(Problem("time", "timestamps must be timezone-aware (UTC)"))
        return column, {}
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    try:
        return column.cast(pa.timestamp("us", tz="UTC")), {}
    except pa.ArrowInvalid:
        pass
    # Some value is not in the form pyarrow reads: each distinct one is read on its own.
    encoded = column.dictionary_encode()
    values: list[int] = []
    problems: dict[int, str] = {}
    for code, text in enumerate(encoded.dictionary.to_pylist()):
        try:
            moment = datetime.fromisoformat(text.strip())
            if moment.tzinfo is None:
                raise ValueError
            values.append(to_micros(moment))
        except ValueError:
            values.append(_I64_MIN)
            problems[code] = (
                f"invalid time {text!r} (RFC 3339 with a zone, e.g. 2025-10-01T12:00:00Z)"
            )
    codes = int_values(encoded.indices, null=-1)
    times = np.asarray(values, dtype=np.int64)[np.maximum(codes, 0)]
    times[codes < 0] = to_micros(at)
    bad = {int(row): problems[int(codes[row])] for row in np.flatnonzero(times == _I64_MIN)}
    return times, bad
