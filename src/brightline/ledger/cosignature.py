"""Witness cosignatures: C2SP ``tlog-cosignature`` v1 with Ed25519, and quorums of them.

A witness that has checked a checkpoint against everything it saw of the log before
(``brightline.ledger.witness``) adds a timestamped signature line to the checkpoint's
signed note. Formats, as C2SP tlog-cosignature and transparency-dev/formats' note
package (``NewSignerForCosignatureV1``):

- key id: the first 4 bytes of ``SHA-256(name || 0x0A || 0x04 || public key)``;
- verifier key: ``<name>+<key id as 8 hex digits>+<base64(0x04 || public key)>``;
- signer key: ``PRIVATE+KEY+<name>+<key id hex>+<base64(0x04 || seed)>``;
- signed message: ``cosignature/v1\\ntime <decimal POSIX seconds>\\n`` followed by the
  whole checkpoint text (extension lines included, signatures not);
- signature line: ``— <name> base64(key id || u64 big-endian time || Ed25519 signature)``.

The message does not commit to the witness's name, so one key must never serve two
witness names (the spec says so too). A verifier ignores lines whose name and key id are
not those of a witness it trusts; a line that has them but does not verify counts for
nothing. Future timestamps are accepted (the spec allows refusing them; this pure code
has no clock).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger.checkpoint import NoteSignature, note_signatures

__all__ = [
    "Cosignature",
    "CosignatureSigner",
    "CosignatureVerifier",
    "WitnessQuorum",
    "cosignatures",
    "generate_cosigner",
]

_ALG_COSIGNATURE_V1 = 0x04  # Ed25519 cosignature/v1 (C2SP signed-note signature types)
_TIMESTAMP_SIZE = 8
_ED25519_SIZE = 64
_MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1
_KEY_ID = re.compile(r"[0-9a-f]{8}")


def _valid_name(name: str) -> bool:
    # signed-note: a non-empty string of Unicode without spaces or '+'.
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _key_id(name: str, public_key: bytes) -> bytes:
    material = name.encode() + b"\n" + bytes([_ALG_COSIGNATURE_V1]) + public_key
    return hashlib.sha256(material).digest()[:4]


def _key_material(encoded: str, what: str) -> bytes:
    try:
        material = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidInputError(f"{what} is not standard base64") from exc
    if len(material) != 33 or material[0] != _ALG_COSIGNATURE_V1:
        raise InvalidInputError(f"{what} is not an Ed25519 cosignature/v1 (0x04) key")
    return material[1:]


def _message(text: str, timestamp: int) -> bytes:
    """tlog-cosignature, "Ed25519 signed message": header, time, then the note text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


# --- keys ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """A witness's public key, as in ``<name>+<hex id>+<base64(0x04 || key)>``."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> CosignatureVerifier:
        """Parse a witness verifier key; raises :class:`InvalidInputError` when malformed."""
        parts = text.strip().split("+", 2)  # base64 may contain "+"
        if len(parts) != 3 or not _valid_name(parts[0]) or not _KEY_ID.fullmatch(parts[1]):
            raise InvalidInputError(
                "witness key is not <name>+<8 hex digits>+<base64 key>: " + repr(text.strip())
            )
        name, key_id_hex, encoded = parts
        public_key = _key_material(encoded, "witness key material")
        if _key_id(name, public_key) != bytes.fromhex(key_id_hex):
            raise InvalidInputError("witness key id does not match its name and key")
        return cls(name, bytes.fromhex(key_id_hex), public_key)

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([_ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def timestamp(self, text: str, signature: NoteSignature) -> int | None:
        """The time of ``signature`` if it is this witness's valid cosignature of ``text``
        (a note's text, ending in a newline), else None."""
        if signature.name != self.name or signature.key_id != self.key_id:
            return None
        blob = signature.signature
        if len(blob) != _TIMESTAMP_SIZE + _ED25519_SIZE:
            return None
        timestamp = int.from_bytes(blob[:_TIMESTAMP_SIZE], "big")
        if timestamp > _MAX_TIMESTAMP:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                blob[_TIMESTAMP_SIZE:], _message(text, timestamp)
            )
        except (InvalidSignature, ValueError):
            return None
        return timestamp


@dataclass(frozen=True, slots=True, repr=False)
class CosignatureSigner:
    """A witness's private key. Its ``repr`` never shows the seed."""

    name: str
    key_id: bytes
    seed: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> CosignatureSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex id>+<base64(0x04 || seed)>``; raises
        :class:`InvalidInputError` when malformed."""
        parts = text.strip().split("+", 4)  # base64 may contain "+"
        if (
            len(parts) != 5
            or parts[:2] != ["PRIVATE", "KEY"]
            or not _valid_name(parts[2])
            or not _KEY_ID.fullmatch(parts[3])
        ):
            raise InvalidInputError(
                "witness signer key is not PRIVATE+KEY+<name>+<hex id>+<base64 seed>"
            )
        name, key_id_hex, encoded = parts[2:]
        signer = cls(name, bytes.fromhex(key_id_hex), _key_material(encoded, "witness seed"))
        if signer.verifier().key_id != signer.key_id:
            raise InvalidInputError("witness signer key id does not match its name and key")
        return signer

    def __repr__(self) -> str:
        return f"CosignatureSigner(name={self.name!r}, key_id={self.key_id.hex()!r}, seed=<hidden>)"

    def to_secret_string(self) -> str:
        """The private key text: write it only to a file of mode 0600."""
        encoded = base64.b64encode(bytes([_ALG_COSIGNATURE_V1]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{encoded}"

    def verifier(self) -> CosignatureVerifier:
        public = self._private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return CosignatureVerifier(self.name, _key_id(self.name, public), public)

    def sign(self, text: str, *, timestamp: int) -> str:
        """The cosignature line (ending in a newline) of a note's ``text`` at ``timestamp``
        (POSIX seconds). The caller has checked that ``text`` is a checkpoint it may
        cosign; this only signs."""
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise InvalidInputError("a cosignature's timestamp must be in 0 … 2^63 - 1")
        signature = self._private().sign(_message(text, timestamp))
        blob = timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature
        return NoteSignature(self.name, self.key_id, blob).line()

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)


def generate_cosigner(name: str) -> CosignatureSigner:
    """A new random witness key named ``name`` (a schema-less URL, as the spec advises)."""
    if not _valid_name(name):
        raise InvalidInputError(f"witness name {name!r} must be non-empty, without spaces or '+'")
    seed = os.urandom(32)
    public = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return CosignatureSigner(name, _key_id(name, public), seed)


# --- verifying -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A valid cosignature: ``witness`` vouched for the note at ``timestamp``."""

    witness: CosignatureVerifier
    timestamp: int


def cosignatures(note: str, witnesses: Iterable[CosignatureVerifier]) -> tuple[Cosignature, ...]:
    """The valid cosignatures of ``note`` by ``witnesses``: at most one per witness (its
    latest), in the order the witnesses are given. Lines of other keys are ignored, and
    so are lines that claim a witness's key but do not verify.

    Raises :class:`InvalidInputError` when the note is malformed.
    """
    text, signatures = note_signatures(note)
    found = []
    for witness in witnesses:
        times = [t for s in signatures if (t := witness.timestamp(text, s)) is not None]
        if times:
            found.append(Cosignature(witness, max(times)))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class WitnessQuorum:
    """The witnesses a verifier trusts and how many of them must have cosigned a
    checkpoint before it is believed. With no witnesses nothing is required."""

    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int

    def __post_init__(self) -> None:
        if not self.witnesses:
            if self.quorum != 0:
                raise InvalidInputError(
                    f"a witness quorum of {self.quorum} needs witness keys (none given)"
                )
            return
        if not 1 <= self.quorum <= len(self.witnesses):
            raise InvalidInputError(
                f"the witness quorum must be between 1 and the {len(self.witnesses)} "
                f"witness keys given, not {self.quorum}"
            )
        keys = [(w.name, w.key_id) for w in self.witnesses]
        if len(set(keys)) != len(keys):
            raise InvalidInputError("a witness key is given twice")

    @classmethod
    def of(
        cls, keys: Sequence[CosignatureVerifier | str], *, quorum: int | None = None
    ) -> WitnessQuorum:
        """Witnesses from verifier keys (parsed if text); the quorum defaults to all."""
        witnesses = tuple(
            k if isinstance(k, CosignatureVerifier) else CosignatureVerifier.parse(k) for k in keys
        )
        return cls(witnesses, len(witnesses) if quorum is None else quorum)

    @classmethod
    def none(cls) -> WitnessQuorum:
        """No witness required (a log checked by its own key only)."""
        return cls((), 0)

    def __bool__(self) -> bool:
        return bool(self.witnesses)

    def check(self, note: str) -> tuple[Cosignature, ...]:
        """The valid cosignatures of ``note``; raises :class:`LedgerIntegrityError` naming
        how many were valid and needed, and which witnesses are missing, when fewer than
        the quorum are. Does not check the log's own signature (``open_checkpoint`` does)."""
        found = cosignatures(note, self.witnesses)
        if len(found) < self.quorum:
            have = {c.witness for c in found}
            missing = ", ".join(w.name for w in self.witnesses if w not in have)
            raise LedgerIntegrityError(
                f"the checkpoint has {len(found)} valid witness "
                f"cosignature{'' if len(found) == 1 else 's'}, {self.quorum} needed "
                f"(none valid from: {missing})"
            )
        return found
