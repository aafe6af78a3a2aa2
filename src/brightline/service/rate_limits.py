"""The per-credential rate limit of the admin and case routes, counted in the database so
that every server on it enforces one limit between them (two replicas do not double it).

Counts are per credential per minute (:mod:`brightline.store.rate_counts`), read as a
sliding window: a request is let through while this minute's count stays under the limit
less the part of the previous minute's count that still falls within the last sixty
seconds. One short transaction per request, outside the store-wide write lock; the
decision and bundle routes are not limited (they are sized for gateway traffic).
"""

from __future__ import annotations

import math
import time

from brightline.errors import RateLimitedError
from brightline.store import Store
from brightline.store.rate_counts import count_in, count_one


class RateLimiter:
    """``per_minute`` requests a minute per credential, across every server on ``store``."""

    def __init__(self, store: Store, per_minute: int) -> None:
        self._store = store
        self.per_minute = per_minute

    def take(self, credential: str, *, now: float | None = None) -> None:
        """Count one request; RateLimitedError (nothing counted) when over the limit."""
        at = time.time() if now is None else now
        minute, into = divmod(at, 60.0)
        with self._store.write_ephemeral() as session:
            previous = count_in(session, credential, int(minute) - 1)
            cap = math.floor(self.per_minute - previous * (1 - into / 60.0))
            if count_one(session, credential, int(minute), cap=cap) is None:
                raise RateLimitedError(f"rate limit of {self.per_minute} requests a minute reached")
