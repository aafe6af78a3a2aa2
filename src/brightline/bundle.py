"""The signed-bundle format, shared by the server that issues bundles and the
enforcement points that open them. Pure: no store, no web framework.

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
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import NoteSigner, NoteVerifier, canonical_json, open_note, sign_note
from brightline.policy import Snapshot, format_time, snapshot_from_document

BUNDLE_FORMAT: Final = "brightline.bundle/1"

__all__ = ["BUNDLE_FORMAT", "Bundle", "build_bundle", "open_bundle"]


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
    """Sign ``snapshot`` (whose snapshot document is ``document``) as bundle ``serial``."""
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
