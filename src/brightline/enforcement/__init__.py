"""For the provider's gateways: a client that keeps a signed bundle and decides in process."""

from brightline.enforcement.buffer import DecisionLogBuffer
from brightline.enforcement.client import Client, NoBundleError, RollbackError

__all__ = ["Client", "DecisionLogBuffer", "NoBundleError", "RollbackError"]
