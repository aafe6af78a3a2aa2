"""Validating metering rows against the world, a batch at a time, with Arrow kernels.

A row goes to quarantine, with the first reason that applies (see :class:`Reason`), when
a field is missing or of the wrong type, ``ts`` is not the start of a UTC hour, the
quantity is negative or not finite, or the subscription, service, operation (for that
service) or region is unknown. Nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from brightline.telemetry.schema import (
    COLUMNS,
    DAY,
    METERING_SCHEMA,
    OPERATION,
    PRESET_REASON,
    QUANTITY,
    REGION,
    SERVICE,
    STRING_COLUMNS,
    SUBSCRIPTION,
    TS,
    UNIT,
    Reason,
)
from brightline.world import World

_TS_TYPE: Final = pa.timestamp("us", tz="UTC")
_TIME_TEXT: Final = (
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)$"
)
_NUMBER_TEXT: Final = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_HOUR_US: Final = 3_600_000_000
_SEP: Final = "\x1f"
#: Text columns are checked and stored dictionary-encoded (see ``ACCEPTED_SCHEMA``).
_TEXT: Final = pa.dictionary(pa.int32(), pa.string())

#: Accepted rows as :meth:`Validator.check` returns them: the stored schema with its text
#: columns dictionary-encoded, so that the Parquet writer need not hash every string again.
#: Values are the same; the dataset is written without the Arrow schema, so readers get
#: plain strings (see ``dataset.STORED_SCHEMA``).
ACCEPTED_SCHEMA: Final = pa.schema(
    [
        pa.field(f.name, _TEXT, nullable=False) if f.name in STRING_COLUMNS else f
        for f in METERING_SCHEMA
    ]
).append(pa.field(DAY, pa.string(), nullable=False))


@dataclass(frozen=True, slots=True)
class Checked:
    """One batch split: accepted rows (``ACCEPTED_SCHEMA``) and quarantined ones."""

    accepted: pa.RecordBatch
    quarantined: list[dict[str, Any]] = field(default_factory=list)

    def reasons(self) -> Counter[str]:
        return Counter(str(row["reason"]) for row in self.quarantined)


class Validator:
    """Checks rows against one world's subscriptions, services, operations and regions."""

    def __init__(self, world: World) -> None:
        catalog = world.catalog
        self._nodes = pa.array(sorted(world.directory.nodes), pa.string())
        self._services = pa.array(sorted(catalog.services), pa.string())
        self._actions = pa.array(
            sorted(f"{s.id}{_SEP}{op}" for s in catalog.services.values() for op in s.operations),
            pa.string(),
        )
        self._regions = pa.array(sorted(catalog.regions), pa.string())

    def check(self, batch: pa.RecordBatch, *, first_row: int) -> Checked:
        """Split ``batch`` (rows numbered from ``first_row``, 1-based, in the file)."""
        reason: pa.Array = batch.column(PRESET_REASON)
        if reason.type != pa.string():
            reason = pc.cast(reason, pa.string())

        def mark(mask: pa.Array, why: Reason) -> None:
            nonlocal reason
            hit = pc.and_kleene(pc.is_null(reason), pc.fill_null(mask, False))
            reason = pc.if_else(hit, pa.scalar(str(why)), reason)

        strings = {name: _as_text(batch.column(name)) for name in STRING_COLUMNS}
        missing = pc.is_null(batch.column(TS))
        for name in (*STRING_COLUMNS, QUANTITY):
            missing = pc.or_kleene(missing, pc.is_null(batch.column(name)))
        for values in strings.values():
            if values is not None:
                missing = pc.or_kleene(missing, _per_value(values, _is_empty))
        mark(missing, Reason.MISSING_FIELD)
        for values in strings.values():
            if values is None:
                mark(pa.array([True] * batch.num_rows), Reason.WRONG_TYPE)
        ts = _timestamps(batch.column(TS))
        quantity = _quantities(batch.column(QUANTITY))
        mark(pc.or_kleene(pc.is_null(ts), pc.is_null(quantity)), Reason.WRONG_TYPE)
        micros = pc.cast(ts, pa.int64())
        mark(
            pc.not_equal(
                pc.subtract(micros, pc.multiply(pc.divide(micros, _HOUR_US), _HOUR_US)), 0
            ),
            Reason.NOT_HOUR_START,
        )
        mark(pc.less(quantity, 0.0), Reason.NEGATIVE_QUANTITY)
        text = {
            name: values if values is not None else pa.nulls(batch.num_rows, _TEXT)
            for name, values in strings.items()
        }
        mark(_unknown(text[SUBSCRIPTION], self._nodes), Reason.UNKNOWN_SUBSCRIPTION)
        mark(_unknown(text[SERVICE], self._services), Reason.UNKNOWN_SERVICE)
        action = pc.binary_join_element_wise(
            pc.cast(text[SERVICE], pa.string()), pc.cast(text[OPERATION], pa.string()), _SEP
        )
        mark(_unknown(_encoded(action), self._actions), Reason.UNKNOWN_OPERATION)
        mark(_unknown(text[REGION], self._regions), Reason.UNKNOWN_REGION)

        good = pc.is_null(reason)
        accepted_columns = [
            pc.filter(ts, good),
            *(pc.filter(text[name], good) for name in (SUBSCRIPTION, SERVICE, OPERATION, REGION)),
            pc.filter(quantity, good),
            pc.filter(text[UNIT], good),
        ]
        # Days come from a date cast: pc.strftime formats row by row and was most of the
        # cost of an ingest.
        day = pc.cast(pc.cast(accepted_columns[0], pa.date32()), pa.string())
        accepted = pa.RecordBatch.from_arrays([*accepted_columns, day], schema=ACCEPTED_SCHEMA)
        bad = pc.invert(good)
        return Checked(accepted, _quarantined(batch, reason, bad, first_row))


def _as_text(array: pa.Array) -> pa.Array | None:
    """The column dictionary-encoded (``_TEXT``), or None when its type is not text (every
    row is wrong). Checks then run once per distinct value instead of once per row."""
    if pa.types.is_dictionary(array.type):
        if pa.types.is_string(array.type.value_type) or pa.types.is_large_string(
            array.type.value_type
        ):
            return pc.cast(array, _TEXT)
        return None
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return _encoded(pc.cast(array, pa.string()))
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), _TEXT)
    return None


def _encoded(array: pa.Array) -> pa.Array:
    return pc.cast(pc.dictionary_encode(array), _TEXT)


def _per_value(values: pa.Array, test: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``test`` of each distinct value, spread back over the rows (null rows give null)."""
    return pc.take(test(values.dictionary), values.indices)


def _is_empty(values: pa.Array) -> pa.Array:
    return pc.equal(pc.utf8_length(values), 0)


def _unknown(values: pa.Array, known: pa.Array) -> pa.Array:
    return _per_value(values, lambda distinct: pc.invert(pc.is_in(distinct, known)))


def _as_string(array: pa.Array) -> pa.Array | None:
    """The column as plain strings, or None when its type is not text."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return pc.cast(array, pa.string())
    if pa.types.is_dictionary(array.type) and pa.types.is_string(array.type.value_type):
        return pc.cast(array, pa.string())
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    return None


def _timestamps(array: pa.Array) -> pa.Array:
    """UTC timestamps; null where the value is not a time with a zone."""
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            # Parquet writers often drop the zone; metering times are UTC by definition.
            array = pc.assume_timezone(array, "UTC")
        return pc.cast(array, _TS_TYPE)
    text = _as_string(array)
    if text is None:
        return pa.nulls(len(array), _TS_TYPE)
    ok = pc.fill_null(pc.match_substring_regex(text, _TIME_TEXT), False)
    candidate = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    try:
        return pc.cast(candidate, _TS_TYPE)
    except pa.ArrowInvalid:
        # Well formed but impossible (month 13): parse one by one, rarely taken.
        return pa.array([_one_time(v) for v in candidate.to_pylist()], _TS_TYPE)


def _one_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("z", "Z")).astimezone(UTC)
    except ValueError:
        return None


def _quantities(array: pa.Array) -> pa.Array:
    """Finite float64 quantities; null where the value is not a finite number."""
    if (
        pa.types.is_integer(array.type)
        or pa.types.is_floating(array.type)
        or pa.types.is_decimal(array.type)
    ):
        values = pc.cast(array, pa.float64())
    else:
        text = _as_string(array)
        if text is None:
            return pa.nulls(len(array), pa.float64())
        ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER_TEXT), False)
        values = pc.cast(
            pc.utf8_trim_whitespace(pc.if_else(ok, text, pa.scalar(None, pa.string()))),
            pa.float64(),
        )
    finite = pc.fill_null(pc.is_finite(values), False)
    return pc.if_else(finite, values, pa.scalar(None, pa.float64()))


def _quarantined(
    batch: pa.RecordBatch, reason: pa.Array, bad: pa.Array, first_row: int
) -> list[dict[str, Any]]:
    if not pc.any(bad).as_py():
        return []
    rows = pc.filter(pa.array(range(first_row, first_row + batch.num_rows), pa.int64()), bad)
    columns = {name: pc.filter(batch.column(name), bad).to_pylist() for name in COLUMNS}
    reasons = pc.filter(reason, bad).to_pylist()
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows.to_pylist()):
        record: dict[str, Any] = {"row": row, "reason": reasons[i]}
        for name in COLUMNS:
            value = columns[name][i]
            record[name] = value.isoformat() if isinstance(value, datetime) else value
        out.append(record)
    return out
