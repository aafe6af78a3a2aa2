"""The metering schema: hourly usage rows, the only usage input Brightline accepts.

A row says how much of a service operation a subscription used in a region during one
UTC hour. Any other column is refused, since it could carry customer content.
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

#: The columns of a metering record, in order.
COLUMNS: Final = (TS, SUBSCRIPTION, SERVICE, OPERATION, REGION, QUANTITY, UNIT)
STRING_COLUMNS: Final = (SUBSCRIPTION, SERVICE, OPERATION, REGION, UNIT)

#: How rows are stored once validated (the dataset adds the ``day`` partition).
METERING_SCHEMA: Final = pa.schema(
    [
        pa.field(TS, pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field(SUBSCRIPTION, pa.string(), nullable=False),
        pa.field(SERVICE, pa.string(), nullable=False),
        pa.field(OPERATION, pa.string(), nullable=False),
        pa.field(REGION, pa.string(), nullable=False),
        pa.field(QUANTITY, pa.float64(), nullable=False),
        pa.field(UNIT, pa.string(), nullable=False),
    ]
)

#: The partition column of the stored dataset: the UTC day of ``ts``, ``YYYY-MM-DD``.
DAY: Final = "day"

#: Set by a reader on a row it already knows to quarantine (a malformed JSON line, a
#: FOCUS charge that is not usage, a JSON value of the wrong type); null otherwise.
PRESET_REASON: Final = "_reason"


class Reason(enum.StrEnum):
    """Why a row was quarantined. The first that applies is recorded, in this order."""

    MALFORMED = "malformed_line"
    NOT_USAGE = "not_usage_charge"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NOT_HOUR_START = "not_hour_start"
    NEGATIVE_QUANTITY = "negative_quantity"
    UNKNOWN_SUBSCRIPTION = "unknown_subscription"
    UNKNOWN_SERVICE = "unknown_service"
    UNKNOWN_OPERATION = "unknown_operation"
    UNKNOWN_REGION = "unknown_region"
