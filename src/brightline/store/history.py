"""The store's histories read as values, each in the order it was written, in batches.

Every state change appends rows to one of these history tables and, in the same
transaction, an outbox event (see ``brightline.service.records`` for the event each row
must have). The store audit (``brightline.service.store_audit``) reads every history,
the outbox and the ledger's entries side by side, in order: each reader here streams
its table with keyset pagination (``WHERE key > last ORDER BY key LIMIT n``), so that
memory stays flat and no statement runs long, whatever the size of the store.

Write order: every writer holds the store's write lock, so within one table the keys
(``seq``, ``id``) grow in the order of the outbox events written with the rows.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import orjson
from sqlalchemy import Column, ColumnElement, Table, and_, select
from sqlalchemy.orm import Session

from brightline.cases import CaseEvent, CaseMove
from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import TILE_WIDTH, decode_entry_bundle
from brightline.store.case_models import (
    CaseEventRow,
    GuardApprovalRow,
    PlanRow,
    RoleGrantEvent,
    SignalRow,
)
from brightline.store.cases import (
    StoredGrant,
    StoredGuardApproval,
    StoredPlan,
    StoredSignal,
    plan_of_row,
)
from brightline.store.events import StoredEvent
from brightline.store.ledger import ledger_logs, ledger_size
from brightline.store.ledger_models import LedgerBundleRow
from brightline.store.models import OutboxEvent, RestrictionEvent, WorldVersion
from brightline.store.serving_models import ApiKeyRevocationRow, ApiKeyRow

#: Rows per statement: large enough that a million rows take a hundred round trips.
BATCH: Final = 10_000
_SALT: Final = 32
_ID: Final = 8


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


# -- values of history rows that had none (grants, guard approvals: in ``cases``) ---------


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An API key as created; never its secret or the secret's hash."""

    id: str
    principal: str
    roles: tuple[str, ...]
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class StoredRevocation:
    key_id: str
    revoked_at: datetime
    revoked_by: str


@dataclass(frozen=True, slots=True)
class StoredWorldVersion:
    """A world import's row (its nodes, services and regions are read by ``worlds``)."""

    id: int
    created_at: datetime
    actor: str
    source: str
    digest: str


class LoggedEntry(NamedTuple):
    """Entry ``seq`` of ledger log ``log`` (of the ``logs`` the store holds): the outbox
    event it records, its public form and salt."""

    seq: int
    outbox_id: int
    public: bytes
    salt: bytes
    log: int = 1
    logs: int = 1

    def name(self) -> str:
        """How a message names it: ``ledger entry 7``, or ``log 2's entry 7`` once the
        store holds more than one log."""
        if self.logs == 1:
            return f"ledger entry {self.seq}"
        return f"log {self.log}'s entry {self.seq}"


# -- streaming ------------------------------------------------------------------------------


def batched(
    session: Session,
    table: Table,
    columns: Sequence[str],
    *,
    batch: int = BATCH,
    where: ColumnElement[bool] | None = None,
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The rows of ``table`` (``columns``, the first being its key; those ``where`` holds,
    if given) in key order, a batch at a time, as the driver returns them: plain tuples,
    no column type's conversion (a stored time comes as SQLite's text or the PostgreSQL
    driver's datetime, for :func:`_utc`). Skipping SQLAlchemy's rows halves the cost of
    reading a million. Columns are named, not ``*``: a reader unpacks them by position."""
    selected = [table.c[name] for name in columns]
    key: Column[Any] = table.c[columns[0]]
    connection = session.connection()
    last: Any = None
    while True:
        query = select(*selected).order_by(key).limit(batch)
        if where is not None:
            query = query.where(where)
        if last is not None:
            query = query.where(key > last)
        result = connection.execute(query)
        try:
            rows: Sequence[tuple[Any, ...]] = result.cursor.fetchall()
        finally:
            result.close()
        if rows:
            yield rows
        if len(rows) < batch:
            return
        last = rows[-1][0]


def _utc(value: Any) -> datetime:
    """A stored time as ``UtcDateTime`` returns it: SQLite stores naive UTC text, the
    PostgreSQL driver returns an aware datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    if not isinstance(value, datetime):
        raise LedgerIntegrityError(f"{value!r} is not a stored time")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(text: str | None, where: str) -> Any:
    """Parse JSON the store wrote (orjson first, for speed; the standard library for what
    it refuses, such as integers beyond 64 bits)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LedgerIntegrityError(f"{where} holds malformed JSON: {exc}") from exc


_RESTRICTION_COLUMNS: Final = (
    "seq",
    "restriction_id",
    "revision",
    "kind",
    "actor",
    "at",
    "why",
    "case_id",
    "body",
    "idempotency_key",
    "request_digest",
)


def raw_restriction_events(
    session: Session, *, batch: int = BATCH
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """``restriction_events`` by ``seq``, in batches of the driver's rows (see
    :func:`restriction_event`)."""
    return batched(session, _table(RestrictionEvent), _RESTRICTION_COLUMNS, batch=batch)


def restriction_event(row: tuple[Any, ...]) -> StoredEvent:
    """One row of :func:`raw_restriction_events` as a value."""
    seq, rid, revision, kind, actor, at, why, case, body, key, digest = row
    body = None if body is None else _json(body, f"restriction event {seq}")
    return StoredEvent(seq, rid, revision, kind, actor, _utc(at), why, case, body, key, digest)


def restriction_events(session: Session, *, batch: int = BATCH) -> Iterator[StoredEvent]:
    """``restriction_events`` by ``seq``."""
    for rows in raw_restriction_events(session, batch=batch):
        yield from map(restriction_event, rows)


_CASE_COLUMNS: Final = ("seq", "case_id", "revision", "kind", "actor", "at", "data", "outbox_id")
_MOVES: Final = {m.value: m for m in CaseMove}


def raw_case_events(session: Session, *, batch: int = BATCH) -> Iterator[Sequence[tuple[Any, ...]]]:
    """``case_events`` by ``seq``, in batches of the driver's rows (see :func:`case_event`)."""
    return batched(session, _table(CaseEventRow), _CASE_COLUMNS, batch=batch)


def case_event(row: tuple[Any, ...]) -> tuple[CaseEvent, int]:
    """One row of :func:`raw_case_events` as a value, with the outbox event it names."""
    seq, case, revision, kind, actor, at, data, outbox_id = row
    move = _MOVES.get(kind)
    if move is None:
        raise LedgerIntegrityError(f"case event {seq} has an unknown kind {kind!r}")
    data = _json(data, f"case event {seq}")
    return CaseEvent(seq, case, revision, move, actor, _utc(at), data), outbox_id


def case_events(session: Session, *, batch: int = BATCH) -> Iterator[tuple[CaseEvent, int]]:
    """``case_events`` by ``seq``, each with the id of the outbox event it names."""
    for rows in raw_case_events(session, batch=batch):
        yield from map(case_event, rows)


_SIGNAL_COLUMNS: Final = (
    "id",
    "received_at",
    "source_kind",
    "nodes",
    "policies",
    "summary",
    "references",
    "alert_id",
)


def raw_signals(session: Session, *, batch: int = BATCH) -> Iterator[Sequence[tuple[Any, ...]]]:
    """``signals`` by ``id``, in batches of the driver's rows (see :func:`signal`)."""
    return batched(session, _table(SignalRow), _SIGNAL_COLUMNS, batch=batch)


def signal(row: tuple[Any, ...]) -> StoredSignal:
    """One row of :func:`raw_signals` as a value."""
    id_, at, source, nodes, policies, summary, references, alert = row
    where = f"signal {id_}"
    return StoredSignal(
        id_,
        _utc(at),
        source,
        tuple(_json(nodes, where) or ()),
        tuple(_json(policies, where) or ()),
        summary,
        tuple(_json(references, where) or ()),
        alert,
    )


def signals(session: Session, *, batch: int = BATCH) -> Iterator[StoredSignal]:
    """``signals`` by ``id``."""
    for rows in raw_signals(session, batch=batch):
        yield from map(signal, rows)


def grants(session: Session, *, batch: int = BATCH) -> Iterator[StoredGrant]:
    """``role_grant_events`` by ``seq``."""
    table = _table(RoleGrantEvent)
    columns = ("seq", "principal", "role", "kind", "actor", "at", "node")
    for rows in batched(session, table, columns, batch=batch):
        for seq, principal, role, kind, actor, at, node in rows:
            yield StoredGrant(seq, principal, role, kind, actor, _utc(at), node)


def guard_approvals(session: Session) -> Iterator[StoredGuardApproval]:
    """``guard_approvals`` by ``seq``."""
    table = _table(GuardApprovalRow)
    columns = ("seq", "restriction_id", "plan_id", "approver", "at")
    for rows in batched(session, table, columns):
        for seq, restriction, plan, approver, at in rows:
            yield StoredGuardApproval(seq, restriction, plan, approver, _utc(at))


def plans(session: Session, ids: Collection[int]) -> dict[int, StoredPlan]:
    """The impact plans of ``ids`` (an id without a plan is left out), in a few statements."""
    wanted = sorted(set(ids))
    found: dict[int, StoredPlan] = {}
    for start in range(0, len(wanted), 500):
        rows = session.scalars(select(PlanRow).where(PlanRow.id.in_(wanted[start : start + 500])))
        found.update({row.id: plan_of_row(row) for row in rows})
    return found


def api_keys(session: Session) -> dict[str, StoredKey]:
    """Every API key by id (keys are few: one per person or gateway)."""
    table = _table(ApiKeyRow)
    columns = ("id", "principal", "roles", "created_at", "created_by")
    found = {}
    for rows in batched(session, table, columns):
        for key, principal, roles, at, by in rows:
            roles = tuple(_json(roles, f"key {key}") or ())
            found[key] = StoredKey(key, principal, roles, _utc(at), by)
    return found


def key_revocations(session: Session) -> dict[str, StoredRevocation]:
    """Every API key revocation by key id."""
    table = _table(ApiKeyRevocationRow)
    columns = ("key_id", "revoked_at", "revoked_by")
    return {
        key: StoredRevocation(key, _utc(at), by)
        for rows in batched(session, table, columns)
        for key, at, by in rows
    }


def world_version_rows(session: Session) -> Iterator[StoredWorldVersion]:
    """``world_versions`` by ``id`` (without their nodes)."""
    columns = ("id", "created_at", "actor", "source", "digest")
    for rows in batched(session, _table(WorldVersion), columns):
        for id_, at, actor, source, digest in rows:
            yield StoredWorldVersion(id_, _utc(at), actor, source, digest)


def outbox_rows(
    session: Session,
    *,
    batch: int = BATCH,
    of: Collection[str] | None = None,
    besides: Collection[str] = (),
) -> Iterator[list[tuple[int, str, str, datetime]]]:
    """The outbox by ``id``, in batches of ``(id, event_type, payload, created_at)``: the
    events of the types ``of`` (default: all) but those ``besides``."""
    for rows in raw_outbox_rows(session, batch=batch, of=of, besides=besides):
        yield [(i, event_type, payload, _utc(at)) for i, event_type, payload, at in rows]


def raw_outbox_rows(
    session: Session,
    *,
    batch: int = BATCH,
    of: Collection[str] | None = None,
    besides: Collection[str] = (),
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """:func:`outbox_rows` as the driver returns them: the time as stored
    (:func:`stored_time` reads it)."""
    columns = ("id", "event_type", "payload", "created_at")
    table = _table(OutboxEvent)
    # On SQLite, the type as an expression, not the column: seeing the column, SQLite
    # reads these rows through the (event_type, id) index and sorts each batch again by
    # id (a quarter of the second audit process's time at a million events); the rows
    # are wanted in the key's order, as the primary key gives them. PostgreSQL reads them
    # by primary key already, and the expression would make it scan in parallel workers.
    event_type: ColumnElement[str] = table.c.event_type
    if session.connection().dialect.name == "sqlite":
        event_type = event_type.concat("")
    kinds: list[ColumnElement[bool]] = []
    if of is not None:
        kinds.append(event_type.in_(sorted(of)))
    if besides:
        kinds.append(event_type.not_in(sorted(besides)))
    where = and_(*kinds) if kinds else None
    return batched(session, table, columns, batch=batch, where=where)


def stored_time(value: Any) -> datetime:
    """A time as a reader of raw rows returns it, as the value readers give (UTC)."""
    return _utc(value)


def stored_json(text: str | None, where: str) -> Any:
    """A JSON column as a reader of raw rows returns it, parsed as the value readers do."""
    return _json(text, where)


def outbox_types(
    session: Session, *, upto: int, batch: int = BATCH
) -> Iterator[Sequence[tuple[int, str]]]:
    """The outbox up to event ``upto`` by ``id``, in batches of ``(id, event_type)``."""
    table = _table(OutboxEvent)
    for rows in batched(session, table, ("id", "event_type"), batch=batch):
        if rows[-1][0] > upto:
            yield [row for row in rows if row[0] <= upto]
            return
        yield rows


def log_sizes(session: Session) -> list[tuple[int, int]]:
    """``(log, size)`` of every ledger log of the store, log 1 first."""
    return [(log.number, ledger_size(session, log=log.number)) for log in ledger_logs(session)]


def logged_entries(session: Session, *, sizes: Sequence[tuple[int, int]]) -> Iterator[LoggedEntry]:
    """The store's ledger history in order: for each ``(log, size)`` of ``sizes`` (log 1
    first), that log's first ``size`` entries, with their outbox ids and salts. Together
    they log the outbox in order: a log's entry 0 that continues a sealed log records the
    ``ledger.continued`` event written by the seal.

    LedgerIntegrityError where a bundle is missing, does not decode, or holds fewer salts
    or outbox ids than entries (the tree checks name such an index too).
    """
    logs = len(sizes)
    for log, size in sizes:
        yield from _log_entries(session, log, size, logs)


class EntryBundle(NamedTuple):
    """Up to 256 consecutive entries of a log, from entry ``first``: their public forms,
    salts (32 bytes each) and outbox ids."""

    log: int
    first: int
    publics: Sequence[bytes]
    salts: bytes
    outbox_ids: tuple[int, ...]


def entry_bundles(
    session: Session, *, sizes: Sequence[tuple[int, int]], publics: bool = True
) -> Iterator[EntryBundle]:
    """:func:`logged_entries` a bundle at a time (each cut to its log's size), for a
    reader that walks millions of entries; without ``publics``, the outbox ids only
    (nothing decoded: ``publics`` and ``salts`` are empty)."""
    for log, size in sizes:
        yield from _log_bundles(session, log, size, len(sizes), decode=publics)


def _log_entries(session: Session, log: int, size: int, logs: int) -> Iterator[LoggedEntry]:
    for bundle in _log_bundles(session, log, size, logs):
        salts = bundle.salts
        for i, public in enumerate(bundle.publics):
            yield LoggedEntry(
                bundle.first + i,
                bundle.outbox_ids[i],
                public,
                salts[i * _SALT : (i + 1) * _SALT],
                log,
                logs,
            )


def _log_bundles(
    session: Session, log: int, size: int, logs: int, *, decode: bool = True
) -> Iterator[EntryBundle]:
    bundles = _table(LedgerBundleRow)
    connection = session.connection()
    index = 0
    name = "ledger entry" if logs == 1 else f"log {log}'s entry"
    while index < size:
        first = index // TILE_WIDTH
        rows = connection.execute(
            select(bundles.c.bundle, bundles.c.entries, bundles.c.salts, bundles.c.outbox_ids)
            .where(bundles.c.log == log, bundles.c.bundle >= first)
            .order_by(bundles.c.bundle)
            .limit(64)
        ).all()
        if not rows:
            raise LedgerIntegrityError(f"{name} {index}: its entry bundle is missing")
        for number, blob, salts, ids in rows:
            if number * TILE_WIDTH != index:
                raise LedgerIntegrityError(f"{name} {index}: its entry bundle is missing")
            try:
                publics = decode_entry_bundle(blob) if decode else []
            except InvalidInputError as exc:
                raise LedgerIntegrityError(f"{name} {index}: {exc}") from exc
            width = min(len(publics) if decode else len(ids) // _ID, size - index)
            if len(salts) < width * _SALT or len(ids) < width * _ID:
                raise LedgerIntegrityError(
                    f"{name} {index}: entry bundle {number} lacks salts or outbox ids"
                )
            outbox_ids = struct.unpack(f">{width}Q", ids[: width * _ID])
            if decode:
                yield EntryBundle(log, index, publics[:width], salts[: width * _SALT], outbox_ids)
            else:
                yield EntryBundle(log, index, (), b"", outbox_ids)
            index += width
            if index >= size:
                return
            if width < TILE_WIDTH:
                raise LedgerIntegrityError(f"{name} {index}: entry bundle {number} ends early")


def snapshot(session: Session) -> None:
    """Make ``session``'s transaction read one snapshot of the whole store, whatever commits
    meanwhile: REPEATABLE READ on PostgreSQL (its default reads each statement's own); a
    SQLite read transaction is one already. Call before the transaction reads anything."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
