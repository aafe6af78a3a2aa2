"""The server's state, shared by the API and the console (which never import each other):
the store, the signer, the bundle in force, the authenticator, rate limits, metrics, and
change notification — a change made through any way in is logged in the ledger, the
bundle recompiled and long-polling clients woken.

The event loop never waits for the database: routes run store work through
:func:`store_call`, and the decision and bundle routes need no database at all (the
bundle in force and the credentials already checked are in memory, kept current by
:func:`keep_current`)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar, TypeVarTuple

import anyio.to_thread
from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.concurrency import run_in_threadpool

from brightline.config import Settings
from brightline.errors import (
    BrightlineError,
    LedgerIntegrityError,
    StoreUnavailableError,
)
from brightline.ledger import NoteSigner
from brightline.server.push import ChangeSignal
from brightline.service.access import Authenticator
from brightline.service.bundles import BundleKeeper
from brightline.service.ledger import granularity_of, pending, sync_ledger
from brightline.service.rate_limits import PublicRateLimiter
from brightline.service.rate_limits import RateLimiter as RateLimiter
from brightline.service.stages import Stages
from brightline.store import DatabaseWait, Store, watching
from brightline.store.writer_lock import LedgerWriterLock

log = logging.getLogger("brightline.api")

#: How often a request waiting for store work looks whether that work waits too long.
_WATCH_SECONDS: Final = 0.05

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
#: How often a ledger that refused to sync is tried again.
LEDGER_RETRY_SECONDS: Final = 10.0


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.decisions = Counter(
            "brightline_decisions", "Decisions made, by effect", ["effect"], registry=r
        )
        #: Each effect's counter, looked up once: ``labels()`` costs more than deciding.
        self.decision_counts = {
            effect: self.decisions.labels(effect=effect) for effect in ("allow", "deny", "error")
        }
        self.latency = Histogram(
            "brightline_decision_seconds",
            "Time to decide one request (engine time, single endpoint)",
            buckets=(1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2),
            registry=r,
        )
        self.decision_fallbacks = Counter(
            "brightline_decision_fallbacks",
            "Single decisions the fast path handed to the full route (a new credential, "
            "a refusal, unusual or invalid input)",
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
        self.ledger_sync_refused = Counter(
            "brightline_ledger_sync_refused",
            "Syncs the ledger refused because the stored log is not an extension of its "
            "latest signed checkpoint (or its rows cannot be read as written)",
            registry=r,
        )
        self.ledger_refusing = Gauge(
            "brightline_ledger_refusing",
            "1 while the ledger refuses to append and sign (the server is not ready)",
            registry=r,
        )
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
        self.ledger_writer = Gauge(
            "brightline_ledger_writer",
            "1 while this server holds the ledger writer's lock (it logs the ledger and "
            "signs checkpoints; the other servers on the database do not)",
            registry=r,
        )
        self.database_answering = Gauge(
            "brightline_database_answering",
            "1 while the server's last look at the database was answered, else 0",
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
    #: The public report routes' limiter, by client address in memory.
    public_limiter: PublicRateLimiter = field(
        default_factory=lambda: PublicRateLimiter(
            Settings.model_fields["public_rate_per_minute"].default
        )
    )
    changed: asyncio.Condition | None = None
    #: When to look at the store again: pushed changes, else the poll.
    signal: ChangeSignal = field(default_factory=ChangeSignal)
    ready: bool = False
    #: Who logs the ledger among the servers on the database (None: this server alone).
    ledger_writer: LedgerWriterLock | None = None
    #: Whether this server held the ledger writer's lock at its last refresh.
    writes_ledger: bool = True
    #: Whether the database answered the last time the server asked; while it does not,
    #: a credential the server has not checked yet is refused at once (503).
    database_answering: bool = True

    def database_answered(self, answered: bool) -> None:
        if answered != self.database_answering:
            event = "database-answering" if answered else "database-not-answering"
            (log.info if answered else log.warning)(json.dumps({"event": event}))
        self.database_answering = answered
        self.metrics.database_answering.set(1 if answered else 0)

    #: One refresh at a time: a change made through a way in returns only once the bundle
    #: it brings is logged and served, even while the background refresh is mid-way.
    refreshing: threading.Lock = field(default_factory=threading.Lock)
    #: Why the ledger last refused to sync (None while it syncs): /readyz fails meanwhile.
    ledger_refused: str | None = None
    _retry_sync_at: float = 0.0


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.brightline
    return state


async def store_call(state: AppState, work: Callable[[*Ts], T], *args: *Ts) -> T:
    """``work(*args)``, which uses the store, in a worker thread, so that the event loop
    never waits for the database.

    Once the work has waited ``db_timeout`` for one answer from the database (a
    connection, a statement, a commit), the request gives up: StoreUnavailableError,
    hence 503. The work is left to the store's own timeouts in its thread; what it
    committed meanwhile is unknown to the caller (an idempotency key makes the retry
    safe). Work that keeps getting answers is waited for however long it takes.
    """
    wait = DatabaseWait()
    timeout = state.settings.db_timeout

    def watched() -> T:
        with watching(wait):
            return work(*args)

    task = asyncio.ensure_future(anyio.to_thread.run_sync(watched, abandon_on_cancel=True))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=_WATCH_SECONDS)
            if done:
                return task.result()
            if wait.longer_than(timeout):
                state.database_answered(False)
                raise StoreUnavailableError(f"the database did not answer within {timeout:g} s")
    finally:
        if not task.done():
            task.cancel()  # the thread goes on alone, holding no worker slot


def _sync(state: AppState) -> None:
    try:
        result = sync_ledger(
            state.store,
            signer=state.signer,
            granularity=granularity_of(state.settings),
            worlds=state.keeper.worlds,
        )
    except LedgerIntegrityError as exc:
        state.metrics.ledger_sync_refused.inc()
        state.metrics.ledger_refusing.set(1)
        state.ledger_refused = str(exc)
        state._retry_sync_at = time.monotonic() + LEDGER_RETRY_SECONDS
        return
    if state.ledger_refused is not None:
        log.warning(json.dumps({"event": "ledger-sync-resumed", "size": result.size}))
    state.ledger_refused = None
    state.metrics.ledger_refusing.set(0)
    state.metrics.ledger_size.set(result.size)


def _try_sync(state: AppState) -> None:
    """Sync, unless the ledger refused lately and its retry is not due yet."""
    if state.ledger_refused is None or time.monotonic() >= state._retry_sync_at:
        _sync(state)


def refresh(state: AppState) -> bool:
    """Log pending changes in the ledger and recompile the bundle if anything changed; a
    new bundle is logged at once and comes into force when a checkpoint covers it.

    A ledger that refuses to sync (:mod:`brightline.service.ledger_guard`: the stored log
    is shorter than, or not consistent with, its latest signed checkpoint) does not stop
    the server: changes keep committing to the store and its outbox, and the refusal is
    kept in ``ledger_refused`` (so /readyz fails), counted and logged; the sync is tried
    again every LEDGER_RETRY_SECONDS (after a restore). Meanwhile no new bundle can be
    logged, so none comes into force and the one in force is no longer confirmed: clients
    keep it until their ``max_staleness``, then apply their stale mode."""
    with state.refreshing:
        return _refresh(state)


def wait_for_refresh(state: AppState, timeout: float = 30.0) -> None:
    """Return once no refresh is running (or after ``timeout`` seconds)."""
    if state.refreshing.acquire(timeout=timeout):
        state.refreshing.release()


def _refresh(state: AppState) -> bool:
    stages = Stages()
    # Access first, a read: revocations apply even while the ledger cannot be written
    # (another process holding the write lock, say).
    try:
        with stages.stage("read"):
            state.authenticator.check_version()
    except StoreUnavailableError:
        state.database_answered(False)
        raise
    state.database_answered(True)
    # One server logs the ledger and signs checkpoints (the writer's lock); the others
    # serve what it logged, so that the log has one writer and checkpoints one signer.
    with stages.stage("read"):
        writer = state.ledger_writer is None or state.ledger_writer.held()
    state.writes_ledger = writer
    state.metrics.ledger_writer.set(1 if writer else 0)
    # The bundle first: one sync then logs the change and the bundle.issued event it
    # brought, so that the bundle can be served (one write to the ledger, not two).
    issued = state.keeper.refresh(stages=stages)
    if writer and (issued or not state.ready or pending(state.store)):
        with stages.stage("ledger sync"):
            _try_sync(state)
    with stages.stage("publish"):
        changed = state.keeper.publish()
    bundle = state.keeper.current
    if changed:
        state.metrics.bundle_info.clear()
        state.metrics.bundle_info.labels(version=bundle.version).set(1)
        state.metrics.bundle_serial.set(bundle.serial)
        log.info(
            json.dumps(
                {
                    "event": "bundle-in-force",
                    "version": bundle.version,
                    "serial": bundle.serial,
                    "stages": stages.to_json(),
                }
            )
        )
    return changed


async def keep_current(state: AppState, stop: asyncio.Event) -> None:
    """Refresh whenever ``state.signal`` says (a change pushed, or the poll is due) until
    ``stop`` is set. Never cancelled in the middle of a refresh: its worker thread would
    go on after the server stopped, holding a connection of a store about to be closed."""
    assert state.changed is not None
    while True:
        await state.signal.wait(stop)
        if stop.is_set():
            return
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
    long-polling clients; known credentials are checked again first, so a grant or
    revocation made here applies to the next request. If the database stops answering
    in between, the change stands and the refresh loop applies it once it answers."""
    state.authenticator.invalidate()
    try:
        changed = await store_call(state, refresh, state)
    except StoreUnavailableError as exc:
        log.warning(json.dumps({"event": "refresh-after-change-failed", "error": str(exc)}))
        return
    if changed and state.changed is not None:
        async with state.changed:
            state.changed.notify_all()
    if not state.writes_ledger:
        from brightline.server.replicas import follow_writer

        await follow_writer(state)
