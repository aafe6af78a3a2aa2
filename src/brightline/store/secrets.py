"""Secrets at rest: webhook HMAC keys, reporters' identities and the documents of public
reports, sealed with AES-256-GCM.

The database is the part of a deployment that is copied most (backups, dumps, replicas,
a laptop for a bug report), so the values whose leak would hurt someone are stored
sealed, under a key that never enters the database: ``<data dir>/secrets/store.key``,
next to the ledger's key (``<data dir>/ledger/log.key``) and backed up with it.

- **Stored form** ``sealed:v1:<base64url(nonce ‖ ciphertext ‖ tag)>``. ``v1`` names the
  key that sealed the value: the key file holds ``<version>:<base64url key>`` lines, the
  last one seals, any of them opens, so a new key can be added later and old values
  still read (rotation).
- **Associated data** ``brightline:<table>.<column>:<row id>``: a value copied into
  another row or column does not open (reporter A's name cannot be shown as B's).
- **The key** is created on first need: when a value is first sealed and the database
  holds no sealed value yet. If the database holds sealed values and the file is
  missing, that is an error — never a silent new key, which would make them unreadable.
  The file is created with mode 0600, its directories (the data directory among them)
  with mode 0700.

Missing keys and values that do not open raise :class:`StoreUnavailableError`: the
store cannot be used as it is configured (wrong data directory, or altered rows).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from brightline import files
from brightline.errors import StoreUnavailableError
from brightline.store.case_models import (
    NotificationContact,
    PublicReportDocumentRow,
    ReporterIdentityRow,
)

SEALED_PREFIX: Final = "sealed:"
KEY_DIR: Final = "secrets"
KEY_FILE: Final = "store.key"
_NONCE_BYTES: Final = 12
_KEY_BYTES: Final = 32
_VERSION: Final = re.compile(r"v[1-9][0-9]{0,5}")


class SealedField(Enum):
    """Each stored field that is sealed; the value is ``<table>.<column>``."""

    REPORTER_NAME = "reporter_identities.name"
    REPORTER_CONTACT = "reporter_identities.contact"
    REPORTER_ORGANIZATION = "reporter_identities.organization"
    WEBHOOK_SECRET = "notification_contacts.secret"
    PUBLIC_REPORT_DOCUMENT = "public_report_documents.body"


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_DIR / KEY_FILE


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parent with mode 0700 (existing ones are left as
    they are). ``mkdir(parents=True)`` would give the parents the umask's mode."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made by a concurrent process; leave its mode alone
        os.chmod(directory, 0o700)  # the umask may have narrowed it; be exact


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def _associated_data(field: SealedField, row: int) -> bytes:
    return f"brightline:{field.value}:{row}".encode()


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys of a key file, by version; ``current`` seals."""

    keys: Mapping[str, bytes]
    current: str

    def __repr__(self) -> str:  # never print key material
        return f"Keyring(versions={sorted(self.keys)}, current={self.current!r})"

    def seal(self, value: str, *, field: SealedField, row: int) -> str:
        return self.seal_bytes(value.encode(), field=field, row=row)

    def seal_bytes(self, value: bytes, *, field: SealedField, row: int) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, value, _associated_data(field, row))
        return f"{SEALED_PREFIX}{self.current}:{_b64encode(nonce + sealed)}"

    def open(self, stored: str, *, field: SealedField, row: int) -> str:
        """The value sealed in ``stored`` for this field of this row; StoreUnavailableError
        if it is not sealed, names an unknown key, or was sealed for another row or field."""
        return self.open_bytes(stored, field=field, row=row).decode()

    def open_bytes(self, stored: str, *, field: SealedField, row: int) -> bytes:
        where = f"{field.value} of row {row}"
        scheme, _, rest = stored.partition(":")
        version, _, body = rest.partition(":")
        if f"{scheme}:" != SEALED_PREFIX or not body:
            raise StoreUnavailableError(f"{where} is not sealed: run `brightline db upgrade`")
        key = self.keys.get(version)
        if key is None:
            raise StoreUnavailableError(
                f"{where} is sealed with key {version!r}, not in the key file"
            )
        try:
            raw = _b64decode(body)
            plain = AESGCM(key).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated_data(field, row)
            )
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise StoreUnavailableError(
                f"{where} does not open with the store's key: the key file is not the one "
                "it was sealed with, or the row was altered or moved"
            ) from exc
        return plain

    def to_text(self) -> str:
        return "".join(f"{v}:{_b64encode(k)}\n" for v, k in self.keys.items())

    @classmethod
    def parse(cls, text: str, where: Path) -> Keyring:
        keys: dict[str, bytes] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            version, sep, encoded = line.strip().partition(":")
            try:
                key = _b64decode(encoded)
            except (ValueError, binascii.Error):
                key = b""
            if not sep or not _VERSION.fullmatch(version) or len(key) != _KEY_BYTES:
                raise StoreUnavailableError(f"{where}:{number}: not a '<version>:<key>' line")
            keys[version] = key
        if not keys:
            raise StoreUnavailableError(f"{where} holds no key")
        return cls(keys, current=list(keys)[-1])

    @classmethod
    def generate(cls) -> Keyring:
        return cls({"v1": AESGCM.generate_key(bit_length=_KEY_BYTES * 8)}, current="v1")


def _read(path: Path) -> Keyring | None:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreUnavailableError(f"cannot read the store's secrets key {path}: {exc}") from exc
    return Keyring.parse(text, path)


def _create(path: Path) -> Keyring:
    """Write a new key file whole (mode 0600), never replacing one: ``files.write_new``
    links it into place, which fails if the name exists, in which case the key already
    there — another process's — is used."""
    make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):  # another process's key won: use it
        files.write_new(path, Keyring.generate().to_text(), mode=0o600)
    keyring = _read(path)
    if keyring is None:  # pragma: no cover - removed between link and read
        raise StoreUnavailableError(f"the store's secrets key {path} vanished after creation")
    return keyring


def holds_sealed_values(session: Session | Connection) -> bool:
    """Whether any sealed value is stored. From migration ``0005_seal_secrets`` on, every
    reporter identity, webhook secret and public report's document is sealed, so this is
    whether any exists."""
    reporter = session.execute(select(ReporterIdentityRow.signal_id).limit(1)).first()
    secret = session.execute(
        select(NotificationContact.id).where(NotificationContact.secret.is_not(None)).limit(1)
    ).first()
    document = session.execute(select(PublicReportDocumentRow.signal_id).limit(1)).first()
    return reporter is not None or secret is not None or document is not None


class StoreSecrets:
    """The store's secrets key, read (or created) on first need and then kept.

    ``path`` None: the store was opened from a bare URL, without a data directory, and
    cannot seal or open anything.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._keyring: Keyring | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"StoreSecrets(path={self.path})"

    def _require_path(self) -> Path:
        if self.path is None:
            raise StoreUnavailableError(
                "this store was opened without a data directory, so it has no key for "
                "reporter identities and webhook secrets: open it with its Settings"
            )
        return self.path

    def for_opening(self) -> Keyring:
        """The key to open sealed values with; StoreUnavailableError if there is none."""
        with self._lock:
            if self._keyring is None:
                path = self._require_path()
                self._keyring = _read(path)
                if self._keyring is None:
                    raise StoreUnavailableError(
                        f"the store holds sealed values but their key {path} is missing: "
                        "restore it from the backup of the data directory"
                    )
            return self._keyring

    def for_sealing(self, session: Session | Connection) -> Keyring:
        """The key to seal with, created if the file is missing and ``session``'s database
        holds no sealed value yet (call it inside the write transaction that seals)."""
        with self._lock:
            if self._keyring is None:
                path = self._require_path()
                keyring = _read(path)
                if keyring is None:
                    if holds_sealed_values(session):
                        raise StoreUnavailableError(
                            f"the store holds sealed values but their key {path} is missing: "
                            "restore it from the backup of the data directory (a new key "
                            "would leave them unreadable)"
                        )
                    keyring = _create(path)
                self._keyring = keyring
            return self._keyring

    def for_migration(self) -> Keyring:
        """The key for migration ``0005_seal_secrets``, which seals the plain values stored
        before it: created if missing (no value was sealed before that migration)."""
        with self._lock:
            if self._keyring is None:
                path = self._require_path()
                self._keyring = _read(path) or _create(path)
            return self._keyring
