"""Logs that continue one another: a sealed log's final checkpoint, committed to by the
first entry of the log that follows it.

A log cannot be rewritten: entries it published stay public as they are. When what
entries publish has to change, the log is *sealed* — its final checkpoint is signed and
it never grows again — and a new log starts, with a new origin and a key named after it.
Its first entry (index 0) is a ``ledger.continued`` entry whose public part is::

    {"origin": "<the sealed log's origin>",
     "size": <its final size>,
     "root": "<its final root hash, base64, as on the checkpoint's third line>",
     "checkpoint_sha256": "<hex SHA-256 of the final checkpoint, the whole signed note, UTF-8>"}

A verifier who has checked the new log (its signature, every entry against its root)
walks back with :func:`verify_continuation`, numbered as in docs/verify.md:

1. the new log's entry 0 is a ``ledger.continued`` entry;
2. the sealed log's final checkpoint hashes to the ``checkpoint_sha256`` it names (so
   the new log's key vouches for that exact note);
3. the note is signed by the sealed log's own key, and its origin is that key's name
   (C2SP signed-note and tlog-checkpoint, as for any checkpoint);
4. its origin, size and root are the ones the entry names.

Then the sealed log's entries must reproduce that checkpoint, as for any log, and the
walk goes on from the sealed log's own entry 0 until a log does not start with a
``ledger.continued`` entry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger.checkpoint import Checkpoint, NoteVerifier, open_checkpoint
from brightline.ledger.entries import parse_public_form
from brightline.ledger.verify import HASH_SIZE

__all__ = ["CONTINUED", "Continuation", "note_sha256", "verify_continuation"]

#: The event type of a log's first entry when it continues a sealed log.
CONTINUED: Final = "ledger.continued"


def note_sha256(note: str) -> bytes:
    """SHA-256 of a signed note as published (its UTF-8 bytes, signature lines included)."""
    return hashlib.sha256(note.encode()).digest()


@dataclass(frozen=True, slots=True)
class Continuation:
    """What a ``ledger.continued`` entry says about the log it continues."""

    origin: str
    size: int
    root_hash: bytes
    checkpoint_sha256: bytes

    @classmethod
    def of(cls, checkpoint: Checkpoint, note: str) -> Continuation:
        """The continuation of a sealed log whose final checkpoint is ``checkpoint``,
        published as the signed ``note`` (verify the note before calling this)."""
        return cls(checkpoint.origin, checkpoint.size, checkpoint.root_hash, note_sha256(note))

    def public(self) -> dict[str, Any]:
        """The fields a ``ledger.continued`` entry publishes (and its record holds)."""
        return {
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root_hash).decode(),
            "checkpoint_sha256": self.checkpoint_sha256.hex(),
        }

    @classmethod
    def parse(cls, entry: bytes) -> Continuation:
        """The continuation a logged entry (a public form) states; LedgerIntegrityError
        if the entry is not a well-formed ``ledger.continued`` entry."""
        try:
            form = parse_public_form(entry)
        except InvalidInputError as exc:
            raise LedgerIntegrityError(f"entry 0 is not a ledger entry: {exc}") from exc
        if form["type"] != CONTINUED:
            raise LedgerIntegrityError(
                f"entry 0 is a {form['type']!r} entry, not a {CONTINUED} entry"
            )
        public = form["public"]
        if not isinstance(public, Mapping):
            raise LedgerIntegrityError(f"the {CONTINUED} entry has no public fields")
        try:
            size = public["size"]
            root = base64.b64decode(str(public["root"]), validate=True)
            digest = bytes.fromhex(str(public["checkpoint_sha256"]))
            origin = public["origin"]
        except (KeyError, ValueError, binascii.Error) as exc:
            raise LedgerIntegrityError(f"the {CONTINUED} entry is malformed: {exc!r}") from exc
        if not isinstance(origin, str) or not origin:
            raise LedgerIntegrityError(f"the {CONTINUED} entry names no origin")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise LedgerIntegrityError(f"the {CONTINUED} entry's size is not a size: {size!r}")
        if len(root) != HASH_SIZE or len(digest) != hashlib.sha256().digest_size:
            raise LedgerIntegrityError(f"the {CONTINUED} entry's hashes have the wrong length")
        return cls(origin, size, root, digest)


def verify_continuation(first_entry: bytes, final_note: str, verifier: NoteVerifier) -> Checkpoint:
    """Check that ``first_entry`` (entry 0 of a log) continues the sealed log whose final
    signed checkpoint is ``final_note``, signed with ``verifier``; return that checkpoint.

    Raises LedgerIntegrityError naming the step that fails (see the module docstring).
    """
    continuation = _step1_continued_entry(first_entry)
    _step2_note_hash(continuation, final_note)
    checkpoint = _step3_signed_by_the_sealed_log(continuation, final_note, verifier)
    _step4_same_tree(continuation, checkpoint)
    return checkpoint


def _step1_continued_entry(entry: bytes) -> Continuation:
    """Step 1: the log's entry 0 is a ``ledger.continued`` entry."""
    return Continuation.parse(entry)


def _step2_note_hash(continuation: Continuation, note: str) -> None:
    """Step 2: the final checkpoint is the very note the entry commits to."""
    if not hmac.compare_digest(note_sha256(note), continuation.checkpoint_sha256):
        raise LedgerIntegrityError(
            f"the final checkpoint of {continuation.origin} is not the one the {CONTINUED} "
            f"entry commits to (its SHA-256 is {note_sha256(note).hex()}, the entry names "
            f"{continuation.checkpoint_sha256.hex()})"
        )


def _step3_signed_by_the_sealed_log(
    continuation: Continuation, note: str, verifier: NoteVerifier
) -> Checkpoint:
    """Step 3: the final checkpoint verifies with the sealed log's key, named after it."""
    if verifier.name != continuation.origin:
        raise LedgerIntegrityError(
            f"the {CONTINUED} entry continues {continuation.origin}, but the key given for "
            f"it is {verifier.name}'s"
        )
    try:
        return open_checkpoint(note, verifier)
    except InvalidInputError as exc:
        raise LedgerIntegrityError(
            f"the final checkpoint of {continuation.origin} is malformed: {exc}"
        ) from exc
    except LedgerIntegrityError as exc:
        raise LedgerIntegrityError(
            f"the final checkpoint of {continuation.origin} does not verify: {exc}"
        ) from exc


def _step4_same_tree(continuation: Continuation, checkpoint: Checkpoint) -> None:
    """Step 4: the checkpoint's size and root are the ones the entry names."""
    if checkpoint.size != continuation.size:
        raise LedgerIntegrityError(
            f"the {CONTINUED} entry says {continuation.origin} ended at size "
            f"{continuation.size}, its final checkpoint says {checkpoint.size}"
        )
    if not hmac.compare_digest(checkpoint.root_hash, continuation.root_hash):
        raise LedgerIntegrityError(
            f"the {CONTINUED} entry names another root for {continuation.origin} than its "
            "final checkpoint"
        )
