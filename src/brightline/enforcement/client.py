"""The enforcement-point client: keeps a verified bundle and decides in process.

- pulls ``/v1/bundles/current`` (long-polling with ``If-None-Match``), checks the
  signature with the deployment's verifier key and the payload against it;
- refuses a bundle whose serial is lower than the one it holds (no rollback);
- keeps the last good bundle on disk (written whole: :mod:`brightline.files`) and, when
  the server is unreachable, keeps deciding from it — including after a restart; a
  cache that cannot be written (a full disk…) is said in ``last_error`` and written at
  the next refresh;
- decides at the engine's speed (a Snapshot in memory) and counts denials and
  would-denials in a bounded on-disk buffer that it reports to ``/v1/decision-logs``;
- trusts a ledger checkpoint only when signed by the log's key and cosigned by a quorum
  of the witnesses it is given (:meth:`Client.open_checkpoint`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx

from brightline import files
from brightline.bundle import Bundle, open_bundle
from brightline.enforcement.buffer import DecisionLogBuffer
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
from brightline.limits import load_json
from brightline.policy import Decision, Request, Snapshot

log = logging.getLogger("brightline.enforcement")
BUNDLE_FILE: Final = "bundle.json"
LOG_FILE: Final = "decision-log.json"


class RollbackError(LedgerIntegrityError):
    """The server offered a bundle older than the one held."""


class NoBundleError(BrightlineError):
    """No bundle yet: neither the server nor the disk has given one. Fail closed."""


class Client:
    """``witnesses`` are the verifier keys of the witnesses whose cosignatures a ledger
    checkpoint must carry, ``witness_quorum`` how many of them (default: all)."""

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
    ) -> None:
        self._verifier = NoteVerifier.parse(verifier) if isinstance(verifier, str) else verifier
        self.witnesses = WitnessQuorum.of(witnesses, quorum=witness_quorum)
        self._cache_dir = cache_dir
        self.enforcement_point = enforcement_point
        self._http = httpx.Client(
            base_url=base_url,
            headers={"authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self._lock = threading.Lock()
        self._bundle: Bundle | None = None
        self._snapshot: Snapshot | None = None
        self._cached_version: str | None = None
        files.remove_partials(cache_dir)  # what a killed client was writing
        self.buffer = DecisionLogBuffer(cache_dir / LOG_FILE)
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._load_cached()

    # -- bundles ---------------------------------------------------------------------

    def _load_cached(self) -> None:
        path = self._cache_dir / BUNDLE_FILE
        if not path.is_file():
            return
        try:
            document = load_json(path.read_bytes(), where=str(path))
            self._install(open_bundle(document, self._verifier))
            self._cached_version = self.version
        except (BrightlineError, ValueError, OSError) as exc:
            # A damaged cache is ignored, not trusted; the server will send a good one.
            log.warning("ignoring the cached bundle: %s", exc)

    def _install(self, bundle: Bundle) -> None:
        with self._lock:
            held = self._bundle
            if held is not None and bundle.serial < held.serial:
                raise RollbackError(
                    f"refusing bundle serial {bundle.serial}: serial {held.serial} is held"
                )
            self._bundle = bundle
            self._snapshot = bundle.snapshot

    def _save(self, bundle: Bundle | None) -> None:
        """Keep ``bundle`` on disk, unless it is already. Deciding does not depend on it:
        a failure (a full disk…) goes to ``last_error`` and the next refresh tries again."""
        if bundle is None or bundle.version == self._cached_version:
            return
        try:
            files.write_file(self._cache_dir / BUNDLE_FILE, json.dumps(bundle.document()))
        except StorageError as exc:
            log.warning("the bundle in force is not cached: %s", exc)
            self.last_error = str(exc)
            return
        self._cached_version = bundle.version

    def refresh(self, *, wait: float = 0) -> bool:
        """Fetch the bundle in force (waiting up to ``wait`` seconds for a new one).

        True when a new bundle was installed. A network failure keeps the bundle held
        (and records ``last_error``); a bad signature or a rollback raises.
        """
        headers = {}
        if self._bundle is not None:
            headers["if-none-match"] = f'"{self._bundle.version}"'
        try:
            response = self._http.get(
                "/v1/bundles/current",
                params={"wait": wait} if wait else None,
                headers=headers,
                timeout=wait + 10,
            )
        except httpx.HTTPError as exc:
            self.last_error = f"server unreachable: {exc}"
            return False
        if response.status_code == 304:
            self.last_error = None
            self._save(self._bundle)
            return False
        if response.status_code != 200:
            self.last_error = f"server answered {response.status_code}: {response.text[:200]}"
            return False
        try:
            bundle = open_bundle(load_json(response.content, where="bundle"), self._verifier)
        except (ValueError, InvalidInputError) as exc:
            raise LedgerIntegrityError(f"the server sent a malformed bundle: {exc}") from exc
        if self._bundle is not None and bundle.version == self._bundle.version:
            self._save(self._bundle)
            return False
        self._install(bundle)
        self.last_error = None
        self._save(bundle)
        return True

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
                except RuntimeError:  # the HTTP client was closed by stop()
                    return
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

    # -- deciding ----------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raise NoBundleError("no bundle has been received yet; refusing to decide")
        return snapshot

    def decide(self, request: Request) -> Decision:
        """Decide in process; denials and would-denials are logged for the server."""
        decision = self.snapshot.decide(request)
        if decision.matched or decision.would_deny:
            self.buffer.record(decision)
        return decision

    def decide_batch(self, columns: Mapping[str, Any], *, at: datetime | None = None) -> Any:
        return self.snapshot.decide_batch(columns, at=at)

    # -- decision logs -----------------------------------------------------------------

    def report(self) -> bool:
        """Send the pending decision log; True if the server has it (or nothing was due)."""
        report = self.buffer.take()
        if report is None:
            return True
        try:
            response = self._http.post(
                "/v1/decision-logs", json=report.body(self.enforcement_point)
            )
        except httpx.HTTPError as exc:
            self.last_error = f"decision logs not sent: {exc}"
            return False
        if response.status_code != 200:
            self.last_error = f"decision logs refused: {response.status_code} {response.text[:200]}"
            return False
        self.buffer.sent(report)
        return True

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
