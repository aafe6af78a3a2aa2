"""The metering schema: usage rows of one hour or one UTC day, the only usage input
Brightline accepts.

A row says how much of a service operation a subscription used in a region during the
``hours`` hours from ``ts``: one hour (``hours`` 1, ``ts`` the start of a UTC hour) or one
UTC day (``hours`` 24, ``ts`` midnight UTC). A daily row is a daily quantity, stored once
and never spread over hours. Any other column is refused or, in a FOCUS export, never read,
since it could carry customer content.
"""

from __future__ import annotations

import enum
from typing import Final

import pyarrow as pa

TS: Final = "ts"
SUBSCRIPTION: Final = "subscription_id"
SERVICE: Final = "service"
OPERATION: Final = "operation"
REGION: Final = "region"
QUANTITY: Final = "quantity"
UNIT: Final = "unit"
HOURS: Final = "hours"

#: The columns of a metering record, in order.
COLUMNS: Final = (TS, SUBSCRIPTION, SERVICE, OPERATION, REGION, QUANTITY, UNIT)
STRING_COLUMNS: Final = (SUBSCRIPTION, SERVICE, OPERATION, REGION, UNIT)
#: Columns a metering file may leave out: ``hours`` defaults to 1 (an hourly row).
OPTIONAL_COLUMNS: Final = (HOURS,)
#: The lengths of a row's periods: an hour or a UTC day.
PERIOD_HOURS: Final = (1, 24)

#: The longest value of each text column, in characters. Ids are 1–128 characters in the
#: world files; a unit is a short name. A longer value is quarantined (``too_long``), never
#: stored: a field without a bound is room for content.
MAX_CHARS: Final = {SUBSCRIPTION: 128, SERVICE: 128, OPERATION: 128, REGION: 128, UNIT: 64}
#: The longest value of a provider column read only to match a service map (a FOCUS
#: ``ServiceName``, ``SkuMeter``, ``x_UsageType``…).
MAX_MATCH_CHARS: Final = 256

#: How rows are stored once validated (the dataset adds the ``day`` partition). Files
#: stored before ``hours`` existed lack it; readers take a missing ``hours`` as 1.
METERING_SCHEMA: Final = pa.schema(
    [
        pa.field(TS, pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field(SUBSCRIPTION, pa.string(), nullable=False),
        pa.field(SERVICE, pa.string(), nullable=False),
        pa.field(OPERATION, pa.string(), nullable=False),
        pa.field(REGION, pa.string(), nullable=False),
        pa.field(QUANTITY, pa.float64(), nullable=False),
        pa.field(UNIT, pa.string(), nullable=False),
        pa.field(HOURS, pa.int8(), nullable=False),
    ]
)

#: The partition column of the stored dataset: the UTC day of ``ts``, ``YYYY-MM-DD``.
DAY: Final = "day"

#: Set by a reader on a row it already knows to quarantine (a malformed line, a row no
#: service map rule matches, a JSON value of the wrong type); null otherwise.
PRESET_REASON: Final = "_reason"
#: The field that ``_reason`` is about, or null.
PRESET_FIELD: Final = "_field"


class Reason(enum.StrEnum):
    """Why a row was quarantined. The first that applies is recorded, in this order."""

    MALFORMED = "malformed_line"
    NOT_USAGE = "not_usage_charge"
    TOO_LONG = "too_long"
    UNMAPPED = "unmapped_service"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NOT_HOUR_START = "not_hour_start"
    UNSUPPORTED_PERIOD = "unsupported_period"
    NEGATIVE_QUANTITY = "negative_quantity"
    UNKNOWN_SUBSCRIPTION = "unknown_subscription"
    UNKNOWN_SERVICE = "unknown_service"
    UNKNOWN_OPERATION = "unknown_operation"
    UNKNOWN_REGION = "unknown_region"
    UNKNOWN_UNIT = "unknown_unit"
