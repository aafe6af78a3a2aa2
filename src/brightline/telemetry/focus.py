"""FOCUS cost-and-usage exports (FinOps Open Cost and Usage Specification 1.0–1.2).

A FOCUS export carries far more than usage metadata: costs, prices, resource names,
``Tags`` and each provider's ``x_`` columns. Only an explicit allow-list of columns is
read (:func:`plan`); every other column is dropped by the reader, never becomes a value
and is never stored, and the ingest report names it:

=================  =======================================================
metering column    FOCUS column
=================  =======================================================
ts                 ChargePeriodStart
hours              ChargePeriodEnd − ChargePeriodStart: 1 (an hour) or 24 (a UTC day)
subscription_id    SubAccountId (through the map's ``accounts``)
service            ServiceName (through the map)
operation          SkuMeter (through the map; FOCUS 1.0 has no SkuMeter)
region             RegionId (through the map's ``regions``)
quantity           ConsumedQuantity (× the map rule's ``scale``)
unit               ConsumedUnit (or the map rule's ``unit``)
=================  =======================================================

Also read, to decide whether a row is usage: ``ChargeCategory``, ``ChargeClass``,
``CommitmentDiscountStatus``, and the columns the service map matches on.

Rows that are not consumption are skipped and counted, never quarantined: charge
categories ``Purchase``, ``Tax``, ``Credit`` and ``Adjustment``, ``ChargeClass``
``Correction`` (a restatement of an earlier period: re-deliveries replace instead) and
unused commitments (``CommitmentDiscountStatus`` ``Unused``, which FOCUS gives no consumed
quantity). Any other non-``Usage`` category is quarantined as ``not_usage_charge``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from brightline.errors import InvalidInputError, Problem
from brightline.telemetry.maps import ServiceMap
from brightline.telemetry.schema import (
    COLUMNS,
    HOURS,
    MAX_MATCH_CHARS,
    OPERATION,
    PRESET_FIELD,
    PRESET_REASON,
    QUANTITY,
    REGION,
    SERVICE,
    SUBSCRIPTION,
    TS,
    UNIT,
    Reason,
)
from brightline.telemetry.values import hours_between

CATEGORY: Final = "ChargeCategory"
CHARGE_CLASS: Final = "ChargeClass"
COMMITMENT_STATUS: Final = "CommitmentDiscountStatus"
PERIOD_START: Final = "ChargePeriodStart"
PERIOD_END: Final = "ChargePeriodEnd"
SKU_METER: Final = "SkuMeter"
SERVICE_NAME: Final = "ServiceName"
SCALE: Final = "_scale"

#: Metering columns and the FOCUS columns they come from.
FOCUS_MAPPING: Final = {
    TS: PERIOD_START,
    SUBSCRIPTION: "SubAccountId",
    SERVICE: SERVICE_NAME,
    OPERATION: SKU_METER,
    REGION: "RegionId",
    QUANTITY: "ConsumedQuantity",
    UNIT: "ConsumedUnit",
    HOURS: PERIOD_END,
}
#: Columns a FOCUS file must have. ``SkuMeter`` (FOCUS 1.1+) is needed only without a map.
REQUIRED: Final = (
    CATEGORY,
    PERIOD_START,
    PERIOD_END,
    "SubAccountId",
    SERVICE_NAME,
    "RegionId",
    "ConsumedQuantity",
    "ConsumedUnit",
)
#: Read when present, to skip rows that are not consumption.
_OPTIONAL: Final = (CHARGE_CLASS, COMMITMENT_STATUS, SKU_METER)
#: Skipped charge categories, by their FOCUS value, counted under these names.
SKIPPED_CATEGORIES: Final = {
    "Purchase": "purchase",
    "Tax": "tax",
    "Credit": "credit",
    "Adjustment": "adjustment",
}
_SHOWN_DROPPED: Final = 100


def is_focus(header: Sequence[str]) -> bool:
    return CATEGORY in header or PERIOD_START in header


@dataclass(frozen=True, slots=True)
class FocusPlan:
    """What to read from a FOCUS file: ``read`` (the allow-list, in file order),
    ``dropped`` (every other column, never read), ``absent`` (map columns the file
    lacks: rules naming them never match)."""

    read: tuple[str, ...]
    dropped: tuple[str, ...]
    absent: tuple[str, ...]
    service_map: ServiceMap | None

    def field_name(self, column: str) -> str:
        """The FOCUS column a metering column's value came from, for messages."""
        return FOCUS_MAPPING.get(column, column)


def plan(path: Path, header: Sequence[str], service_map: ServiceMap | None) -> FocusPlan:
    """The allow-list for ``header``. InvalidInputError, naming the file and each
    column, when a required column is missing or a column name repeats."""
    problems = [
        Problem(str(path), f"required FOCUS column {name!r} is missing: the whole file is refused")
        for name in REQUIRED
        if name not in header
    ]
    if service_map is None and SKU_METER not in header and SERVICE_NAME in header:
        problems.append(
            Problem(
                str(path),
                "no 'SkuMeter' column (FOCUS 1.0): the operation must come from a service "
                "map: give --map (aws, azure, gcp or a file)",
            )
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    problems += [
        Problem(str(path), f"column {name!r} appears more than once: the whole file is refused")
        for name in repeated
    ]
    if problems:
        raise InvalidInputError(problems)
    map_columns = service_map.columns if service_map is not None else ()
    wanted = {*REQUIRED, *_OPTIONAL, *map_columns}
    read = tuple(name for name in header if name in wanted)
    dropped = tuple(name for name in header if name not in wanted)
    absent = tuple(name for name in map_columns if name not in header)
    return FocusPlan(read=read, dropped=dropped, absent=absent, service_map=service_map)


def shown_columns(names: Sequence[str]) -> list[str]:
    """Column names for a report: each cut to 64 characters, at most 100 of them."""
    shown = [n if len(n) <= 64 else n[:64] + "…" for n in names[:_SHOWN_DROPPED]]
    if len(names) > _SHOWN_DROPPED:
        shown.append(f"… {len(names) - _SHOWN_DROPPED} more")
    return shown


@dataclass(frozen=True, slots=True)
class FocusRows:
    """A FOCUS batch as metering rows. ``kept`` are the positions (in the batch read) of
    the rows given on; the others were skipped and are counted in ``skipped``."""

    batch: pa.RecordBatch
    kept: pa.Array | None
    skipped: Counter[str]
    unmapped: Counter[str]


def to_metering(batch: pa.RecordBatch, malformed: pa.Array | None, focus: FocusPlan) -> FocusRows:
    """Map one batch of the allow-listed FOCUS columns to metering columns (with
    ``hours``, ``_scale``, ``_reason`` and ``_field``), skipping rows that are not usage."""
    rows = batch.num_rows
    names = batch.schema.names

    def column(name: str) -> pa.Array:
        return batch.column(name) if name in names else pa.nulls(rows, pa.string())

    reason = malformed if malformed is not None else pa.nulls(rows, pa.string())
    field = pa.nulls(rows, pa.string())

    def mark(mask: pa.Array, why: Reason, where: str) -> None:
        nonlocal reason, field
        hit = pc.and_kleene(pc.is_null(reason), pc.fill_null(mask, False))
        reason = pc.if_else(hit, pa.scalar(str(why)), reason)
        field = pc.if_else(hit, pa.scalar(where), field)

    category = pc.cast(column(CATEGORY), pa.string())
    skip = pc.take(
        pa.array(list(SKIPPED_CATEGORIES.values()), pa.string()),
        pc.index_in(category, value_set=pa.array(list(SKIPPED_CATEGORIES), pa.string())),
    )
    correction = pc.equal(pc.cast(column(CHARGE_CLASS), pa.string()), "Correction")
    skip = pc.coalesce(
        skip, pc.if_else(correction, pa.scalar("correction"), pa.scalar(None, pa.string()))
    )
    unused = pc.equal(pc.cast(column(COMMITMENT_STATUS), pa.string()), "Unused")
    skip = pc.coalesce(
        skip, pc.if_else(unused, pa.scalar("unused_commitment"), pa.scalar(None, pa.string()))
    )
    skip = pc.if_else(pc.is_null(reason), skip, pa.scalar(None, pa.string()))  # malformed: kept
    mark(pc.not_equal(category, "Usage"), Reason.NOT_USAGE, CATEGORY)
    mark(pc.is_null(category), Reason.NOT_USAGE, CATEGORY)

    service_map = focus.service_map
    values = {c: column(FOCUS_MAPPING[c]) for c in (*COLUMNS, HOURS)}
    scale = pa.nulls(rows, pa.float64())
    unmapped: Counter[str] = Counter()
    if service_map is not None:
        for name in service_map.columns:
            mark(_longer(column(name)), Reason.TOO_LONG, name)
        counted = tuple(n for n in (SERVICE_NAME, SKU_METER) if n in names) or (SERVICE_NAME,)
        mapped = service_map.apply(
            {c: column(c) for c in (*service_map.columns, *counted)},
            unit=values[UNIT],
            region=values[REGION],
            subscription=values[SUBSCRIPTION],
            names=counted,
            counted=pc.and_kleene(pc.is_null(reason), pc.is_null(skip)),
        )
        unmapped = mapped.unmapped
        mark(mapped.unmatched, Reason.UNMAPPED, SERVICE_NAME)
        values.update(
            {
                SERVICE: mapped.service,
                OPERATION: mapped.operation,
                UNIT: mapped.unit,
                REGION: mapped.region,
                SUBSCRIPTION: mapped.subscription,
            }
        )
        scale = mapped.scale
    mark(pc.is_null(column(PERIOD_END)), Reason.MISSING_FIELD, PERIOD_END)
    hours = hours_between(column(PERIOD_START), column(PERIOD_END))
    out = pa.RecordBatch.from_arrays(
        [*(values[c] for c in COLUMNS), hours, scale, reason, field],
        names=[*COLUMNS, HOURS, SCALE, PRESET_REASON, PRESET_FIELD],
    )
    skipped: Counter[str] = Counter()
    kept: pa.Array | None = None
    if pc.any(pc.is_valid(skip)).as_py():
        skipped.update(
            {
                str(row["values"]): int(row["counts"])
                for row in pc.value_counts(pc.drop_null(skip)).to_pylist()
            }
        )
        keep = pc.is_null(skip)
        kept = pc.filter(pa.array(range(rows), pa.int64()), keep)
        out = out.filter(keep)
    return FocusRows(out, kept, skipped, unmapped)


def _longer(array: pa.Array) -> pa.Array:
    text = pc.cast(array, pa.string())
    return pc.greater(pc.utf8_length(text), MAX_MATCH_CHARS)
