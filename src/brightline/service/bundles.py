"""Keeping the bundle in force current on the server. The bundle format itself (signing,
opening) is :mod:`brightline.bundle`, shared with the enforcement points."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from brightline.bundle import Bundle, build_bundle
from brightline.ledger import NoteSigner
from brightline.policy import to_micros
from brightline.service.snapshots import compile_snapshot_at
from brightline.store import Store, outbox_head


class BundleKeeper:
    """Keeps the bundle in force current: recompiles when the store changed (its outbox
    grew) or when a restriction in the snapshot expired; thread-safe."""

    def __init__(self, store: Store, signer: NoteSigner) -> None:
        self._store = store
        self._signer = signer
        self._lock = threading.Lock()
        self._bundle: Bundle | None = None
        self._head = -1
        self._next_boundary: datetime | None = None

    @property
    def current(self) -> Bundle:
        bundle = self._bundle
        if bundle is None:
            self.refresh()
            bundle = self._bundle
        assert bundle is not None
        return bundle

    def refresh(self, now: datetime | None = None) -> bool:
        """Recompile if needed; True when a new version came into force."""
        at = now or datetime.now(UTC)
        with self._lock:
            with self._store.read() as session:
                head = outbox_head(session)
            due = self._next_boundary is not None and at >= self._next_boundary
            if self._bundle is not None and head == self._head and not due:
                return False
            stored = compile_snapshot_at(self._store, at)
            self._head = head
            self._next_boundary = min(
                (
                    r.not_after
                    for r in stored.snapshot.restrictions
                    if r.not_after is not None and r.not_after > at
                ),
                default=None,
            )
            previous = self._bundle
            if previous is not None and previous.version == stored.snapshot.version:
                return False
            serial = max(to_micros(at), previous.serial + 1 if previous else 0)
            self._bundle = build_bundle(
                stored.snapshot, stored.document(), serial=serial, issued_at=at, signer=self._signer
            )
            return True
