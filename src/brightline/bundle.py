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

Two more signed pieces travel with a bundle, and are checked here too:

- **Its ledger entry.** Every bundle the server issues is logged as a ``bundle.issued``
  entry whose public form names the bundle's ``version`` and ``digest`` (the payload
  hash). The server hands a bundle out with a :class:`LedgerProof`: the entry, its
  index, an RFC 9162 inclusion proof, the signed checkpoint that proof leads to and, for
  a client that holds an earlier checkpoint, a consistency proof from it.
  :func:`verify_logged` checks all of it, so a server cannot show one gateway a policy
  that the log does not hold, nor a log that forks from what the gateway saw before.
  Which checkpoints are acceptable is a :data:`CheckpointPolicy`: the log's key alone
  (:func:`log_key_only`) or, later, a quorum of witnesses — one callable, one place.
- **Its freshness.** With each answer the server signs a short note saying that bundle
  ``version`` (``serial``) was the policy in force when it last checked its store
  (:func:`sign_current`, :func:`open_current`), so a client can bound how old its
  policy is even when the server answers "not modified" forever.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import (
    HASH_SIZE,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    canonical_json,
    leaf_hash,
    open_checkpoint,
    open_note,
    parse_public_form,
    sign_note,
    verify_consistency,
    verify_inclusion,
)
from brightline.policy import Snapshot, format_time, snapshot_from_document

BUNDLE_FORMAT: Final = "brightline.bundle/1"
#: The ledger event type that logs a bundle's issue; its public form names the bundle.
BUNDLE_ISSUED: Final = "bundle.issued"
CURRENT_FORMAT: Final = "brightline.bundle-current/1"
#: Every answer of ``/v1/bundles/current`` (200 or 304) carries the freshness note here,
#: base64-encoded (:func:`encode_header`).
CURRENT_HEADER: Final = "x-brightline-current"

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_ISSUED",
    "CURRENT_FORMAT",
    "CURRENT_HEADER",
    "Bundle",
    "CheckpointPolicy",
    "Current",
    "LedgerProof",
    "LogState",
    "build_bundle",
    "decode_header",
    "encode_header",
    "log_key_only",
    "open_bundle",
    "open_current",
    "payload_digest",
    "reopen_bundle",
    "sign_current",
    "verify_logged",
]


@dataclass(frozen=True, slots=True)
class Bundle:
    """A signed bundle. The payload is held as its canonical JSON (``payload_json``, the
    bytes the note's hash and the ledger's ``digest`` are taken over), not as objects:
    at a million nodes the document as dicts and lists would weigh more than the
    compiled snapshot beside it."""

    version: str
    serial: int
    issued_at: datetime
    payload_json: bytes
    note: str
    snapshot: Snapshot
    #: The payload's SHA-256, hex: what the bundle's ledger entry publishes.
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.payload_json).hexdigest())

    @property
    def payload(self) -> dict[str, Any]:
        """The payload as objects, parsed on each call (the served path sends
        :attr:`payload_json` as it is)."""
        parsed: dict[str, Any] = orjson.loads(self.payload_json)
        return parsed

    def document(self) -> dict[str, Any]:
        return {"note": self.note, "payload": self.payload}

    def encodable(self) -> dict[str, Any]:
        """:meth:`document` for ``orjson.dumps``, the payload as its bytes unparsed."""
        return {"note": self.note, "payload": orjson.Fragment(self.payload_json)}


def payload_digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _note_text(version: str, serial: int, payload_json: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(payload_json).digest()).decode()
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
    payload_json = canonical_json(payload)
    note = sign_note(_note_text(snapshot.version, serial, payload_json), signer)
    return Bundle(snapshot.version, serial, issued_at, payload_json, note, snapshot)


def reopen_bundle(
    snapshot: Snapshot,
    *,
    serial: int,
    issued_at: datetime,
    payload_json: bytes,
    note: str,
    verifier: NoteVerifier,
) -> Bundle:
    """A bundle this deployment signed before, from its parts as kept (a compiled
    snapshot file): the note's signature is checked and must sign ``payload_json``,
    ``snapshot.version`` and ``serial``; LedgerIntegrityError if not. The payload is
    not parsed: ``snapshot`` is taken to be what it holds (the caller checked the file
    it came from was written whole for this bundle)."""
    text = open_note(note, verifier)  # raises if the signature is bad
    if text != _note_text(snapshot.version, serial, payload_json):
        raise LedgerIntegrityError("the kept bundle's payload does not match its signature")
    return Bundle(snapshot.version, serial, issued_at, payload_json, note, snapshot)


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
    payload_json = canonical_json(payload)
    if text != _note_text(version, serial, payload_json):
        raise LedgerIntegrityError("the bundle's payload does not match its signature")
    snapshot = snapshot_from_document(payload.get("snapshot"), name="bundle")
    if snapshot.version != version:
        raise LedgerIntegrityError("the bundle's snapshot does not match its version")
    return Bundle(version, serial, issued_at, payload_json, document["note"], snapshot)


# --- the bundle's ledger entry --------------------------------------------------------

#: Turns a signed checkpoint note into the checkpoint it vouches for, or raises
#: LedgerIntegrityError. The one place that decides which checkpoints a client trusts:
#: :func:`log_key_only` today; a witness quorum is another policy of the same shape.
CheckpointPolicy = Callable[[str], Checkpoint]


def log_key_only(verifier: NoteVerifier) -> CheckpointPolicy:
    """Accept a checkpoint signed by the log's own key (origin = the key's name)."""

    def policy(note: str) -> Checkpoint:
        return open_checkpoint(note, verifier)

    return policy


@dataclass(frozen=True, slots=True)
class LogState:
    """The log as a client last saw it: a checkpoint's size and root hash."""

    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class LedgerProof:
    """Where a bundle is logged: the ``bundle.issued`` entry (its public form, the leaf
    data), its ``index``, an inclusion ``proof`` into the tree of the signed
    ``checkpoint`` and, when asked for, a ``consistency`` proof from the size the
    client holds to the checkpoint's."""

    index: int
    entry: bytes
    proof: tuple[bytes, ...]
    checkpoint: str
    consistency: tuple[bytes, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "entry": self.entry.decode(),
            "proof": [h.hex() for h in self.proof],
            "checkpoint": self.checkpoint,
        }
        if self.consistency is not None:
            data["consistency"] = [h.hex() for h in self.consistency]
        return data

    @classmethod
    def from_json(cls, data: Any) -> LedgerProof:
        """Parse the ``ledger`` member of a served bundle; InvalidInputError if malformed."""
        if not isinstance(data, dict):
            raise InvalidInputError("a bundle's ledger proof must be an object")
        try:
            index, entry, checkpoint = data["index"], data["entry"], data["checkpoint"]
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError("index is not an integer")
            if not isinstance(entry, str) or not isinstance(checkpoint, str):
                raise TypeError("entry and checkpoint must be strings")
            consistency = data.get("consistency")
            return cls(
                index=index,
                entry=entry.encode(),
                proof=_hashes(data["proof"]),
                checkpoint=checkpoint,
                consistency=None if consistency is None else _hashes(consistency),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"malformed ledger proof: {exc}") from exc


def _hashes(values: Any) -> tuple[bytes, ...]:
    if not isinstance(values, list) or len(values) > 64:
        raise TypeError("a proof is a list of at most 64 hashes")
    out = []
    for value in values:
        if not isinstance(value, str):
            raise TypeError("a proof hash must be a hex string")
        try:
            raw = binascii.unhexlify(value)
        except binascii.Error as exc:
            raise ValueError(f"not hex: {value[:20]!r}") from exc
        if len(raw) != HASH_SIZE:
            raise ValueError(f"a proof hash must be {HASH_SIZE} bytes")
        out.append(raw)
    return tuple(out)


def verify_logged(
    bundle: Bundle,
    proof: LedgerProof,
    *,
    checkpoint_policy: CheckpointPolicy,
    held: LogState | None,
) -> Checkpoint:
    """Check that ``bundle`` is in the log and that the log extends ``held``.

    Returns the checkpoint, which becomes what the client holds. Raises
    LedgerIntegrityError on any failure (InvalidInputError for a malformed entry).
    """
    checkpoint = _step1_trusted_checkpoint(proof, checkpoint_policy)
    _step2_entry_names_the_bundle(bundle, proof)
    _step3_entry_is_in_the_tree(proof, checkpoint)
    _step4_log_extends_what_is_held(proof, checkpoint, held)
    return checkpoint


def _step1_trusted_checkpoint(proof: LedgerProof, policy: CheckpointPolicy) -> Checkpoint:
    """The checkpoint must satisfy the client's policy (the log key, witnesses)."""
    return policy(proof.checkpoint)


def _step2_entry_names_the_bundle(bundle: Bundle, proof: LedgerProof) -> None:
    """The logged entry is a ``bundle.issued`` entry naming this very payload."""
    form = parse_public_form(proof.entry)
    public = form.get("public")
    if (
        form.get("type") != BUNDLE_ISSUED
        or not isinstance(public, dict)
        or public.get("version") != bundle.version
        or public.get("digest") != bundle.digest
    ):
        raise LedgerIntegrityError(
            f"ledger entry {proof.index} does not log bundle {bundle.version[:16]} "
            f"(serial {bundle.serial})"
        )


def _step3_entry_is_in_the_tree(proof: LedgerProof, checkpoint: Checkpoint) -> None:
    """RFC 9162 §2.1.3.2: the entry's leaf hash at ``index`` leads to the checkpoint's root."""
    if not verify_inclusion(
        leaf_hash(proof.entry), proof.index, checkpoint.size, proof.proof, checkpoint.root_hash
    ):
        raise LedgerIntegrityError(
            f"the inclusion proof of entry {proof.index} does not lead to the checkpoint "
            f"of size {checkpoint.size}"
        )


def _step4_log_extends_what_is_held(
    proof: LedgerProof, checkpoint: Checkpoint, held: LogState | None
) -> None:
    """Never a smaller log, never a fork: RFC 9162 §2.1.4.2 from the held checkpoint."""
    if held is None or held.size == 0:
        return
    if checkpoint.size < held.size:
        raise LedgerIntegrityError(
            f"the bundle's checkpoint has {checkpoint.size} entries; a checkpoint of "
            f"{held.size} is held: the log cannot shrink"
        )
    if checkpoint.size == held.size:
        if checkpoint.root_hash != held.root:
            raise LedgerIntegrityError(
                f"the bundle's checkpoint of size {checkpoint.size} differs from the held one "
                "of that size: a split view of the log"
            )
        return
    if proof.consistency is None:
        raise LedgerIntegrityError(
            f"no consistency proof from the held checkpoint of size {held.size} to "
            f"{checkpoint.size}"
        )
    if not verify_consistency(
        held.size, checkpoint.size, proof.consistency, held.root, checkpoint.root_hash
    ):
        raise LedgerIntegrityError(
            f"the log of size {checkpoint.size} does not extend the held checkpoint of size "
            f"{held.size}: history was rewritten"
        )


# --- freshness ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Current:
    """The server's signed word that bundle ``version`` (``serial``) was the policy in
    force when it last checked its store, at ``at``."""

    version: str
    serial: int
    at: datetime


def sign_current(bundle: Bundle, *, at: datetime, signer: NoteSigner) -> str:
    """A signed note: ``bundle`` was current at ``at``."""
    text = f"{CURRENT_FORMAT}\n{bundle.version}\n{bundle.serial}\n{format_time(at)}\n"
    return sign_note(text, signer)


def open_current(note: str, verifier: NoteVerifier) -> Current:
    """Verify a freshness note; LedgerIntegrityError for a bad signature,
    InvalidInputError for anything that is not one."""
    lines = open_note(note, verifier).split("\n")
    if len(lines) != 5 or lines[0] != CURRENT_FORMAT or lines[4] != "":
        raise InvalidInputError(f"not a {CURRENT_FORMAT} note")
    try:
        at = datetime.fromisoformat(lines[3])
        serial = int(lines[2])
    except ValueError as exc:
        raise InvalidInputError(f"malformed {CURRENT_FORMAT} note: {exc}") from exc
    if at.tzinfo is None:
        raise InvalidInputError(f"{CURRENT_FORMAT}: the time carries no zone")
    return Current(lines[1], serial, at)


def encode_header(note: str) -> str:
    """A signed note as one HTTP header value (notes hold newlines and an em dash)."""
    return base64.b64encode(note.encode()).decode()


def decode_header(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"not a base64 signed note: {exc}") from exc
