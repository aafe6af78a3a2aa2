"""Ledger tables: the logs, their entry bundles (the history), hash tiles and checkpoints.

Both the entries and the Merkle tree's hashes are stored the way C2SP tlog-tiles
publishes them, in blobs of up to 256: a bundle row holds 256 consecutive entries'
public forms (each as a big-endian uint16 length and the bytes), their salts and the
outbox events they record; a tile row holds 256 hashes of 32 bytes. A row is inserted
partial and widened as the log grows — only ever by appending, never by changing what
it holds — and ``ledger_checkpoints`` and ``ledger_cosignatures`` are insert-only.
Each entry's private record is its outbox event, which is never updated or deleted
either.

A store holds one or more logs, numbered from 1 (``ledger_logs``); every bundle, tile and
checkpoint belongs to one. The log with the highest number is the current one: it is the
only one that grows. Each earlier log was sealed by ``brightline ledger seal-and-restart``
and is frozen at its final checkpoint, to which the next log's first entry commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from brightline.store.models import Base, BigId, UtcDateTime


class LedgerLogRow(Base):
    """A log: its number and its origin (the first line of its checkpoints, and the name
    of the key that signs them).

    ``origin`` is written once: when a seal starts the log, or, for log 1, by its first
    signed checkpoint (a log is numbered before it has a key); NULL until then.
    """

    __tablename__ = "ledger_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    origin: Mapped[str | None] = mapped_column(Text, unique=True)


class LedgerBundleRow(Base):
    __tablename__ = "ledger_bundles"

    log: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Entries ``256 × bundle`` … ``256 × bundle + width − 1``.
    bundle: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(Integer)
    #: C2SP entry bundle: per entry a big-endian uint16 length and the public form.
    entries: Mapped[bytes] = mapped_column(LargeBinary)
    #: 32 bytes per entry: the salt of its commitment.
    salts: Mapped[bytes] = mapped_column(LargeBinary)
    #: 8 bytes per entry (big-endian): the outbox event holding its private record.
    outbox_ids: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerTileRow(Base):
    __tablename__ = "ledger_tiles"

    log: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tile: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(Integer)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpointRow(Base):
    """A signed checkpoint (C2SP signed note) as issued."""

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (Index("ix_ledger_checkpoints_log", "log", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    log: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigId)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LedgerCosignatureRow(Base):
    """A witness's cosignature of a checkpoint (C2SP tlog-cosignature), as the witness
    returned it: a signature line that the published note carries after the log's own.
    Kept only once verified with the witness's key; one per checkpoint and witness key."""

    __tablename__ = "ledger_cosignatures"
    __table_args__ = (
        UniqueConstraint("checkpoint", "witness", "key_id", name="uq_ledger_cosignatures_witness"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    checkpoint: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_checkpoints.id"))
    #: The witness's key name and 4-byte key id, as in its signature line.
    witness: Mapped[str] = mapped_column(Text)
    key_id: Mapped[bytes] = mapped_column(LargeBinary)
    #: ``— <witness> <base64>`` and its newline.
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
