"""The enforcement-point client: keeps a verified bundle and decides in process.

- pulls ``/v1/bundles/current`` (long-polling with ``If-None-Match``), checks the
  signature with the deployment's verifier key and the payload against it (once per
  process for the same bytes: :mod:`~brightline.enforcement.opened`);
- checks that the log holds the bundle: its ``bundle.issued`` entry, the inclusion
  proof into a checkpoint the :data:`~brightline.bundle.CheckpointPolicy` accepts, and
  that this checkpoint extends the one held (consistency proof) — a bundle without a
  valid proof is refused unless ``accept_unlogged_bundles_unsafe``;
- keeps a high-water mark (:mod:`~brightline.enforcement.highwater`) in its own
  fsynced file and refuses anything older than it — from the server or from its own
  cache directory, also after a restart;
- keeps the last good bundle on disk (written whole: :mod:`brightline.files`) and, when
  the server is unreachable, keeps deciding from it — including after a restart; a
  cache or mark that cannot be written (a full disk…) is said in ``last_error`` and
  written at the next refresh;
- bounds the age of its policy (:mod:`~brightline.enforcement.staleness`): past
  ``max_staleness`` without the server's signed confirmation it reports itself stale
  and applies the configured mode;
- decides at the engine's speed (a Snapshot in memory) and counts denials and
  would-denials in a bounded on-disk buffer that it reports to ``/v1/decision-logs``;
- trusts a ledger checkpoint only when signed by the log's key and cosigned by a quorum
  of the witnesses it is given (:meth:`Client.open_checkpoint`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
import numpy as np

from brightline import files
from brightline.bundle import (
    CURRENT_HEADER,
    Bundle,
    CheckpointPolicy,
    Current,
    LedgerProof,
    LogState,
    decode_header,
    open_current,
    verify_logged,
)
from brightline.enforcement.buffer import DecisionLogBuffer
from brightline.enforcement.exchanges import ExchangeError, exchanges
from brightline.enforcement.highwater import (
    HIGH_WATER_FILE,
    HighWater,
    read_high_water,
)
from brightline.enforcement.opened import open_received
from brightline.enforcement.staleness import ClientMetrics, Staleness, StalenessChange
from brightline.errors import (
    BrightlineError,
    InvalidInputError,
    LedgerIntegrityError,
    StorageError,
)
from brightline.ledger import (
    Checkpoint,
    CosignatureVerifier,
    NoteVerifier,
    WitnessQuorum,
    open_checkpoint,
)
from brightline.policy import BatchDecisions, BatchEffect, Decision, Request, Snapshot, format_time

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

log = logging.getLogger("brightline.enforcement")
BUNDLE_FILE: Final = "bundle.json"
LOG_FILE: Final = "decision-log.json"


class RollbackError(LedgerIntegrityError):
    """A bundle older than the high-water mark (from the server or the cache)."""


class NoBundleError(BrightlineError):
    """No bundle yet: neither the server nor the disk has given one. Fail closed."""


class Client:
    """An enforcement point's view of the policy in force.

    ``checkpoint_policy`` decides which signed checkpoints prove a bundle (default:
    :meth:`open_checkpoint`, the log's key ``verifier`` and the quorum of
    ``witnesses``); ``witnesses`` are the verifier keys of the witnesses whose
    cosignatures a ledger checkpoint must carry, ``witness_quorum`` how many of them
    (default: all); ``accept_unlogged_bundles_unsafe`` accepts bundles that come
    without a ledger proof (a proof that comes is still checked); ``staleness`` bounds
    the policy's age and ``on_stale`` hears when the client becomes stale or fresh
    again; ``on_bundle`` hears of each new bundle as it comes into force (before its
    cache file is written). ``transport``, an httpx transport (a proxy, client
    certificates, a test's server), makes the client go through httpx; without it the
    client speaks HTTP/1.1 itself (:mod:`~brightline.enforcement.exchanges`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        verifier: NoteVerifier | str,
        cache_dir: Path,
        enforcement_point: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        witnesses: Sequence[CosignatureVerifier | str] = (),
        witness_quorum: int | None = None,
        checkpoint_policy: CheckpointPolicy | None = None,
        accept_unlogged_bundles_unsafe: bool = False,
        staleness: Staleness | None = None,
        on_stale: Callable[[StalenessChange], None] | None = None,
        on_bundle: Callable[[Bundle], None] | None = None,
    ) -> None:
        self._verifier = NoteVerifier.parse(verifier) if isinstance(verifier, str) else verifier
        self.witnesses = WitnessQuorum.of(witnesses, quorum=witness_quorum)
        self._checkpoint_policy = checkpoint_policy or self.open_checkpoint
        self._unlogged_ok = accept_unlogged_bundles_unsafe
        self.staleness = staleness or Staleness()
        self._on_stale = on_stale
        self._on_bundle = on_bundle
        self._cache_dir = cache_dir
        self.enforcement_point = enforcement_point
        self._timeout = timeout
        self._http = exchanges(base_url, api_key=api_key, timeout=timeout, transport=transport)
        # Held while a bundle is checked against the high-water mark and persisted, so
        # two refreshes cannot interleave; deciding reads attributes and takes no lock.
        self._lock = threading.RLock()
        self._bundle: Bundle | None = None
        self._snapshot: Snapshot | None = None
        self._high: HighWater | None = None
        self._confirmed_at: datetime | None = None
        self._stale_after = math.inf  # epoch seconds
        self._stale = False
        self._stale_services: tuple[str, np.ndarray[Any, Any]] | None = None
        self.metrics = ClientMetrics()
        #: What is held in memory but not yet on disk (a full disk…): written at the
        #: next refresh. The bundle as received, byte for byte.
        self._unsaved_bundle: bytes | None = None
        self._unsaved_mark = False
        files.remove_partials(cache_dir)  # what a killed client was writing
        self.buffer = DecisionLogBuffer(cache_dir / LOG_FILE)
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._load_cached()

    # -- the high-water mark and the cache ---------------------------------------------

    def _load_cached(self) -> None:
        """Start from the cache directory: the high-water mark, then the cached bundle if
        it is not older. A cached bundle without a readable high-water file is not
        trusted (it could be any bundle ever issued): the client waits for the server."""
        try:
            self._high = read_high_water(self._cache_dir / HIGH_WATER_FILE)
        except (InvalidInputError, ValueError, OSError) as exc:
            log.warning("ignoring an unreadable high-water file: %s", exc)
            self._high = None
        path = self._cache_dir / BUNDLE_FILE
        if not path.is_file():
            return
        if self._high is None:
            self._refused(
                "ignoring the cached bundle: there is no high-water mark to check it against"
            )
            return
        try:
            document, bundle = open_received(path.read_bytes(), self._verifier, where=str(path))
            with self._lock:
                ledger = self._check(bundle, document, source="the cached bundle")
                self._install(bundle, ledger)
        except (BrightlineError, ValueError, OSError) as exc:
            # A damaged or older cache is ignored, not trusted; the server sends a good one.
            self._refused(f"ignoring the cached bundle: {exc}")

    def _refused(self, message: str) -> None:
        log.warning("%s", message)
        self.metrics.bundles_refused += 1
        self.last_error = message

    def _check(self, bundle: Bundle, document: Any, *, source: str) -> LogState | None:
        """Check ``bundle`` (opened from ``document``) against the high-water mark and the
        log; returns the checkpoint that proved it. Raises RollbackError for an older
        bundle, LedgerIntegrityError for one the log does not hold (or a log that forks),
        InvalidInputError if its proof is malformed. Call with the lock held."""
        high = self._high
        if high is not None and bundle.serial < high.serial:
            raise RollbackError(
                f"refusing {source} (serial {bundle.serial}): serial {high.serial} "
                "has been accepted before"
            )
        if high is not None and bundle.serial == high.serial and bundle.version != high.version:
            raise LedgerIntegrityError(
                f"refusing {source}: serial {bundle.serial} names another bundle"
            )
        return self._check_logged(bundle, document, high, source=source)

    def _check_logged(
        self, bundle: Bundle, document: Any, high: HighWater | None, *, source: str
    ) -> LogState | None:
        held = self._held_log(high)
        raw = document.get("ledger") if isinstance(document, dict) else None
        if raw is None:
            if self._unlogged_ok:
                return held
            raise LedgerIntegrityError(f"refusing {source}: it carries no ledger proof")
        try:
            proof = LedgerProof.from_json(raw)
            checkpoint = verify_logged(
                bundle, proof, checkpoint_policy=self._checkpoint_policy, held=held
            )
        except (LedgerIntegrityError, InvalidInputError) as exc:
            raise LedgerIntegrityError(f"refusing {source}: {exc}") from exc
        return LogState(checkpoint.size, checkpoint.root_hash)

    def _held_log(self, high: HighWater | None) -> LogState | None:
        """The checkpoint a new one must extend: the mark's, if it is of the log this
        client's key signs (after a seal, the client given the next log's key starts
        afresh on that log; bundle serials still may not go back)."""
        if high is None or high.origin != self._verifier.name:
            return None
        return high.ledger

    def _install(
        self,
        bundle: Bundle,
        ledger: LogState | None,
        *,
        received: bytes | None = None,
        current: Current | None = None,
    ) -> None:
        """Record ``bundle`` as the high-water mark, fsynced, then decide with it, then
        keep the bytes ``received``, as they came, in the cache. The mark first: once it
        is on disk nothing older is accepted, after a crash too; a crash before the cache
        file is written leaves a cached bundle older than the mark, which the next start
        refuses (it waits for the server), never the reverse. ``current``, the server's
        freshness note that came with it, goes into the same write of the mark. Call
        with the lock held."""
        high = self._high
        confirmed = bundle.issued_at
        if high is not None and high.version == bundle.version:
            confirmed = max(confirmed, high.confirmed_at)
        confirmed = _confirmed(current, bundle.version, since=confirmed)
        origin = None if ledger is None else self._verifier.name
        self._high = HighWater(bundle.serial, bundle.version, ledger, confirmed, origin)
        self._unsaved_mark = True
        self._persist(mark_only=True)
        self._bundle = bundle
        self._snapshot = bundle.snapshot
        self._set_confirmed(confirmed)
        if self._on_bundle is not None:
            try:
                self._on_bundle(bundle)
            except Exception:  # a gateway's callback must not stop it deciding
                log.exception("the on_bundle callback failed")
        if received is not None:
            self._unsaved_bundle = received
        self._persist()

    def _write_mark(self, mark: HighWater) -> None:
        self._high = mark
        self._unsaved_mark = True
        self._persist()

    def _persist(self, *, mark_only: bool = False) -> None:
        """Put on disk what is held but not there yet: the bundle's document first, then
        the mark (only the mark if ``mark_only``). Deciding does not wait for a failure
        (a full disk…): it goes to ``last_error`` and the next refresh tries again. Call
        with the lock held."""
        contents: list[tuple[Path, bytes | str]] = []
        if self._unsaved_bundle is not None and not mark_only:
            contents.append((self._cache_dir / BUNDLE_FILE, self._unsaved_bundle))
        if self._unsaved_mark and self._high is not None:
            contents.append((self._cache_dir / HIGH_WATER_FILE, self._high.encoded()))
        if not contents:
            return
        try:
            # The directory forced to disk once for both. Were a crash to keep the mark's
            # rename and not the bundle's, the older cached bundle would be refused at the
            # next start (the client waits for the server): never a rollback.
            files.write_files(contents)
            if not mark_only:
                self._unsaved_bundle = None
            self._unsaved_mark = False
        except StorageError as exc:
            log.warning("the bundle in force is not on disk: %s", exc)
            self.last_error = str(exc)

    # -- bundles -----------------------------------------------------------------------

    def refresh(self, *, wait: float = 0) -> bool:
        """Fetch the bundle in force (waiting up to ``wait`` seconds for a new one).

        True when a new bundle was installed. A network failure keeps the bundle held
        (and records ``last_error``); a bad signature, a bundle the log does not hold or
        a rollback raises.
        """
        try:
            return self._refresh(wait)
        finally:
            self.check_stale()

    def _refresh(self, wait: float) -> bool:
        headers = {}
        params: dict[str, float | int] = {}
        if self._bundle is not None:
            headers["if-none-match"] = f'"{self._bundle.version}"'
        if wait:
            params["wait"] = wait
        held = self._held_log(self._high)
        if held is not None and held.size:
            params["ledger_size"] = held.size
        try:
            response = self._http.get(
                "/v1/bundles/current", params=params, headers=headers, timeout=wait + 10
            )
        except ExchangeError as exc:
            self.last_error = f"server unreachable: {exc}"
            return False
        if response.status == 304:
            self.last_error = None
            with self._lock:
                self._persist()
            self._confirm(self._current(response.headers.get(CURRENT_HEADER)))
            return False
        if response.status != 200:
            self.last_error = f"server answered {response.status}: {response.text[:200]}"
            return False
        try:
            document, bundle = open_received(response.content, self._verifier, where="bundle")
        except (ValueError, InvalidInputError) as exc:
            raise LedgerIntegrityError(f"the server sent a malformed bundle: {exc}") from exc
        self.last_error = None
        current = self._current(response.headers.get(CURRENT_HEADER))
        if self._bundle is not None and bundle.version == self._bundle.version:
            with self._lock:
                self._persist()
            self._confirm(current)
            return False
        try:
            with self._lock:
                ledger = self._check(bundle, document, source="the server's bundle")
                self._install(bundle, ledger, received=response.content, current=current)
        except BrightlineError as exc:
            self._refused(str(exc))
            raise
        self.metrics.bundles_installed += 1
        return True

    def _current(self, header: str | None) -> Current | None:
        """The server's signed word on the bundle in force, or None (said in
        ``last_error``) when there is none or it does not check."""
        if header is None:
            self.last_error = "the server did not confirm that the bundle is current"
            return None
        try:
            return open_current(decode_header(header), self._verifier)
        except (LedgerIntegrityError, InvalidInputError) as exc:
            self.last_error = f"the server's confirmation does not check: {exc}"
            return None

    def _confirm(self, current: Current | None) -> None:
        """Move the bundle's confirmation time to the server's signed word, if it is for
        the bundle held; anything else (no note, a bad one, one for another bundle)
        leaves it where it was, so that the bundle ages."""
        with self._lock:
            high = self._high
            if high is None:
                return
            at = _confirmed(current, high.version, since=high.confirmed_at)
            if at == high.confirmed_at:
                return
            self._write_mark(dataclasses.replace(high, confirmed_at=at))
            self._set_confirmed(at)

    def _set_confirmed(self, at: datetime) -> None:
        self._confirmed_at = at
        self._stale_after = at.timestamp() + self.staleness.max_staleness.total_seconds()

    def start(self, *, wait: float = 30.0, report_every: float = 10.0) -> None:
        """Long-poll for new bundles and report decision logs in a background thread."""

        def loop() -> None:
            next_report = 0.0
            while not self._stop.is_set():
                try:
                    self.refresh(wait=wait)
                    if time.monotonic() >= next_report:
                        self.report()
                        next_report = time.monotonic() + report_every
                except BrightlineError as exc:
                    self.last_error = str(exc)
                    self._stop.wait(1.0)
                if self.last_error is not None:
                    self._stop.wait(1.0)  # back off while the server is away

        self._thread = threading.Thread(target=loop, name="brightline-bundles", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread and persist the buffer.

        A long poll in flight is not waited for: the thread is a daemon and ends when
        its request does, having nothing left to do.
        """
        self._stop.set()
        self._http.close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self.buffer.persist()

    @property
    def version(self) -> str | None:
        return None if self._bundle is None else self._bundle.version

    @property
    def serial(self) -> int | None:
        return None if self._bundle is None else self._bundle.serial

    def open_checkpoint(self, note: str) -> Checkpoint:
        """A ledger checkpoint this client may rely on: signed by the log's key and
        cosigned by the quorum of its witnesses. Raises LedgerIntegrityError (naming how
        many cosignatures were valid and needed) otherwise, InvalidInputError when the
        note is malformed."""
        checkpoint = open_checkpoint(note, self._verifier)
        self.witnesses.check(note)
        return checkpoint

    @property
    def ledger_size(self) -> int | None:
        """The size of the checkpoint that proved the bundle held (the high-water mark)."""
        return None if self._high is None or self._high.ledger is None else self._high.ledger.size

    # -- staleness ---------------------------------------------------------------------

    @property
    def confirmed_at(self) -> datetime | None:
        """When the server last confirmed the bundle held as the policy in force."""
        return self._confirmed_at

    @property
    def age(self) -> timedelta | None:
        """How long ago the bundle held was last confirmed (None without a bundle)."""
        confirmed = self._confirmed_at
        return None if confirmed is None else datetime.now(UTC) - confirmed

    @property
    def stale(self) -> bool:
        """Whether the bundle held is older than ``max_staleness`` (False without one:
        the client then refuses to decide at all)."""
        return self.check_stale()

    def check_stale(self) -> bool:
        """Whether the client is stale now; calls ``on_stale`` when that changed."""
        stale = self._bundle is not None and time.time() >= self._stale_after
        if stale == self._stale:
            return stale
        with self._lock:
            if stale == self._stale:
                return stale
            self._stale = stale
            if stale:
                self.metrics.became_stale += 1
        confirmed = self._confirmed_at
        age = timedelta(0) if confirmed is None else datetime.now(UTC) - confirmed
        if stale:
            log.warning(
                "the bundle is stale: last confirmed %s, %s ago (max_staleness %s); mode %s",
                format_time(confirmed),
                age,
                self.staleness.max_staleness,
                self.staleness.mode.value,
            )
        else:
            log.info("the bundle is confirmed current again")
        if self._on_stale is not None:
            try:
                self._on_stale(StalenessChange(stale, age, confirmed, self.version))
            except Exception:  # a gateway's callback must not stop it deciding
                log.exception("the on_stale callback failed")
        return stale

    def _stale_reason(self) -> str:
        return (
            f"stale bundle: the policy was last confirmed at {format_time(self._confirmed_at)}, "
            f"more than {self.staleness.max_staleness} ago (stale mode: deny)"
        )

    # -- deciding ----------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raise NoBundleError("no bundle has been received yet; refusing to decide")
        return snapshot

    def decide(self, request: Request) -> Decision:
        """Decide in process; denials and would-denials are logged for the server. A
        stale client in the deny mode denies the services its configuration lists."""
        decision = self.snapshot.decide(request)
        if decision.matched or decision.would_deny:
            self.buffer.record(decision)
        if (
            not decision.matched
            and time.time() >= self._stale_after
            and self.check_stale()
            and self.staleness.denies(request.service)
        ):
            self.metrics.stale_denials += 1
            return Decision.fail_closed(decision, reason=self._stale_reason())
        return decision

    def decide_batch(self, columns: Mapping[str, Any], *, at: datetime | None = None) -> Any:
        snapshot = self.snapshot
        result: BatchDecisions = snapshot.decide_batch(columns, at=at)
        if time.time() < self._stale_after or not self.check_stale():
            return result
        listed = self._listed_services(snapshot)
        if not listed.any():
            return result
        service = columns.column("service") if hasattr(columns, "column") else columns["service"]
        codes = snapshot.batch_arrays.encode("service", service)
        hit = (codes >= 0) & listed[np.maximum(codes, 0)] & (result.effect == BatchEffect.ALLOW)
        if not hit.any():
            return result
        effect = result.effect.copy()
        effect[hit] = BatchEffect.DENY
        self.metrics.stale_denials += int(hit.sum())
        return dataclasses.replace(result, effect=effect, reason=self._stale_reason())

    def _listed_services(self, snapshot: Snapshot) -> np.ndarray[Any, Any]:
        """Per service code of ``snapshot``: whether a stale client denies it."""
        cached = self._stale_services
        if cached is not None and cached[0] == snapshot.version:
            return cached[1]
        ids = snapshot.batch_arrays.service_ids
        listed = np.fromiter((self.staleness.denies(s) for s in ids), dtype=bool, count=len(ids))
        self._stale_services = (snapshot.version, listed)
        return listed

    # -- metrics -----------------------------------------------------------------------

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Export the client's state to Prometheus: ``brightline_client_stale``,
        ``brightline_client_bundle_age_seconds``, ``brightline_client_bundle_serial``,
        ``brightline_client_ledger_size`` and the counters of :class:`ClientMetrics`."""
        from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily

        client = self

        class _Collector:
            def collect(self) -> Iterator[Metric]:
                age = client.age
                gauges = {
                    "stale": ("1 when the bundle held is older than max_staleness", client.stale),
                    "bundle_age_seconds": (
                        "Seconds since the server last confirmed the bundle held",
                        math.nan if age is None else age.total_seconds(),
                    ),
                    "bundle_serial": ("Serial of the bundle held", client.serial or 0),
                    "ledger_size": (
                        "Checkpoint size of the high-water mark",
                        client.ledger_size or 0,
                    ),
                }
                for name, (text, value) in gauges.items():
                    yield GaugeMetricFamily(f"brightline_client_{name}", text, value=float(value))
                counters = dataclasses.asdict(client.metrics)
                for name, value in counters.items():
                    yield CounterMetricFamily(
                        f"brightline_client_{name}", f"Enforcement point: {name}", value=value
                    )

        registry.register(_Collector())

    # -- decision logs -----------------------------------------------------------------

    def report(self) -> bool:
        """Send the pending decision log; True if the server has it (or nothing was due)."""
        report = self.buffer.take()
        if report is None:
            return True
        try:
            response = self._http.post_json(
                "/v1/decision-logs",
                json.dumps(report.body(self.enforcement_point), allow_nan=False).encode(),
                timeout=self._timeout,
            )
        except ExchangeError as exc:
            self.last_error = f"decision logs not sent: {exc}"
            return False
        if response.status != 200:
            self.last_error = f"decision logs refused: {response.status} {response.text[:200]}"
            return False
        self.buffer.sent(report)
        return True

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _confirmed(current: Current | None, version: str, *, since: datetime) -> datetime:
    """When bundle ``version``, confirmed ``since``, was last confirmed: moved on to the
    server's signed word ``current`` if that names the same bundle, never back."""
    if current is None or current.version != version:
        return since
    # A time in the future would stretch freshness: never later than now.
    return max(since, min(current.at, datetime.now(UTC)))
