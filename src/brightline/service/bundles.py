"""Signed bundles: the compiled snapshot in force, as enforcement points fetch it.

A bundle is ``{"note": <signed note>, "payload": {...}}``. The payload holds the
format, the snapshot's ``version``, a ``serial`` that only grows, the issue time and
the snapshot document (world and restrictions in canonical form). The note is a C2SP
signed note, signed with the deployment's Ed25519 log key, whose text is::

    brightline.bundle/1
    <version>
    <serial>
    <base64 SHA-256 of the canonical payload>

so a client that trusts the verifier key checks the signature, recomputes the payload
hash, rebuilds the snapshot (whose content must hash to ``version``) and refuses any
serial lower than the one it holds: a replayed old bundle cannot roll it back.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import NoteSigner, NoteVerifier, canonical_json, open_note, sign_note
from brightline.policy import Snapshot, format_time, to_micros
from brightline.service.snapshots import compile_snapshot_at, snapshot_from_document
from brightline.store import Store, outbox_head

BUNDLE_FORMAT: Final = "brightline.bundle/1"


@dataclass(frozen=True, slots=True)
class Bundle:
    version: str
    serial: int
    issued_at: datetime
    payload: dict[str, Any]
    note: str
    snapshot: Snapshot

    def document(self) -> dict[str, Any]:
        return {"note": self.note, "payload": self.payload}


def _note_text(version: str, serial: int, payload: dict[str, Any]) -> str:
    digest = base64.b64encode(hashlib.sha256(canonical_json(payload)).digest()).decode()
    return f"{BUNDLE_FORMAT}\n{version}\n{serial}\n{digest}\n"


def build_bundle(
    snapshot: Snapshot,
    document: dict[str, Any],
    *,
    serial: int,
    issued_at: datetime,
    signer: NoteSigner,
) -> Bundle:
    payload = {
        "format": BUNDLE_FORMAT,
        "version": snapshot.version,
        "serial": serial,
        "issued_at": format_time(issued_at),
        "snapshot": document,
    }
    note = sign_note(_note_text(snapshot.version, serial, payload), signer)
    return Bundle(snapshot.version, serial, issued_at, payload, note, snapshot)


def open_bundle(document: Any, verifier: NoteVerifier) -> Bundle:
    """Check a bundle's signature and content and rebuild its snapshot.

    Raises LedgerIntegrityError for a bad signature or a payload that does not match
    it, InvalidInputError for a malformed document.
    """
    if not isinstance(document, dict) or not isinstance(document.get("note"), str):
        raise InvalidInputError("not a Brightline bundle")
    payload = document.get("payload")
    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
        raise InvalidInputError(f"not a {BUNDLE_FORMAT} bundle")
    text = open_note(document["note"], verifier)  # raises if the signature is bad
    try:
        version, serial = str(payload["version"]), int(payload["serial"])
        issued_at = datetime.fromisoformat(str(payload["issued_at"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"malformed bundle payload: {exc}") from exc
    if text != _note_text(version, serial, payload):
        raise LedgerIntegrityError("the bundle's payload does not match its signature")
    snapshot = snapshot_from_document(payload.get("snapshot"), name="bundle")
    if snapshot.version != version:
        raise LedgerIntegrityError("the bundle's snapshot does not match its version")
    return Bundle(version, serial, issued_at, payload, document["note"], snapshot)


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
