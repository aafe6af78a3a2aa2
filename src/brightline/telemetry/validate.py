"""Validating metering rows against the world, a batch at a time, with Arrow kernels.

A row goes to quarantine, with the first reason that applies (see :class:`Reason`) and
the field it is about, when a field is missing, too long or of the wrong type, ``ts`` is
not the start of a UTC hour (of a UTC day for a daily row), the period is neither an hour
nor a day, the quantity is negative or not finite, or the subscription, service, operation
(for that service), region or unit (for that service: see ``brightline.telemetry.units``)
is unknown. Nothing is dropped silently.

A quarantined row is kept with its row number (and line, when known), reason and field,
and its values cut to the bound of their column: a quarantine file is no more room for
content than the dataset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from brightline.telemetry.schema import (
    COLUMNS,
    DAY,
    HOURS,
    MAX_CHARS,
    METERING_SCHEMA,
    OPERATION,
    PRESET_FIELD,
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
from brightline.telemetry.units import DEFAULT_UNITS, units_by_service
from brightline.telemetry.values import DAY_US, HOUR_US, period_hours, quantities, timestamps
from brightline.world import World

_SEP: Final = "\x1f"
_SCALE: Final = "_scale"
#: Text columns are checked and stored dictionary-encoded (see ``ACCEPTED_SCHEMA``).
_TEXT: Final = pa.dictionary(pa.int32(), pa.string())
#: The longest value a quarantine record keeps of any text field.
_QUARANTINE_CHARS: Final = 128

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
    """Checks rows against one world's subscriptions, services, operations and regions,
    and their units against ``units`` (every service may carry them) and the units the
    catalog declares for the row's service."""

    def __init__(self, world: World, *, units: Iterable[str] = DEFAULT_UNITS) -> None:
        catalog = world.catalog
        self._nodes = pa.array(sorted(world.directory.nodes), pa.string())
        self._services = pa.array(sorted(catalog.services), pa.string())
        self._actions = pa.array(
            sorted(f"{s.id}{_SEP}{op}" for s in catalog.services.values() for op in s.operations),
            pa.string(),
        )
        self._regions = pa.array(sorted(catalog.regions), pa.string())
        self._units = pa.array(sorted(set(units)), pa.string())
        self._service_units = pa.array(
            sorted(
                f"{service}{_SEP}{unit}"
                for service, declared in units_by_service(catalog).items()
                for unit in declared
            ),
            pa.string(),
        )

    def check(
        self,
        batch: pa.RecordBatch,
        *,
        rows: pa.Array,
        lines: pa.Array | None = None,
        field_names: Mapping[str, str] | None = None,
    ) -> Checked:
        """Split ``batch``, whose rows are numbered ``rows`` (and start on ``lines``) in
        the file. ``field_names`` renames metering fields in quarantine records (a FOCUS
        export's columns)."""
        names = batch.schema.names
        reason: pa.Array = batch.column(PRESET_REASON)
        if reason.type != pa.string():
            reason = pc.cast(reason, pa.string())
        where: pa.Array = (
            pc.cast(batch.column(PRESET_FIELD), pa.string())
            if PRESET_FIELD in names
            else pa.nulls(batch.num_rows, pa.string())
        )
        renamed = field_names or {}

        def mark(mask: pa.Array, why: Reason, column: str | None = None) -> None:
            nonlocal reason, where
            hit = pc.and_kleene(pc.is_null(reason), pc.fill_null(mask, False))
            reason = pc.if_else(hit, pa.scalar(str(why)), reason)
            if column is not None:
                where = pc.if_else(hit, pa.scalar(renamed.get(column, column)), where)

        strings = {name: _as_text(batch.column(name)) for name in STRING_COLUMNS}
        for name, values in strings.items():
            if values is not None:
                mark(_per_value(values, _longer_than(MAX_CHARS[name])), Reason.TOO_LONG, name)
        for name in (TS, *STRING_COLUMNS, QUANTITY):
            mark(pc.is_null(batch.column(name)), Reason.MISSING_FIELD, name)
            values = strings.get(name)
            if values is not None:
                mark(_per_value(values, _is_empty), Reason.MISSING_FIELD, name)
        for name, values in strings.items():
            if values is None:
                mark(pa.array([True] * batch.num_rows), Reason.WRONG_TYPE, name)
        ts = timestamps(batch.column(TS))
        quantity = quantities(batch.column(QUANTITY))
        mark(pc.is_null(ts), Reason.WRONG_TYPE, TS)
        mark(pc.is_null(quantity), Reason.WRONG_TYPE, QUANTITY)
        if _SCALE in names:
            quantity = pc.multiply(quantity, pc.fill_null(batch.column(_SCALE), 1.0))
        micros = pc.cast(ts, pa.int64())
        mark(pc.not_equal(_remainder(micros, HOUR_US), 0), Reason.NOT_HOUR_START, TS)
        hours = (
            period_hours(batch.column(HOURS))
            if HOURS in names
            else pa.repeat(pa.scalar(1, pa.int8()), batch.num_rows)
        )
        mark(pc.is_null(hours), Reason.UNSUPPORTED_PERIOD, HOURS)
        daily = pc.equal(hours, pa.scalar(24, pa.int8()))
        mark(
            pc.and_kleene(daily, pc.not_equal(_remainder(micros, DAY_US), 0)),
            Reason.UNSUPPORTED_PERIOD,
            TS,
        )
        mark(pc.less(quantity, 0.0), Reason.NEGATIVE_QUANTITY, QUANTITY)
        text = {
            name: values if values is not None else pa.nulls(batch.num_rows, _TEXT)
            for name, values in strings.items()
        }
        mark(_unknown(text[SUBSCRIPTION], self._nodes), Reason.UNKNOWN_SUBSCRIPTION, SUBSCRIPTION)
        mark(_unknown(text[SERVICE], self._services), Reason.UNKNOWN_SERVICE, SERVICE)
        action = pc.binary_join_element_wise(
            pc.cast(text[SERVICE], pa.string()), pc.cast(text[OPERATION], pa.string()), _SEP
        )
        mark(_unknown(_encoded(action), self._actions), Reason.UNKNOWN_OPERATION, OPERATION)
        mark(_unknown(text[REGION], self._regions), Reason.UNKNOWN_REGION, REGION)
        service_unit = pc.binary_join_element_wise(
            pc.cast(text[SERVICE], pa.string()), pc.cast(text[UNIT], pa.string()), _SEP
        )
        mark(
            pc.and_kleene(
                _unknown(text[UNIT], self._units),
                _unknown(_encoded(service_unit), self._service_units),
            ),
            Reason.UNKNOWN_UNIT,
            UNIT,
        )

        good = pc.is_null(reason)
        accepted_columns = [
            pc.filter(ts, good),
            *(
                _compact(pc.filter(text[name], good))
                for name in (SUBSCRIPTION, SERVICE, OPERATION, REGION)
            ),
            pc.filter(quantity, good),
            _compact(pc.filter(text[UNIT], good)),
            pc.filter(hours, good),
        ]
        # Days come from a date cast: pc.strftime formats row by row and was most of the
        # cost of an ingest.
        day = pc.cast(pc.cast(accepted_columns[0], pa.date32()), pa.string())
        accepted = pa.RecordBatch.from_arrays([*accepted_columns, day], schema=ACCEPTED_SCHEMA)
        bad = pc.invert(good)
        return Checked(
            accepted,
            _quarantined(batch, reason=reason, where=where, bad=bad, rows=rows, lines=lines),
        )


def _remainder(micros: pa.Array, unit: int) -> pa.Array:
    return pc.subtract(micros, pc.multiply(pc.divide(micros, unit), unit))


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


def _compact(array: pa.Array) -> pa.Array:
    """``array`` with only the dictionary values its rows use.

    Filtering keeps the whole dictionary, and Parquet writes a column's dictionary as it
    is: a value of a quarantined row (or of another batch of the file) would be stored.
    """
    if len(pc.unique(array.indices)) == len(array.dictionary):
        return array
    return _encoded(pc.cast(array, pa.string()))


def _encoded(array: pa.Array) -> pa.Array:
    return pc.cast(pc.dictionary_encode(array), _TEXT)


def _per_value(values: pa.Array, test: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``test`` of each distinct value, spread back over the rows (null rows give null)."""
    return pc.take(test(values.dictionary), values.indices)


def _is_empty(values: pa.Array) -> pa.Array:
    return pc.equal(pc.utf8_length(values), 0)


def _longer_than(limit: int) -> Callable[[pa.Array], pa.Array]:
    return lambda values: pc.greater(pc.utf8_length(values), limit)


def _unknown(values: pa.Array, known: pa.Array) -> pa.Array:
    return _per_value(values, lambda distinct: pc.invert(pc.is_in(distinct, known)))


def _bounded(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value) > _QUARANTINE_CHARS:
        return f"{value[:_QUARANTINE_CHARS]}… ({len(value)} characters)"
    return value


def _quarantined(
    batch: pa.RecordBatch,
    *,
    reason: pa.Array,
    where: pa.Array,
    bad: pa.Array,
    rows: pa.Array,
    lines: pa.Array | None,
) -> list[dict[str, Any]]:
    if not pc.any(bad).as_py():
        return []
    numbers = pc.filter(rows, bad).to_pylist()
    starts = pc.filter(lines, bad).to_pylist() if lines is not None else None
    columns = {name: pc.filter(batch.column(name), bad).to_pylist() for name in COLUMNS}
    reasons = pc.filter(reason, bad).to_pylist()
    fields = pc.filter(where, bad).to_pylist()
    out: list[dict[str, Any]] = []
    for i, row in enumerate(numbers):
        record: dict[str, Any] = {"row": row, "reason": reasons[i], "field": fields[i]}
        if starts is not None:
            record["line"] = starts[i]
        for name in COLUMNS:
            record[name] = _bounded(columns[name][i])
        out.append(record)
    return out
