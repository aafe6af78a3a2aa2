"""Reading metering files in batches: CSV, JSON Lines, Parquet, and FOCUS exports.

Every reader yields batches with the metering columns (types as found in the file) plus
``_reason``, and how far through the file it is, so that memory stays bounded and a
progress bar can follow. Columns are checked before any row is read: a column outside
the schema refuses the whole file, naming the column.

FOCUS (FinOps Open Cost and Usage Specification) cost-and-usage exports are mapped:

=================  ==================
metering column    FOCUS column
=================  ==================
ts                 ChargePeriodStart
subscription_id    SubAccountId
service            ServiceName
operation          SkuMeter
region             RegionId
quantity           ConsumedQuantity
unit               ConsumedUnit
=================  ==================

Rows whose ``ChargeCategory`` is not ``Usage`` (purchases, taxes, credits, adjustments)
are quarantined as ``not_usage_charge``. Other FOCUS columns are allowed in the file but
never read; a column that is neither FOCUS nor metering (such as an ``x_`` extension)
refuses the file.
"""

from __future__ import annotations

import csv
import enum
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from brightline.errors import InvalidInputError, Problem
from brightline.limits import MAX_JSON_LINE_BYTES, check_json
from brightline.telemetry.schema import COLUMNS, PRESET_REASON, QUANTITY, TS, Reason

BATCH_ROWS: Final = 262_144
_CSV_BLOCK_BYTES: Final = 16 << 20

FOCUS_MAPPING: Final = {
    "ts": "ChargePeriodStart",
    "subscription_id": "SubAccountId",
    "service": "ServiceName",
    "operation": "SkuMeter",
    "region": "RegionId",
    "quantity": "ConsumedQuantity",
    "unit": "ConsumedUnit",
}
_FOCUS_CATEGORY: Final = "ChargeCategory"

#: Columns of FOCUS 1.0–1.2 cost-and-usage datasets; allowed in a file, read only if mapped.
FOCUS_COLUMNS: Final = frozenset(
    """AvailabilityZone BilledCost BillingAccountId BillingAccountName BillingAccountType
    BillingCurrency BillingPeriodEnd BillingPeriodStart CapacityReservationId
    CapacityReservationStatus ChargeCategory ChargeClass ChargeDescription ChargeFrequency
    ChargePeriodEnd ChargePeriodStart CommitmentDiscountCategory CommitmentDiscountId
    CommitmentDiscountName CommitmentDiscountQuantity CommitmentDiscountStatus
    CommitmentDiscountType CommitmentDiscountUnit ConsumedQuantity ConsumedUnit ContractedCost
    ContractedUnitPrice EffectiveCost HostProviderName InvoiceId InvoiceIssuerName ListCost
    ListUnitPrice PricingCategory PricingCurrency PricingCurrencyContractedUnitPrice
    PricingCurrencyEffectiveCost PricingCurrencyListUnitPrice PricingQuantity PricingUnit
    ProviderName PublisherName RegionId RegionName ResourceId ResourceName ResourceType
    ServiceCategory ServiceName ServiceProviderName ServiceSubcategory SkuId SkuMeter
    SkuPriceDetails SkuPriceId SubAccountId SubAccountName SubAccountType Tags""".split()  # noqa: SIM905
)


class FileFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Rows as read, before validation; ``done`` of ``total`` (bytes or rows) read so far."""

    batch: pa.RecordBatch
    done: int
    total: int


def file_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return FileFormat.CSV
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return FileFormat.JSONL
    if suffix in {".parquet", ".pq"}:
        return FileFormat.PARQUET
    raise InvalidInputError(Problem(str(path), "unknown format: expected .csv, .jsonl or .parquet"))


def read_metering(path: Path, *, batch_rows: int = BATCH_ROWS) -> Iterator[RawBatch]:
    """Batches of a metering or FOCUS file. Raises InvalidInputError before yielding any
    row when the file's columns are refused (JSON Lines: as soon as a line shows one)."""
    kind = file_format(path)
    if kind is FileFormat.JSONL:
        return _read_jsonl(path, batch_rows)
    header = (
        _csv_header(path) if kind is FileFormat.CSV else pq.ParquetFile(path).schema_arrow.names
    )
    focus = _FOCUS_CATEGORY in header or FOCUS_MAPPING["ts"] in header
    mapping = FOCUS_MAPPING if focus else {c: c for c in COLUMNS}
    _check_columns(path, header, focus=focus)
    wanted = [*mapping.values(), *([_FOCUS_CATEGORY] if focus else [])]
    if kind is FileFormat.CSV:
        batches = _read_csv(path, header, wanted)
    else:
        batches = _read_parquet(path, wanted, batch_rows)
    return (RawBatch(_mapped(b.batch, mapping, focus=focus), b.done, b.total) for b in batches)


def _check_columns(path: Path, header: list[str], *, focus: bool) -> None:
    allowed = FOCUS_COLUMNS if focus else frozenset(COLUMNS)
    required = FOCUS_MAPPING.values() if focus else COLUMNS
    problems = [
        Problem(
            str(path),
            f"column {name!r} is not in the {'FOCUS' if focus else 'metering'} schema: "
            "the whole file is refused (a column outside the schema could carry content)",
        )
        for name in header
        if name not in allowed
    ]
    problems += [
        Problem(str(path), f"required column {name!r} is missing: the whole file is refused")
        for name in required
        if name not in header
    ]
    if problems:
        raise InvalidInputError(problems)


def _mapped(batch: pa.RecordBatch, mapping: dict[str, str], *, focus: bool) -> pa.RecordBatch:
    arrays = [batch.column(mapping[c]) for c in COLUMNS]
    if focus:
        category = batch.column(_FOCUS_CATEGORY)
        usage = pc.fill_null(pc.equal(pc.cast(category, pa.string()), "Usage"), False)
        reason = pc.if_else(usage, pa.scalar(None, pa.string()), str(Reason.NOT_USAGE))
    else:
        reason = pa.nulls(batch.num_rows, pa.string())
    return pa.RecordBatch.from_arrays([*arrays, reason], names=[*COLUMNS, PRESET_REASON])


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        row = next(csv.reader(handle), None)
    if not row:
        raise InvalidInputError(Problem(str(path), "empty CSV file: no header"))
    return row


def _read_csv(path: Path, header: list[str], wanted: list[str]) -> Iterator[RawBatch]:
    total = path.stat().st_size
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        include_columns=wanted,
        strings_can_be_null=True,
        null_values=[""],
    )
    read = pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES)
    with path.open("rb") as handle:
        try:
            reader = pacsv.open_csv(handle, read_options=read, convert_options=convert)
            for batch in reader:
                yield RawBatch(batch, handle.tell(), total)
        except pa.ArrowInvalid as exc:
            raise InvalidInputError(Problem(str(path), f"malformed CSV: {exc}")) from exc


def _read_parquet(path: Path, wanted: list[str], batch_rows: int) -> Iterator[RawBatch]:
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
        yield RawBatch(batch, done, total)


def _read_jsonl(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    total = path.stat().st_size
    allowed = frozenset(COLUMNS)
    with path.open("rb") as handle:
        while True:
            rows = _jsonl_chunk(path, handle, batch_rows, allowed)
            if not rows:
                return
            yield RawBatch(_jsonl_batch(rows), handle.tell(), total)


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
    """Columns of strings (``quantity`` of floats); a value of the wrong JSON type is nulled
    and the row marked ``wrong_type``."""
    columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    reasons: list[str | None] = []
    for row in rows:
        if row is None:
            for values in columns.values():
                values.append(None)
            reasons.append(str(Reason.MALFORMED))
            continue
        reason: str | None = None
        for name in COLUMNS:
            value = row.get(name)
            if value is not None and not _json_type_ok(name, value):
                value, reason = None, str(Reason.WRONG_TYPE)
            columns[name].append(float(value) if name == QUANTITY and value is not None else value)
        reasons.append(reason)
    arrays = [pa.array(columns[c], pa.float64() if c == QUANTITY else pa.string()) for c in COLUMNS]
    return pa.RecordBatch.from_arrays(
        [*arrays, pa.array(reasons, pa.string())], names=[*COLUMNS, PRESET_REASON]
    )


def _json_type_ok(name: str, value: object) -> bool:
    if name == QUANTITY:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if name == TS:
        return isinstance(value, str)
    return isinstance(value, str)
