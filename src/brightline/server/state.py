"""The server's state, shared by the API and the console (which never import each other):
the store, the signer, the bundle in force, the authenticator, rate limits, metrics, and
change notification — a change made through any way in is logged in the ledger, the
bundle recompiled and long-polling clients woken."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Final

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.concurrency import run_in_threadpool

from brightline.config import Settings
from brightline.errors import BrightlineError, RateLimitedError
from brightline.ledger import NoteSigner
from brightline.service.access import Authenticator
from brightline.service.bundles import BundleKeeper
from brightline.service.ledger import granularity_of, pending, sync_ledger
from brightline.store import Store

log = logging.getLogger("brightline.api")

REFRESH_SECONDS: Final = 0.1


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """A token bucket per credential."""

    per_minute: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, credential: str) -> None:
        now = time.monotonic()
        rate = self.per_minute / 60.0
        with self._lock:
            bucket = self._buckets.setdefault(credential, _Bucket(float(self.per_minute), now))
            bucket.tokens = min(self.per_minute, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1:
                raise RateLimitedError(f"rate limit of {self.per_minute} requests a minute reached")
            bucket.tokens -= 1


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.decisions = Counter(
            "brightline_decisions", "Decisions made, by effect", ["effect"], registry=r
        )
        self.latency = Histogram(
            "brightline_decision_seconds",
            "Time to decide one request (engine time, single endpoint)",
            buckets=(1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2),
            registry=r,
        )
        self.batch_latency = Histogram(
            "brightline_decision_batch_seconds", "Time to decide one batch", registry=r
        )
        self.bundle_serial = Gauge(
            "brightline_bundle_serial", "Serial of the bundle in force", registry=r
        )
        self.bundle_info = Gauge(
            "brightline_bundle_version",
            "1 for the snapshot version in force",
            ["version"],
            registry=r,
        )
        self.ledger_size = Gauge("brightline_ledger_size", "Entries in the ledger", registry=r)
        self.witness_submissions = Counter(
            "brightline_witness_submissions",
            "Checkpoints submitted to witnesses, by witness and outcome",
            ["witness", "outcome"],
            registry=r,
        )
        self.witness_cosignatures = Gauge(
            "brightline_witness_cosignatures",
            "Valid cosignatures, by the configured witnesses, on the latest checkpoint",
            registry=r,
        )


@dataclass
class AppState:
    settings: Settings
    store: Store
    signer: NoteSigner
    keeper: BundleKeeper
    authenticator: Authenticator
    limiter: RateLimiter
    metrics: Metrics
    changed: asyncio.Condition | None = None
    ready: bool = False


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.brightline
    return state


def refresh(state: AppState) -> bool:
    """Log pending changes in the ledger and recompile the bundle if anything changed."""
    if pending(state.store) or not state.ready:
        result = sync_ledger(
            state.store,
            signer=state.signer,
            granularity=granularity_of(state.settings),
        )
        state.metrics.ledger_size.set(result.size)
    state.authenticator.check_version()
    changed = state.keeper.refresh()
    bundle = state.keeper.current
    if changed:
        state.metrics.bundle_info.clear()
        state.metrics.bundle_info.labels(version=bundle.version).set(1)
        state.metrics.bundle_serial.set(bundle.serial)
    return changed


async def keep_current(state: AppState) -> None:
    assert state.changed is not None
    while True:
        await asyncio.sleep(REFRESH_SECONDS)
        try:
            changed = await run_in_threadpool(refresh, state)
        except BrightlineError as exc:  # the database may be away for a while
            log.warning(json.dumps({"event": "refresh-failed", "error": str(exc)}))
            continue
        if changed:
            async with state.changed:
                state.changed.notify_all()


async def notify_change(state: AppState) -> None:
    """Refresh now (after a change made through the API or the console) and wake
    long-polling clients; cached principals are dropped, so a grant or revocation made
    here applies to the next request."""
    state.authenticator.invalidate()
    if await run_in_threadpool(refresh, state) and state.changed is not None:
        async with state.changed:
            state.changed.notify_all()
