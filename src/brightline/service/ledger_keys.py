"""The ledger's signing keys on disk: the current log's, the next log's while a seal is
under way, and the sealed logs'.

Under ``$BRIGHTLINE_DATA_DIR/ledger/``:

- ``log.key`` (mode 0600) and ``log.pub``: the key of the current log, named after its
  origin (C2SP tlog-checkpoint: a log signs with a key named after its origin);
- ``next/log.key`` and ``next/log.pub``: the key a seal made for the next log, until the
  store has started that log;
- ``logs/<n>/log.key`` and ``logs/<n>/log.pub``: the key of sealed log ``n``. Brightline
  never signs with it again; its ``log.pub`` verifies the sealed log. The private key may
  be destroyed.

A seal starts the new log in the store (in one transaction) *before* it moves the key
files, so that the store never has a current log without a key: a staged key whose log
was not started is reused by the next attempt, and :func:`settle_keys` finishes a move
that a crash interrupted. Every step of it is idempotent.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from brightline.config import Settings
from brightline.errors import ConflictError, LedgerIntegrityError, NotFoundError
from brightline.ledger import (
    NoteSigner,
    NoteVerifier,
    generate_key,
    read_signer,
    read_verifier,
    write_key_files,
)
from brightline.store.ledger import StoredLog
from brightline.store.secrets import make_private_dir

DEFAULT_ORIGIN: Final = "brightline.local/ledger"


@dataclass(frozen=True, slots=True)
class LedgerKeys:
    private: Path
    public: Path

    @classmethod
    def of(cls, settings: Settings) -> LedgerKeys:
        """The current log's key."""
        return cls._in(settings.data_dir / "ledger")

    @classmethod
    def staged(cls, settings: Settings) -> LedgerKeys:
        """The key a seal under way made for the next log."""
        return cls._in(settings.data_dir / "ledger" / "next")

    @classmethod
    def sealed(cls, settings: Settings, log: int) -> LedgerKeys:
        """The key of sealed log ``log``."""
        return cls._in(settings.data_dir / "ledger" / "logs" / str(log))

    @classmethod
    def _in(cls, directory: Path) -> LedgerKeys:
        return cls(directory / "log.key", directory / "log.pub")

    def signer(self) -> NoteSigner | None:
        return read_signer(self.private) if self.private.is_file() else None

    def verifier(self) -> NoteVerifier:
        if not self.public.is_file():
            raise NotFoundError(
                f"no ledger verifier key at {self.public}; run `brightline ledger keygen`"
            )
        return read_verifier(self.public)


def keygen(settings: Settings, *, name: str = DEFAULT_ORIGIN) -> tuple[LedgerKeys, NoteVerifier]:
    """Create the log's Ed25519 key (private file mode 0600); refuses to overwrite one."""
    keys = LedgerKeys.of(settings)
    make_private_dir(keys.private.parent)
    signer = generate_key(name)
    write_key_files(signer, private_path=keys.private, public_path=keys.public)
    return keys, signer.verifier()


def ensure_key(settings: Settings) -> NoteVerifier:
    """The log's verifier, generating the key on first use (as ``brightline serve`` does)."""
    keys = LedgerKeys.of(settings)
    if keys.private.is_file():
        return keys.verifier()
    return keygen(settings)[1]


def sealed_verifiers(settings: Settings) -> list[NoteVerifier]:
    """The verifier keys of the sealed logs kept under ``ledger/logs/``."""
    directory = settings.data_dir / "ledger" / "logs"
    if not directory.is_dir():
        return []
    return [read_verifier(path) for path in sorted(directory.glob("*/log.pub"))]


def stage_key(settings: Settings, origin: str) -> NoteSigner:
    """The next log's key, named ``origin``: the one an interrupted seal staged, or a new
    one. ConflictError if a staged key is named otherwise (the interrupted seal was for
    another origin: finish it with that origin, or remove ``ledger/next/``).

    A new key is written in a directory of its own and renamed to ``next/`` (one atomic
    step), so that a crash never leaves half a key there; directories left by such a
    crash held keys no log ever used, and are removed.
    """
    staged = LedgerKeys.staged(settings)
    if staged.private.is_file():
        signer = read_signer(staged.private)
        if signer.name != origin:
            raise ConflictError(
                f"{staged.private} holds the key of an unfinished seal for {signer.name}: "
                f"run it again with --origin {signer.name}, or remove {staged.private.parent}"
            )
        return signer
    ledger = staged.private.parent.parent
    for leftover in ledger.glob(".next-*"):
        shutil.rmtree(leftover)
    signer = generate_key(origin)
    making = LedgerKeys._in(ledger / f".next-{signer.key_id.hex()}")
    make_private_dir(making.private.parent)
    write_key_files(signer, private_path=making.private, public_path=making.public)
    try:
        os.rename(making.private.parent, staged.private.parent)
    except OSError as exc:  # another seal staged one meanwhile
        shutil.rmtree(making.private.parent)
        raise ConflictError(f"{staged.private.parent} appeared meanwhile: run again") from exc
    return signer


def _move(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` if it is still there; never over another file."""
    if not source.is_file():
        return
    if target.exists():
        raise ConflictError(f"not moving {source}: {target} already exists")
    make_private_dir(target.parent)
    os.replace(source, target)


def settle_keys(settings: Settings, logs: Sequence[StoredLog]) -> None:
    """Once the store has started the log whose key a seal staged, file the sealed log's
    key under ``logs/<n>/`` and make the staged key ``log.key``; else do nothing.

    ``logs`` are the store's logs, oldest first. Idempotent: a crash at any point leaves
    files that the next call settles.
    """
    keys, staged = LedgerKeys.of(settings), LedgerKeys.staged(settings)
    if staged.private.is_file() and logs:
        current = logs[-1]
        if read_signer(staged.private).name != current.origin:
            return  # the seal did not start its log; it reuses the staged key next time
        old = keys.signer()
        if old is not None:
            number = next((log.number for log in logs[:-1] if log.origin == old.name), None)
            if number is None:
                raise LedgerIntegrityError(
                    f"{keys.private} is the key of {old.name}, which is no sealed log of this "
                    f"store, and {staged.private} is the current log's: keep the right one"
                )
            sealed = LedgerKeys.sealed(settings, number)
            _move(keys.public, sealed.public)
            _move(keys.private, sealed.private)
        # Public key first: the staged private key is what says a move is under way.
        _move(staged.public, keys.public)
        _move(staged.private, keys.private)
    if staged.private.parent.is_dir() and not any(staged.private.parent.iterdir()):
        staged.private.parent.rmdir()
