"""For the provider's gateways: a client that keeps a signed bundle and decides in process."""

from brightline.enforcement.buffer import DecisionLogBuffer
from brightline.enforcement.client import Client, NoBundleError, RollbackError
from brightline.enforcement.highwater import HIGH_WATER_FILE, HighWater, read_high_water
from brightline.enforcement.staleness import (
    DEFAULT_MAX_STALENESS,
    ClientMetrics,
    StaleMode,
    Staleness,
    StalenessChange,
)

__all__ = [
    "DEFAULT_MAX_STALENESS",
    "HIGH_WATER_FILE",
    "Client",
    "ClientMetrics",
    "DecisionLogBuffer",
    "HighWater",
    "NoBundleError",
    "RollbackError",
    "StaleMode",
    "Staleness",
    "StalenessChange",
    "read_high_water",
]
