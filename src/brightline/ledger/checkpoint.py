"""Signed checkpoints: C2SP ``tlog-checkpoint`` bodies in C2SP ``signed-note`` s, Ed25519.

Formats (byte-compatible with Go's ``golang.org/x/mod/sumdb/note``):

- checkpoint body: ``<origin>\\n<decimal size>\\n<base64 root hash>\\n`` then
  optional non-empty extension lines, each ending in ``\\n``;
- signed note: the body, a blank line, then one line per signature
  ``— <key name> <base64(key id || signature)>\\n`` (U+2014 EM DASH, space);
- key id: the first 4 bytes of ``SHA-256(name || 0x0A || 0x01 || public key)``;
- verifier key: ``<name>+<key id as 8 hex digits>+<base64(0x01 || public key)>``;
- signer key: ``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``.

Failures: a malformed key, note or checkpoint body raises
:class:`~brightline.errors.InvalidInputError`; a note our key did not sign, or
whose signature by our key does not verify, raises
:class:`~brightline.errors.LedgerIntegrityError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from brightline import files
from brightline.errors import (
    ConflictError,
    InvalidInputError,
    LedgerIntegrityError,
    NotFoundError,
)
from brightline.ledger.verify import HASH_SIZE

__all__ = [
    "Checkpoint",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "add_signatures",
    "generate_key",
    "note_signatures",
    "open_checkpoint",
    "open_note",
    "read_signer",
    "read_verifier",
    "sign_checkpoint",
    "sign_note",
    "write_key_files",
]

_ALG_ED25519 = 0x01
_SIG_PREFIX = "— "  # U+2014 EM DASH, then a space (C2SP signed-note)
_MAX_SIGNATURES = 100  # as golang.org/x/mod/sumdb/note
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
#: Control characters a note may not hold (all of them but the newline).
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
#: Signatures checked lately, kept with their outcome: a process holding many
#: enforcement clients is handed the same checkpoint and freshness notes by each of
#: their long polls at once, and checks each signature once.
_VERIFIED_KEPT = 256


def _valid_name(name: str) -> bool:
    # signed-note: a non-empty string of Unicode without spaces or '+'.
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not standard base64") from exc


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([_ALG_ED25519]) + public_key).digest()[:4]


# --- keys ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A log's public key, as in ``<name>+<hex id>+<base64(0x01 || key)>``."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        """Parse a verifier key; raises :class:`InvalidInputError` when malformed."""
        parts = text.strip().split("+", 2)  # base64 may contain "+"
        if (
            len(parts) != 3
            or not _valid_name(parts[0])
            or not re.fullmatch(r"[0-9a-f]{8}", parts[1])
        ):
            raise InvalidInputError("verifier key is not <name>+<8 hex digits>+<base64 key>")
        name, key_id_hex, encoded = parts
        material = _b64decode(encoded, "verifier key material")
        if len(material) != 33 or material[0] != _ALG_ED25519:
            raise InvalidInputError("verifier key is not an Ed25519 (0x01) key")
        public_key = material[1:]
        if _key_id(name, public_key) != bytes.fromhex(key_id_hex):
            raise InvalidInputError("verifier key id does not match its name and key")
        return cls(name, bytes.fromhex(key_id_hex), public_key)

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([_ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        return _ed25519_valid(self.public_key, signature, message)


@lru_cache(maxsize=_VERIFIED_KEPT)
def _ed25519_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s over ``message``: a pure function of the
    exact bytes, so its outcome is kept for the same three (:data:`_VERIFIED_KEPT`)."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True, repr=False)
class NoteSigner:
    """A log's private key. Its ``repr`` never shows the seed."""

    name: str
    key_id: bytes
    seed: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex id>+<base64>``; raises :class:`InvalidInputError`."""
        parts = text.strip().split("+", 4)  # base64 may contain "+"
        if (
            len(parts) != 5
            or parts[:2] != ["PRIVATE", "KEY"]
            or not _valid_name(parts[2])
            or not re.fullmatch(r"[0-9a-f]{8}", parts[3])
        ):
            raise InvalidInputError("signer key is not PRIVATE+KEY+<name>+<hex id>+<base64 seed>")
        name, key_id_hex, encoded = parts[2:]
        material = _b64decode(encoded, "signer key material")
        if len(material) != 33 or material[0] != _ALG_ED25519:
            raise InvalidInputError("signer key is not an Ed25519 (0x01) key")
        signer = cls(name, bytes.fromhex(key_id_hex), material[1:])
        if signer.verifier().key_id != signer.key_id:
            raise InvalidInputError("signer key id does not match its name and key")
        return signer

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()!r}, seed=<hidden>)"

    def to_secret_string(self) -> str:
        """The private key text: write it only to a file of mode 0600."""
        encoded = base64.b64encode(bytes([_ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{encoded}"

    def verifier(self) -> NoteVerifier:
        public = self._private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return NoteVerifier(self.name, _key_id(self.name, public), public)

    def sign(self, message: bytes) -> bytes:
        return self._private().sign(message)

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)


def generate_key(name: str) -> NoteSigner:
    """A new random Ed25519 signer named ``name`` (usually the log's origin)."""
    if not _valid_name(name):
        raise InvalidInputError(f"key name {name!r} must be non-empty, without spaces or '+'")
    seed = os.urandom(32)
    public = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return NoteSigner(name, _key_id(name, public), seed)


def write_key_files(signer: NoteSigner, *, private_path: Path, public_path: Path) -> None:
    """Write the private key (created with mode 0600) and the verifier key.

    Refuses to overwrite an existing private key file (:class:`ConflictError`):
    replacing a log's key would orphan every checkpoint signed with it. Both are written
    whole (:mod:`brightline.files`); :class:`~brightline.errors.StorageError` when they
    cannot be.
    """
    try:
        files.write_new(private_path, signer.to_secret_string() + "\n", mode=0o600)
    except FileExistsError as exc:
        raise ConflictError(f"{private_path} already exists; not overwriting a key") from exc
    files.write_file(public_path, str(signer.verifier()) + "\n")


def _read_key_file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFoundError(f"no {what} at {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the {what} at {path}: {exc}") from exc


def read_signer(path: Path) -> NoteSigner:
    return NoteSigner.parse(_read_key_file(path, "ledger signing key"))


def read_verifier(path: Path) -> NoteVerifier:
    """The log's public key from a file (``log.pub``, as ``brightline ledger keygen`` writes it)."""
    return NoteVerifier.parse(_read_key_file(path, "ledger verifier key (log.pub)"))


# --- checkpoints -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A C2SP tlog-checkpoint: the log ``origin`` had ``size`` entries with ``root_hash``."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise InvalidInputError("checkpoint origin must be one non-empty line")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise InvalidInputError("checkpoint size must be a non-negative integer")
        if len(self.root_hash) != HASH_SIZE:
            raise InvalidInputError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise InvalidInputError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        """The note text, ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(line + "\n" for line in (*lines, *self.extensions))

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body; raises :class:`InvalidInputError` when malformed."""
        if not body.endswith("\n"):
            raise InvalidInputError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise InvalidInputError("checkpoint body needs origin, size and root hash lines")
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size):
            raise InvalidInputError("checkpoint size is not a decimal number")
        root_hash = _b64decode(root, "checkpoint root hash")
        return cls(origin, int(size), root_hash, tuple(extensions))


def _check_note_text(note: str) -> None:
    # As sumdb/note: UTF-8 (a str already is) with no control characters but newline.
    if _CONTROL.search(note):
        raise InvalidInputError("signed note contains control characters")


def sign_note(text: str, signer: NoteSigner) -> str:
    """``text`` (non-empty, ending in a newline) as a signed note signed by ``signer``."""
    if not text.endswith("\n") or "\n\n" in text:
        raise InvalidInputError("note text must end with a newline and contain no blank line")
    _check_note_text(text)
    blob = signer.key_id + signer.sign(text.encode())
    return f"{text}\n{_SIG_PREFIX}{signer.name} {base64.b64encode(blob).decode()}\n"


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The checkpoint as a signed note, signed by ``signer``."""
    return sign_note(checkpoint.body(), signer)


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a signed note: the key's name, its 4-byte key id and the
    signature bytes that follow it (whose layout depends on the key's type)."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The line as a note carries it, ending in a newline."""
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_SIG_PREFIX}{self.name} {encoded}\n"


def _split_note(note: str) -> tuple[str, list[str]]:
    """Split a signed note into its text and signature lines (sumdb/note rules)."""
    _check_note_text(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise InvalidInputError("signed note has no blank line before its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        raise InvalidInputError("signed note must end with a signature line and a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise InvalidInputError("signed note has too many signatures")
    return text, lines


def _parse_signature_line(line: str) -> NoteSignature:
    """``— <name> <base64(key id || signature)>`` (without its newline)."""
    if not line.startswith(_SIG_PREFIX):
        raise InvalidInputError("signature line does not start with '— '")
    name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not _valid_name(name) or not encoded:
        raise InvalidInputError("signature line is not '— <name> <base64>'")
    blob = _b64decode(encoded, "signature")
    if len(blob) < 5:
        raise InvalidInputError("signature is too short")
    return NoteSignature(name, blob[:4], blob[4:])


def note_signatures(note: str) -> tuple[str, tuple[NoteSignature, ...]]:
    """A signed note's text (ending in a newline) and its signature lines, unverified.

    Raises :class:`InvalidInputError` when the note is malformed.
    """
    text, lines = _split_note(note)
    return text, tuple(_parse_signature_line(line) for line in lines)


def add_signatures(note: str, lines: Iterable[str]) -> str:
    """``note`` with the signature ``lines`` (each ``— <name> <base64>\\n``) appended,
    leaving out any the note already carries: signed-note lets a note carry several
    signatures, so that a checkpoint can travel with its witnesses' cosignatures.

    Nothing is verified here; raises :class:`InvalidInputError` for a malformed note or
    line, or past the 100 signatures a note may carry.
    """
    text, present = note_signatures(note)
    known = [s.line() for s in present]
    for line in lines:
        if not line.endswith("\n") or "\n" in line[:-1]:
            raise InvalidInputError("a signature line must be one line ending in a newline")
        added = _parse_signature_line(line[:-1]).line()
        if added not in known:
            known.append(added)
    if len(known) > _MAX_SIGNATURES:
        raise InvalidInputError("signed note has too many signatures")
    return text + "\n" + "".join(known)


def open_note(note: str, verifier: NoteVerifier) -> str:
    """Verify ``note`` with ``verifier`` and return its text (ending in a newline).

    Signatures by other keys are ignored (witness cosignatures may be present).
    Raises :class:`LedgerIntegrityError` if no signature is by ``verifier``'s key
    (same name and key id) or if such a signature is invalid, and
    :class:`InvalidInputError` if the note is malformed.
    """
    text, signatures = note_signatures(note)
    verified = False
    for signature in signatures:
        if signature.name != verifier.name or signature.key_id != verifier.key_id:
            continue
        if not verifier.verify(text.encode(), signature.signature):
            raise LedgerIntegrityError(f"invalid signature by {verifier.name} on the note")
        verified = True
    if not verified:
        raise LedgerIntegrityError(f"note is not signed by {verifier}")
    return text


def open_checkpoint(note: str, verifier: NoteVerifier, *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint (see :func:`open_note`) and parse its body.

    The checkpoint's origin must equal ``origin``, by default the key's name
    (tlog-checkpoint: a log signs with a key named after its origin), so that a
    checkpoint of another log signed with the same key is not accepted; a
    mismatch raises :class:`LedgerIntegrityError`.
    """
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    expected = verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise LedgerIntegrityError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {expected!r}"
        )
    return checkpoint
