"""The per-credential rate limit of the admin and case routes, counted in the database so
that every server on it enforces one limit between them (two replicas do not double it).

Counts are per credential per minute (:mod:`brightline.store.rate_counts`), read as a
sliding window: a request is let through while this minute's count stays under the limit
less the part of the previous minute's count that still falls within the last sixty
seconds. One short transaction per request, outside the store-wide write lock; the
decision and bundle routes are not limited (they are sized for gateway traffic).

The public report routes have no credential: :class:`PublicRateLimiter` counts them by
client address, in memory, for one short window.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import threading
import time
from typing import Final

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


#: How long the public routes' limiter remembers anything: one window, in seconds.
PUBLIC_WINDOW_SECONDS: Final = 60.0


class PublicRateLimiter:
    """``per_window`` requests per client address per 60-second window, for the public
    report routes, which have no credential to count by.

    Kept in this process's memory only, never in the database or a log, and only for the
    current window: when a window ends, everything counted in it is dropped. Even in
    memory the address is not kept: counts are keyed by an HMAC of it under a key made
    at start and never written, so a memory dump does not list who reported. (Several
    servers each count on their own: the limit is per server.)
    """

    def __init__(self, per_window: int) -> None:
        self.per_window = per_window
        self._key = os.urandom(32)
        self._window = -1
        self._counts: dict[tuple[str, bytes], int] = {}
        self._lock = threading.Lock()

    def take(self, route: str, address: str | None, *, now: float | None = None) -> None:
        """Count one request of ``address`` on ``route``; RateLimitedError when over."""
        window = int((time.monotonic() if now is None else now) // PUBLIC_WINDOW_SECONDS)
        who = hmac.new(self._key, (address or "").encode(), hashlib.sha256).digest()
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            count = self._counts.get((route, who), 0)
            if count >= self.per_window:
                raise RateLimitedError(
                    f"too many attempts: at most {self.per_window} a minute; try again later"
                )
            self._counts[(route, who)] = count + 1
