"""Parsing the values of metering columns with Arrow kernels: times, quantities, periods.

Each parser returns null where a value is not what it must be; the validator turns those
nulls into quarantine reasons.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from brightline.telemetry.schema import PERIOD_HOURS

TS_TYPE: Final = pa.timestamp("us", tz="UTC")
HOUR_US: Final = 3_600_000_000
DAY_US: Final = 24 * HOUR_US
_TIME_TEXT: Final = (
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)$"
)
_NUMBER_TEXT: Final = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_INTEGER_TEXT: Final = r"^\s*\d{1,3}\s*$"


def as_string(array: pa.Array) -> pa.Array | None:
    """The column as plain strings, or None when its type is not text."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return pc.cast(array, pa.string())
    if pa.types.is_dictionary(array.type) and (
        pa.types.is_string(array.type.value_type) or pa.types.is_large_string(array.type.value_type)
    ):
        return pc.cast(array, pa.string())
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    return None


def timestamps(array: pa.Array) -> pa.Array:
    """UTC timestamps; null where the value is not a time with a zone."""
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            # Parquet writers often drop the zone; metering times are UTC by definition.
            array = pc.assume_timezone(array, "UTC")
        return pc.cast(array, TS_TYPE)
    text = as_string(array)
    if text is None:
        return pa.nulls(len(array), TS_TYPE)
    ok = pc.fill_null(pc.match_substring_regex(text, _TIME_TEXT), False)
    candidate = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    try:
        return pc.cast(candidate, TS_TYPE)
    except pa.ArrowInvalid:
        # Well formed but impossible (month 13): parse one by one, rarely taken.
        return pa.array([_one_time(v) for v in candidate.to_pylist()], TS_TYPE)


def _one_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("z", "Z")).astimezone(UTC)
    except ValueError:
        return None


def quantities(array: pa.Array) -> pa.Array:
    """Finite float64 quantities; null where the value is not a finite number."""
    if (
        pa.types.is_integer(array.type)
        or pa.types.is_floating(array.type)
        or pa.types.is_decimal(array.type)
    ):
        values = pc.cast(array, pa.float64())
    else:
        text = as_string(array)
        if text is None:
            return pa.nulls(len(array), pa.float64())
        ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER_TEXT), False)
        values = pc.cast(
            pc.utf8_trim_whitespace(pc.if_else(ok, text, pa.scalar(None, pa.string()))),
            pa.float64(),
        )
    finite = pc.fill_null(pc.is_finite(values), False)
    return pc.if_else(finite, values, pa.scalar(None, pa.float64()))


def period_hours(array: pa.Array) -> pa.Array:
    """A metering file's ``hours`` column as int8: 1 or 24, null for anything else."""
    if pa.types.is_integer(array.type):
        values = pc.cast(array, pa.int64())
    elif pa.types.is_floating(array.type):
        whole = pc.equal(pc.floor(array), array)
        values = pc.cast(pc.if_else(whole, array, pa.scalar(None, array.type)), pa.int64())
    else:
        text = as_string(array)
        if text is None:
            return pa.nulls(len(array), pa.int8())
        ok = pc.fill_null(pc.match_substring_regex(text, _INTEGER_TEXT), False)
        values = pc.cast(
            pc.utf8_trim_whitespace(pc.if_else(ok, text, pa.scalar(None, pa.string()))),
            pa.int64(),
        )
    allowed = pc.is_in(values, pa.array(PERIOD_HOURS, pa.int64()))
    return pc.cast(pc.if_else(allowed, values, pa.scalar(None, pa.int64())), pa.int8())


def hours_between(start: pa.Array, end: pa.Array) -> pa.Array:
    """int8 hours of each ``[start, end)`` charge period: 1 for one hour, 24 for one day,
    null for any other length or where either end is not a time."""
    begin = pc.cast(timestamps(start), pa.int64())
    finish = pc.cast(timestamps(end), pa.int64())
    length = pc.subtract(finish, begin)
    return pc.if_else(
        pc.equal(length, HOUR_US),
        pa.scalar(1, pa.int8()),
        pc.if_else(pc.equal(length, DAY_US), pa.scalar(24, pa.int8()), pa.scalar(None, pa.int8())),
    )
