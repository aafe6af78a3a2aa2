"""Persisting the ledger: its logs, entry bundles, hash tiles (behind the ledger's
TileStore protocol) and checkpoints. Both entries and hashes are kept in blobs of 256, as
C2SP tlog-tiles publishes them, so an append writes a handful of rows whatever its size and
a proof reads O(log n) tiles; nothing here recomputes the tree.

Every function takes the number of the log it reads or writes (``log``); left out, it is
the current log (the highest number), the only one that grows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from brightline.errors import (
    ConflictError,
    InvalidInputError,
    LedgerIntegrityError,
    NotFoundError,
)
from brightline.ledger import (
    HASH_SIZE,
    TILE_WIDTH,
    TileWrite,
    decode_entry_bundle,
    encode_entry_bundle,
)
from brightline.store.ledger_models import (
    LedgerBundleRow,
    LedgerCheckpointRow,
    LedgerCosignatureRow,
    LedgerLogRow,
    LedgerTileRow,
)

_SALT = 32
_ID = 8


@dataclass(frozen=True, slots=True)
class NewLedgerEntry:
    """An entry to append: its public form, its commitment's salt, and the outbox event
    whose payload is its private record."""

    outbox_id: int
    public: bytes
    salt: bytes


@dataclass(frozen=True, slots=True)
class StoredLedgerEntry:
    seq: int
    outbox_id: int
    public: bytes
    salt: bytes


@dataclass(frozen=True, slots=True)
class StoredLog:
    """A log of the store: its number (from 1) and origin (None until it is first signed)."""

    number: int
    origin: str | None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as published: ``note`` is the log's signed note followed by the
    cosignature lines its witnesses returned so far (``signed_note`` without them)."""

    id: int
    log: int
    size: int
    root: bytes
    note: str
    created_at: datetime
    signed_note: str


_TILES: Table = LedgerTileRow.__table__  # type: ignore[assignment]
_BUNDLES: Table = LedgerBundleRow.__table__  # type: ignore[assignment]
_SELECT_TILE = select(_TILES.c.width, _TILES.c.hashes).where(
    _TILES.c.log == bindparam("log"),
    _TILES.c.level == bindparam("level"),
    _TILES.c.tile == bindparam("tile"),
)
_UPDATE_TILE = (
    update(_TILES)
    .where(
        _TILES.c.log == bindparam("b_log"),
        _TILES.c.level == bindparam("b_level"),
        _TILES.c.tile == bindparam("b_tile"),
    )
    .values(width=bindparam("width"), hashes=bindparam("hashes"))
)


# --- logs --------------------------------------------------------------------------------


def ledger_logs(session: Session) -> list[StoredLog]:
    """Every log of the store, oldest first; the last is the current one."""
    rows = session.scalars(select(LedgerLogRow).order_by(LedgerLogRow.id))
    return [StoredLog(r.id, r.origin) for r in rows]


def current_log(session: Session) -> StoredLog:
    """The log that grows: the one with the highest number."""
    row = session.scalars(select(LedgerLogRow).order_by(LedgerLogRow.id.desc()).limit(1)).first()
    if row is None:  # migration 0006 creates log 1
        raise LedgerIntegrityError("the store has no ledger log: is it migrated?")
    return StoredLog(row.id, row.origin)


def ledger_log(session: Session, number: int | None = None) -> StoredLog:
    """Log ``number``, or the current one; NotFoundError if the store has no such log."""
    if number is None:
        return current_log(session)
    row = session.get(LedgerLogRow, number)
    if row is None:
        raise NotFoundError(f"the store has no ledger log {number}")
    return StoredLog(row.id, row.origin)


def _log(session: Session, log: int | None) -> int:
    return current_log(session).number if log is None else log


def start_log(session: Session, *, origin: str) -> StoredLog:
    """Start the next log, named ``origin``; from now on it is the current one.
    ConflictError if an earlier log already has that origin."""
    if session.scalar(select(LedgerLogRow.id).where(LedgerLogRow.origin == origin)) is not None:
        raise ConflictError(f"a ledger log named {origin!r} already exists")
    number = (session.scalar(select(func.max(LedgerLogRow.id))) or 0) + 1
    session.add(LedgerLogRow(id=number, origin=origin))
    session.flush()
    return StoredLog(number, origin)


def name_log(session: Session, number: int, origin: str) -> None:
    """Record the origin of a log that has none yet (log 1, at its first signed
    checkpoint); the one update of ``ledger_logs``, from NULL, once."""
    session.execute(
        update(LedgerLogRow)
        .where(LedgerLogRow.id == number, LedgerLogRow.origin.is_(None))
        .values(origin=origin)
    )


class SqlTileStore:
    """The ledger's ``TileStore`` over the ``ledger_tiles`` of one log (default: the
    current one), in the caller's session.

    Core statements built once, not ORM objects: tiles are read on every proof and
    written on every append, and building statements would cost more than the SQL.
    """

    def __init__(self, session: Session, *, log: int | None = None) -> None:
        self.log = _log(session, log)
        self._connection = session.connection()

    def _row(self, level: int, index: int) -> tuple[int, bytes] | None:
        row = self._connection.execute(
            _SELECT_TILE, {"log": self.log, "level": level, "tile": index}
        ).first()
        return None if row is None else (row[0], row[1])

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        row = self._row(level, index)
        if row is None or row[0] < width or len(row[1]) < width * HASH_SIZE:
            raise LedgerIntegrityError(f"hash tile {level}/{index} (width {width}) is missing")
        return row[1][: width * HASH_SIZE]

    def write_tile(self, write: TileWrite) -> None:
        self.write_tiles([write])

    def write_tiles(self, writes: Sequence[TileWrite]) -> None:
        """Insert tiles, or widen stored ones, in a few statements; a write that would
        change a stored hash is refused (and the caller's transaction rolls back)."""
        if not writes:
            return
        stored: dict[tuple[int, int], tuple[int, bytes]] = {}
        for level in {w.level for w in writes}:
            indexes = [w.index for w in writes if w.level == level]
            rows = self._connection.execute(
                select(_TILES.c.tile, _TILES.c.width, _TILES.c.hashes).where(
                    _TILES.c.log == self.log, _TILES.c.level == level, _TILES.c.tile.in_(indexes)
                )
            )
            stored.update({(level, t): (w, h) for t, w, h in rows})
        inserts, updates = [], []
        for write in writes:
            width = len(write.hashes) // HASH_SIZE
            current = stored.get((write.level, write.index))
            values = {
                "log": self.log,
                "level": write.level,
                "tile": write.index,
                "width": width,
                "hashes": write.hashes,
            }
            if current is None:
                inserts.append(values)
                stored[(write.level, write.index)] = (width, write.hashes)
                continue
            common = min(len(current[1]), len(write.hashes))
            if current[1][:common] != write.hashes[:common]:
                raise LedgerIntegrityError(
                    f"refusing to change stored hashes of tile {write.level}/{write.index}"
                )
            if width > current[0]:
                updates.append(
                    {
                        "b_log": self.log,
                        "b_level": write.level,
                        "b_tile": write.index,
                        "width": width,
                        "hashes": write.hashes,
                    }
                )
        if inserts:
            self._connection.execute(insert(_TILES), inserts)
        if updates:
            self._connection.execute(_UPDATE_TILE, updates)


@dataclass(frozen=True, slots=True)
class _Bundle:
    index: int
    width: int
    entries: bytes
    salts: bytes
    outbox_ids: bytes


def _bundle(session: Session, log: int, index: int) -> _Bundle | None:
    row = (
        session.connection()
        .execute(
            select(
                _BUNDLES.c.bundle,
                _BUNDLES.c.width,
                _BUNDLES.c.entries,
                _BUNDLES.c.salts,
                _BUNDLES.c.outbox_ids,
            ).where(_BUNDLES.c.log == log, _BUNDLES.c.bundle == index)
        )
        .first()
    )
    return None if row is None else _Bundle(row[0], row[1], row[2], row[3], row[4])


def ledger_size(session: Session, *, log: int | None = None) -> int:
    """The number of entries of a log (the next leaf index), read off its last bundle."""
    row = (
        session.connection()
        .execute(
            select(_BUNDLES.c.bundle, _BUNDLES.c.width)
            .where(_BUNDLES.c.log == _log(session, log))
            .order_by(_BUNDLES.c.bundle.desc())
            .limit(1)
        )
        .first()
    )
    return 0 if row is None else row[0] * TILE_WIDTH + row[1]


def insert_entries(
    session: Session, start: int, entries: Sequence[NewLedgerEntry], *, log: int | None = None
) -> None:
    """Append entries to a log at leaf indexes ``start``, ``start + 1``, …: widen the open
    bundle, then insert new ones in one statement. ``start`` must be the log's size."""
    if any(len(e.salt) != _SALT for e in entries):
        raise LedgerIntegrityError("a ledger salt must be 32 bytes")
    log = _log(session, log)
    connection = session.connection()
    position = start
    remaining = list(entries)
    new_rows = []
    while remaining:
        index, offset = divmod(position, TILE_WIDTH)
        take, remaining = remaining[: TILE_WIDTH - offset], remaining[TILE_WIDTH - offset :]
        blob = encode_entry_bundle([e.public for e in take])
        salts = b"".join(e.salt for e in take)
        ids = b"".join(e.outbox_id.to_bytes(_ID, "big") for e in take)
        if offset == 0:
            new_rows.append(
                {
                    "log": log,
                    "bundle": index,
                    "width": len(take),
                    "entries": blob,
                    "salts": salts,
                    "outbox_ids": ids,
                }
            )
        else:
            current = _bundle(session, log, index)
            if current is None or current.width != offset:
                raise LedgerIntegrityError(
                    f"entry bundle {index} does not end at entry {position}: the log changed"
                )
            connection.execute(
                update(_BUNDLES)
                .where(
                    _BUNDLES.c.log == log, _BUNDLES.c.bundle == index, _BUNDLES.c.width == offset
                )
                .values(
                    width=offset + len(take),
                    entries=current.entries + blob,
                    salts=current.salts + salts,
                    outbox_ids=current.outbox_ids + ids,
                )
            )
        position += len(take)
    if new_rows:
        connection.execute(insert(_BUNDLES), new_rows)


def _entries_of(bundle: _Bundle) -> list[StoredLedgerEntry]:
    publics = decode_entry_bundle(bundle.entries)
    first = bundle.index * TILE_WIDTH
    return [
        StoredLedgerEntry(
            first + i,
            int.from_bytes(bundle.outbox_ids[i * _ID : (i + 1) * _ID], "big"),
            public,
            bundle.salts[i * _SALT : (i + 1) * _SALT],
        )
        for i, public in enumerate(publics)
    ]


def entry_at(session: Session, seq: int, *, log: int | None = None) -> StoredLedgerEntry:
    bundle = _bundle(session, _log(session, log), seq // TILE_WIDTH) if seq >= 0 else None
    entries = _entries_of(bundle) if bundle is not None else []
    offset = seq % TILE_WIDTH
    if offset >= len(entries):
        raise NotFoundError(f"no ledger entry {seq}")
    return entries[offset]


def iter_public(session: Session, *, log: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(seq, public)`` of every entry of a log in order, as the bundles hold them.

    A bundle whose bytes do not decode ends the iteration there (a verifier then
    names that point as the first bad index).
    """
    index = 0
    log = _log(session, log)
    connection = session.connection()
    while True:
        rows = connection.execute(
            select(_BUNDLES.c.bundle, _BUNDLES.c.entries)
            .where(_BUNDLES.c.log == log, _BUNDLES.c.bundle >= index)
            .order_by(_BUNDLES.c.bundle)
            .limit(64)
        ).all()
        if not rows:
            return
        for bundle, blob in rows:
            if bundle != index:
                return  # a missing bundle: stop where the gap starts
            try:
                publics = decode_entry_bundle(blob)
            except InvalidInputError:
                return
            for i, public in enumerate(publics):
                yield index * TILE_WIDTH + i, public
            if len(publics) != TILE_WIDTH:
                return
            index += 1


def add_checkpoint(
    session: Session,
    *,
    size: int,
    root: bytes,
    note: str,
    at: datetime,
    log: int | None = None,
) -> int:
    row = LedgerCheckpointRow(
        log=_log(session, log), size=size, root=root, note=note, created_at=at
    )
    session.add(row)
    session.flush()
    return row.id


def checkpoints(session: Session, *, log: int | None = None) -> list[StoredCheckpoint]:
    """A log's checkpoints, in the order they were issued, each with its cosignatures."""
    rows = list(
        session.scalars(
            select(LedgerCheckpointRow)
            .where(LedgerCheckpointRow.log == _log(session, log))
            .order_by(LedgerCheckpointRow.id)
        )
    )
    lines = _cosignature_lines(session)
    return [_published(r, lines.get(r.id, ())) for r in rows]


def latest_checkpoint(session: Session, *, log: int | None = None) -> StoredCheckpoint | None:
    """A log's latest checkpoint; for a sealed log, its final one."""
    row = session.scalars(
        select(LedgerCheckpointRow)
        .where(LedgerCheckpointRow.log == _log(session, log))
        .order_by(LedgerCheckpointRow.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return _published(row, _cosignature_lines(session, only=row.id).get(row.id, ()))


def _published(row: LedgerCheckpointRow, lines: Sequence[str]) -> StoredCheckpoint:
    # A signed note ends in its last signature line and a newline: the cosignature lines
    # follow it as further signatures (C2SP signed-note, tlog-cosignature).
    note = row.note + "".join(lines)
    return StoredCheckpoint(row.id, row.log, row.size, row.root, note, row.created_at, row.note)


def _cosignature_lines(session: Session, *, only: int | None = None) -> dict[int, tuple[str, ...]]:
    """Cosignature lines by checkpoint id, in the order received (of one checkpoint if
    ``only`` is given)."""
    query = select(LedgerCosignatureRow.checkpoint, LedgerCosignatureRow.line)
    if only is not None:
        query = query.where(LedgerCosignatureRow.checkpoint == only)
    found: dict[int, list[str]] = {}
    for checkpoint, line in session.execute(query.order_by(LedgerCosignatureRow.id)):
        found.setdefault(checkpoint, []).append(line)
    return {k: tuple(v) for k, v in found.items()}


def add_cosignature(
    session: Session, *, checkpoint: int, witness: str, key_id: bytes, line: str, at: datetime
) -> bool:
    """Keep a verified cosignature line of checkpoint ``checkpoint``; False (and nothing
    written) if that witness key's cosignature of it is already kept."""
    held = session.scalars(
        select(LedgerCosignatureRow.id).where(
            LedgerCosignatureRow.checkpoint == checkpoint,
            LedgerCosignatureRow.witness == witness,
            LedgerCosignatureRow.key_id == key_id,
        )
    ).first()
    if held is not None:
        return False
    session.add(
        LedgerCosignatureRow(
            checkpoint=checkpoint, witness=witness, key_id=key_id, line=line, received_at=at
        )
    )
    session.flush()
    return True


def witnessed_size(
    session: Session, *, witness: str, key_id: bytes, log: int | None = None
) -> int | None:
    """The size of the latest checkpoint of a log (the current one by default) that this
    witness key cosigned, None if none: where the next consistency proof for it starts."""
    return session.scalars(
        select(LedgerCheckpointRow.size)
        .join(LedgerCosignatureRow, LedgerCosignatureRow.checkpoint == LedgerCheckpointRow.id)
        .where(
            LedgerCheckpointRow.log == _log(session, log),
            LedgerCosignatureRow.witness == witness,
            LedgerCosignatureRow.key_id == key_id,
        )
        .order_by(LedgerCheckpointRow.id.desc())
        .limit(1)
    ).first()
