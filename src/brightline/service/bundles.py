"""Keeping the bundle in force current on the server. The bundle format itself (signing,
opening, the ledger proof and the freshness note) is :mod:`brightline.bundle`, shared
with the enforcement points.

A bundle goes through two steps:

1. **issued** (:meth:`BundleKeeper.refresh`): the store changed (its outbox grew) or a
   restriction expired, the snapshot recompiles to a new version, and a bundle is
   signed and recorded as a ``bundle.issued`` outbox event — so the ledger sync logs it;
2. **served** (:meth:`BundleKeeper.publish`): once a signed checkpoint covers that
   entry, the bundle comes into force, handed out with its inclusion proof.

Several servers on one store serve the same bundle: the first to compile a new version
issues it, and the others find its ``bundle.issued`` event, rebuild the same bundle from
the store (same serial, time and signature) and serve it once the log holds it; each
version is issued once, whichever server logs the ledger.

A bundle is never served before the log holds it: a policy no enforcement point can
find in the log does not exist. The server syncs the ledger right after issuing
(``brightline.server.state.refresh``), so the wait is one sync. While a bundle waits
(the ledger cannot be written, say), the one before stays in force and the keeper stops
confirming it: enforcement points see its freshness age and report themselves stale.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy.orm import Session

from brightline.bundle import (
    BUNDLE_ISSUED,
    Bundle,
    LedgerProof,
    build_bundle,
    sign_current,
)
from brightline.errors import LedgerIntegrityError, StorageError, StoreUnavailableError
from brightline.ledger import NoteSigner, TiledTree, leaf_hash, open_checkpoint, verify_inclusion
from brightline.policy import Notice, format_time, to_micros
from brightline.service.kept_bundles import keep, open_kept
from brightline.service.ledger import consistency
from brightline.service.snapshots import StoreSnapshot, compile_in, compile_snapshot_at
from brightline.service.stages import Stages
from brightline.store import (
    LoadedWorlds,
    OutboxEntry,
    Store,
    append_outbox,
    outbox_head,
    outbox_rank,
)
from brightline.store.ledger import (
    SqlTileStore,
    StoredCheckpoint,
    current_log,
    entry_at,
    latest_checkpoint,
)
from brightline.store.outbox import latest_outbox_of_type

log = logging.getLogger("brightline.api")

_CONSISTENCY_CACHE: Final = 64
#: Checkpoint sizes served lately: the sizes enforcement points hold, whose consistency
#: proofs to a new checkpoint are made once, when it is published, not once per client.
_SIZES_WARMED: Final = 4
#: Encoded documents kept per served bundle (one per size a consistency proof starts
#: from): the sizes clients hold are few; an odd size asked for is encoded per request.
_ENCODED_KEPT: Final = 8


@dataclass(frozen=True, slots=True)
class ServedBundle:
    """The bundle in force and where the log holds it, proven at the latest checkpoint."""

    bundle: Bundle
    proof: LedgerProof
    size: int  # of the checkpoint the proof leads to
    #: The document as sent, per size a consistency proof starts from (None: without).
    _encoded: dict[int | None, bytes] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def document(self, consistency: tuple[bytes, ...] | None = None) -> dict[str, Any]:
        """``{"note", "payload", "ledger"}``, with a consistency proof if given."""
        return {**self.bundle.document(), "ledger": self._ledger(consistency)}

    def _ledger(self, consistency: tuple[bytes, ...] | None) -> dict[str, Any]:
        proof = self.proof
        if consistency is not None:
            proof = LedgerProof(
                proof.index, proof.entry, proof.proof, proof.checkpoint, consistency
            )
        return proof.to_json()

    def encoded(self, old_size: int | None, consistency: tuple[bytes, ...] | None) -> bytes:
        """:meth:`document` as JSON bytes, with ``consistency``, the proof from
        ``old_size`` to :attr:`size` (both None: without one). Made once per
        ``old_size`` (for the first few): when a new bundle wakes every long poll, the
        clients hold the same size and are all sent the same bytes."""
        cached = self._encoded.get(old_size)
        if cached is not None:
            return cached
        encoded = orjson.dumps({**self.bundle.encodable(), "ledger": self._ledger(consistency)})
        if len(self._encoded) < _ENCODED_KEPT:
            self._encoded[old_size] = encoded  # a race makes the same bytes twice: harmless
        return encoded


@dataclass(frozen=True, slots=True)
class _Issued:
    bundle: Bundle
    outbox_id: int


def _serial_of(event: OutboxEntry) -> int:
    data = event.data()
    serial = data.get("serial") if isinstance(data, dict) else None
    return serial if isinstance(serial, int) and not isinstance(serial, bool) else 0


class BundleKeeper:
    """Keeps the bundle in force current: recompiles when the store changed (its outbox
    grew) or when a restriction in the snapshot expired, issues a bundle per new version
    and serves it once logged; thread-safe."""

    def __init__(
        self,
        store: Store,
        signer: NoteSigner,
        *,
        notice: Notice | None = None,
        kept: Path | None = None,
    ) -> None:
        self._store = store
        self._signer = signer
        #: Where the bundle in force is kept compiled (:mod:`~.kept_bundles`; None: not
        #: kept). A restart maps it instead of compiling when the store has not changed.
        self._kept = kept
        self._keeping: threading.Thread | None = None
        #: Why the last kept file could not be used at start (None: it was, or none).
        self.kept_refused: str | None = None
        #: How the bundles word denials for customers (signed into each of them).
        self._notice = notice
        #: Held across the store reads of refresh and publish: one of them at a time.
        self._lock = threading.Lock()
        #: Guards the in-memory caches only, never held while the database is asked:
        #: :meth:`freshness` runs on the server's event loop, which must not wait for a
        #: refresh stuck on a database that does not answer.
        self._cache_lock = threading.Lock()
        self._served: ServedBundle | None = None
        self._issued: _Issued | None = None  # issued, not yet covered by a checkpoint
        self._last: Bundle | None = None  # the last bundle issued
        self._head = -1
        self._next_boundary: datetime | None = None
        self._confirmed_at: datetime | None = None
        self._note: tuple[str, int, datetime, str] | None = None  # version, serial, at, note
        self._consistency: OrderedDict[tuple[int, int], tuple[bytes, ...]] = OrderedDict()
        #: Proofs being made, which other requests for the same sizes wait for: when a
        #: new bundle wakes every long poll at once, one of them asks the store.
        self._proving: dict[tuple[int, int], threading.Event] = {}
        self._served_sizes: deque[int] = deque(maxlen=_SIZES_WARMED)
        #: The worlds compiled from, kept per version and digest: also where the server's
        #: ledger sync reads the facts of a change (one load of a world, not one per use).
        self.worlds = LoadedWorlds()

    @property
    def served(self) -> ServedBundle:
        """The bundle in force with its ledger proof; StoreUnavailableError before the
        first bundle is logged."""
        served = self._served
        if served is None:
            raise StoreUnavailableError("no bundle is in force yet: the first is not logged")
        return served

    @property
    def current(self) -> Bundle:
        return self.served.bundle

    @property
    def awaiting_log(self) -> bool:
        """Whether a bundle was issued (or found issued) that the log does not hold yet."""
        return self._issued is not None

    @property
    def confirmed_at(self) -> datetime | None:
        """When the keeper last found the bundle in force to be the store's policy."""
        return self._confirmed_at

    def refresh(self, now: datetime | None = None, *, stages: Stages | None = None) -> bool:
        """Recompile if needed; True when a new bundle was issued (and recorded for the
        ledger: it is served once :meth:`publish` finds it logged). ``stages`` hears the
        time spent reading the store, compiling and signing (and recording) the bundle."""
        at = now or datetime.now(UTC)
        timed = stages or Stages()
        with self._lock:
            with self._store.read() as session:
                with timed.stage("read"):
                    head = outbox_head(session)
                due = self._next_boundary is not None and at >= self._next_boundary
                if self._last is not None and head == self._head and not due:
                    return False
                if (
                    self._last is None
                    and self._kept is not None
                    and self._restore(session, head, at)
                ):
                    return True
                with timed.stage("compile"):
                    # In the same read as the head: the snapshot holds at least what it counts.
                    stored = compile_in(session, at, notice=self._notice, worlds=self.worlds)
            self._head = head
            self._next_boundary = min(
                (
                    r.not_after
                    for r in stored.snapshot.restrictions
                    if r.not_after is not None and r.not_after > at
                ),
                default=None,
            )
            previous = self._last
            if previous is not None and previous.version == stored.snapshot.version:
                return False
            with timed.stage("sign"):
                bundle, outbox_id, unchanged = self._issue(stored, head=head, at=at)
            if unchanged:
                # Our own event is no change of policy; anything written before it is.
                self._head = outbox_id
            self._last = bundle
            self._issued = _Issued(bundle, outbox_id)
            self._keep_compiled(bundle, self._next_boundary)
            return True

    def _restore(self, session: Session, head: int, at: datetime) -> bool:
        """Take the newest issued bundle from its kept file, without compiling, if the
        store holds nothing written after its ``bundle.issued`` event (so the policy is
        the one it was compiled from), no restriction of it expired since, and the file
        is whole and of exactly that bundle. Call with the lock held, in the read that
        found ``head``."""
        assert self._kept is not None
        latest = latest_outbox_of_type(session, BUNDLE_ISSUED)
        if latest is None or latest.id != head:
            return False  # nothing kept to use, or the store changed since: compile
        data = latest.data()
        try:
            version, serial, digest = str(data["version"]), int(data["serial"]), data["digest"]
        except (KeyError, TypeError, ValueError):
            return False
        kept = open_kept(
            self._kept,
            version=version,
            serial=serial,
            digest=str(digest),
            verifier=self._signer.verifier(),
        )
        if isinstance(kept, str):
            self.kept_refused = kept
            log.info(json.dumps({"event": "kept-snapshot-refused", "reason": kept}))
            return False
        if kept.next_boundary is not None and at >= kept.next_boundary:
            return False  # a restriction expired since: the policy changed
        if kept.bundle.snapshot.notice != (self._notice or Notice()):
            return False  # the notice configured changed: the bundle is issued again
        self._head = head
        self._next_boundary = kept.next_boundary
        self._last = kept.bundle
        self._issued = _Issued(kept.bundle, latest.id)
        return True

    def _keep_compiled(self, bundle: Bundle, next_boundary: datetime | None) -> None:
        """Keep ``bundle`` compiled, in a thread of its own (at a million nodes writing
        takes a second, which a change should not wait for). Call with the lock held."""
        if self._kept is None:
            return
        directory = self._kept
        previous = self._keeping

        def write() -> None:
            if previous is not None:
                previous.join()  # files of successive versions in order: the last wins
            try:
                keep(directory, bundle, next_boundary=next_boundary)
            except StorageError as exc:  # the server runs on; the next start compiles
                log.warning(json.dumps({"event": "keep-snapshot-failed", "error": str(exc)}))

        self._keeping = threading.Thread(target=write, name="keep-snapshot", daemon=True)
        self._keeping.start()

    def wait_kept(self, timeout: float | None = None) -> None:
        """Return once the bundle issued last is kept (or its writing failed)."""
        keeping = self._keeping
        if keeping is not None:
            keeping.join(timeout)

    def _issue(self, stored: StoreSnapshot, *, head: int, at: datetime) -> tuple[Bundle, int, bool]:
        """The bundle of ``stored`` and its ``bundle.issued`` event: the newest one issued
        if it is of this version (another server on the store issued it: every server
        serves the same bundle, logged once), else a new one, recorded in the outbox.
        Under the store-wide write lock, so that two servers never issue one version
        twice. Also returns whether the outbox held nothing newer than ``head``."""
        with self._store.write() as session:
            unchanged = outbox_head(session) == head
            latest = latest_outbox_of_type(session, BUNDLE_ISSUED)
            issued = None if latest is None else self._adopt(latest, stored)
            if issued is not None:
                assert latest is not None
                return issued, latest.id, False
            floor = max(
                self._last.serial + 1 if self._last is not None else 0,
                _serial_of(latest) + 1 if latest is not None else 0,
            )
            bundle = build_bundle(
                stored.snapshot,
                stored.document(),
                serial=max(to_micros(at), floor),
                issued_at=at,
                signer=self._signer,
            )
            outbox_id = append_outbox(
                session,
                "bundle.issued",  # BUNDLE_ISSUED, spelt out for the disclosure test
                {
                    "version": bundle.version,
                    "serial": bundle.serial,
                    "digest": bundle.digest,
                    "issued_at": format_time(at),
                },
                at=at,
            )
        return bundle, outbox_id, unchanged

    def _adopt(self, event: OutboxEntry, stored: StoreSnapshot) -> Bundle | None:
        """The bundle a ``bundle.issued`` event records, rebuilt, if it is of the version
        of ``stored``: signed with its serial at its time, and checked against its digest
        (None if it is of another version or does not rebuild exactly). ``stored`` is
        tried first as compiled at the event's time (the same policy: the same world
        version and restrictions); compiled again at that time only if it differs."""
        data = event.data()
        version = stored.snapshot.version
        if not isinstance(data, dict) or data.get("version") != version:
            return None
        try:
            issued_at = datetime.fromisoformat(str(data["issued_at"]))
            serial = int(data["serial"])
        except (KeyError, TypeError, ValueError):
            return None
        for attempt in (StoreSnapshot(stored.snapshot, issued_at, stored.world_version), None):
            if attempt is None:
                attempt = compile_snapshot_at(
                    self._store, issued_at, notice=self._notice, worlds=self.worlds
                )
                if attempt.snapshot.version != version:
                    return None
            bundle = build_bundle(
                attempt.snapshot,
                attempt.document(),
                serial=serial,
                issued_at=issued_at,
                signer=self._signer,
            )
            if bundle.digest == data.get("digest"):
                return bundle
        return None

    def publish(self, now: datetime | None = None) -> bool:
        """Serve the issued bundle once a signed checkpoint covers its entry, and keep the
        served proof at the latest checkpoint. True when a new version came into force.

        Confirms the bundle in force (:attr:`confirmed_at`) when no issued bundle waits.
        """
        at = now or datetime.now(UTC)
        with self._lock:
            changed = False
            with self._store.read() as session:
                # The log looked up once: every read below is of the current log.
                log = current_log(session).number
                latest = latest_checkpoint(session, log=log)
                issued = self._issued
                if issued is not None and latest is not None:
                    # Entries are numbered per log: count from the current log's first.
                    first = entry_at(session, 0, log=log).outbox_id
                    index = outbox_rank(session, issued.outbox_id) - outbox_rank(session, first)
                    if index < latest.size:
                        stored = entry_at(session, index, log=log)
                        if stored.outbox_id != issued.outbox_id:
                            raise LedgerIntegrityError(
                                f"ledger entry {index} logs outbox event {stored.outbox_id}, "
                                f"not the bundle's {issued.outbox_id}"
                            )
                        previous = self._served
                        self._served = self._prove(
                            session, latest, issued.bundle, index, stored.public
                        )
                        self._issued = None
                        changed = previous is None or (
                            previous.bundle.version != issued.bundle.version
                        )
                served = self._served
                if served is not None and latest is not None and latest.size != served.size:
                    self._served = self._prove(
                        session, latest, served.bundle, served.proof.index, served.proof.entry
                    )
                if self._served is not None:
                    self._warm(session, log, self._served.size)
            if self._issued is None and self._served is not None:
                self._confirmed_at = at
            return changed

    def _prove(
        self,
        session: Session,
        latest: StoredCheckpoint,
        bundle: Bundle,
        index: int,
        entry: bytes,
    ) -> ServedBundle:
        """The bundle with its inclusion proof at the ``latest`` checkpoint, checked here
        before any client sees it."""
        tiles = SqlTileStore(session, log=latest.log)
        proof = TiledTree(tiles).inclusion_proof(index, latest.size)
        checkpoint = open_checkpoint(latest.note, self._signer.verifier())
        if not verify_inclusion(leaf_hash(entry), index, latest.size, proof, checkpoint.root_hash):
            raise LedgerIntegrityError(
                f"the bundle's entry {index} is not in the checkpoint of size {latest.size}"
            )
        return ServedBundle(bundle, LedgerProof(index, entry, proof, latest.note), latest.size)

    def freshness(self) -> str:
        """The signed note saying the bundle in force was current at :attr:`confirmed_at`."""
        served = self.served
        at = self._confirmed_at or served.bundle.issued_at
        with self._cache_lock:
            cached = self._note
            bundle = served.bundle
            # Signed again only when the confirmation moved (every refresh tick at most).
            if cached is not None and cached[:3] == (bundle.version, bundle.serial, at):
                return cached[3]
            note = sign_current(bundle, at=at, signer=self._signer)
            self._note = (bundle.version, bundle.serial, at, note)
            return note

    def _warm(self, session: Session, log: int, size: int) -> None:
        """Make the consistency proofs to checkpoint ``size`` of ``log``, newly served,
        from the sizes served before it: what the enforcement points holding them will
        ask for. Call with the lock held."""
        sizes = self._served_sizes
        if sizes and sizes[-1] == size:
            return
        tree = TiledTree(SqlTileStore(session, log=log))
        for old in sizes:
            if 0 < old < size and not self._cached((old, size)):
                self._keep((old, size), tree.consistency_proof(old, size))
        if size in sizes:
            sizes.remove(size)
        sizes.append(size)

    def consistency(self, old_size: int, new_size: int) -> tuple[bytes, ...]:
        """A consistency proof between two sizes of the log (recent ones kept). Requests
        for the same sizes at the same time wait for one proof rather than each asking
        the store."""
        key = (old_size, new_size)
        while True:
            with self._cache_lock:
                if key in self._consistency:
                    self._consistency.move_to_end(key)
                    return self._consistency[key]
                proving = self._proving.get(key)
                if proving is None:
                    mine = self._proving[key] = threading.Event()
                    break
            # Another request is making it: take it from the cache once made, or make it
            # here if that request failed.
            proving.wait()
        try:
            proof = consistency(self._store, old_size, new_size)
            self._keep(key, proof)
            return proof
        finally:
            with self._cache_lock:
                del self._proving[key]
            mine.set()

    def known_consistency(self, old_size: int, new_size: int) -> tuple[bytes, ...] | None:
        """The consistency proof between two sizes if it is made already (None if not),
        without waiting for the store: what the long polls of enforcement points holding
        the size served before ask for, made when the new size was published."""
        key = (old_size, new_size)
        with self._cache_lock:
            proof = self._consistency.get(key)
            if proof is not None:
                self._consistency.move_to_end(key)
            return proof

    def _cached(self, key: tuple[int, int]) -> bool:
        with self._cache_lock:
            return key in self._consistency

    def _keep(self, key: tuple[int, int], proof: tuple[bytes, ...]) -> None:
        with self._cache_lock:
            self._consistency[key] = proof
            self._consistency.move_to_end(key)
            while len(self._consistency) > _CONSISTENCY_CACHE:
                self._consistency.popitem(last=False)
