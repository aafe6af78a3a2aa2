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
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from sqlalchemy import Column, Row, Table, select
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
from brightline.store.ledger_models import LedgerBundleRow
from brightline.store.models import OutboxEvent, RestrictionEvent, WorldVersion
from brightline.store.outbox import OutboxEntry
from brightline.store.serving_models import ApiKeyRevocationRow, ApiKeyRow

#: Rows per statement: large enough that a million rows take a hundred round trips.
BATCH: Final = 10_000
_SALT: Final = 32
_ID: Final = 8

_T = TypeVar("_T")


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


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """Ledger entry ``index``: the outbox event it records, its public form and salt."""

    index: int
    outbox_id: int
    public: bytes
    salt: bytes


# -- streaming ------------------------------------------------------------------------------


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _batched(
    session: Session,
    table: Table,
    key: str,
    convert: Callable[[Row[Any]], _T],
    *,
    batch: int = BATCH,
) -> Iterator[_T]:
    """Every row of ``table`` in ``key`` order, converted, read ``batch`` rows at a time."""
    column: Column[Any] = table.c[key]
    connection = session.connection()
    last: Any = None
    while True:
        query = select(table).order_by(column).limit(batch)
        if last is not None:
            query = query.where(column > last)
        rows = connection.execute(query).all()
        for row in rows:
            yield convert(row)
        if len(rows) < batch:
            return
        last = rows[-1]._mapping[key]


def _json(text: str | None, where: str) -> Any:
    try:
        return None if text is None else json.loads(text)
    except json.JSONDecodeError as exc:
        raise LedgerIntegrityError(f"{where} holds malformed JSON: {exc}") from exc


def restriction_events(session: Session, *, batch: int = BATCH) -> Iterator[StoredEvent]:
    """``restriction_events`` by ``seq``."""

    def convert(row: Row[Any]) -> StoredEvent:
        r = row._mapping
        return StoredEvent(
            seq=r["seq"],
            restriction_id=r["restriction_id"],
            revision=r["revision"],
            kind=r["kind"],
            actor=r["actor"],
            at=r["at"],
            why=r["why"],
            case_id=r["case_id"],
            body=_json(r["body"], f"restriction event {r['seq']}"),
            idempotency_key=r["idempotency_key"],
            request_digest=r["request_digest"],
        )

    return _batched(session, _table(RestrictionEvent), "seq", convert, batch=batch)


def case_events(session: Session, *, batch: int = BATCH) -> Iterator[tuple[CaseEvent, int]]:
    """``case_events`` by ``seq``, each with the id of the outbox event it names."""

    def convert(row: Row[Any]) -> tuple[CaseEvent, int]:
        r = row._mapping
        where = f"case event {r['seq']}"
        try:
            move = CaseMove(r["kind"])
        except ValueError as exc:
            raise LedgerIntegrityError(f"{where} has an unknown kind {r['kind']!r}") from exc
        data = _json(r["data"], where)
        event = CaseEvent(r["seq"], r["case_id"], r["revision"], move, r["actor"], r["at"], data)
        return event, r["outbox_id"]

    return _batched(session, _table(CaseEventRow), "seq", convert, batch=batch)


def signals(session: Session, *, batch: int = BATCH) -> Iterator[StoredSignal]:
    """``signals`` by ``id``."""

    def convert(row: Row[Any]) -> StoredSignal:
        r = row._mapping
        where = f"signal {r['id']}"
        return StoredSignal(
            id=r["id"],
            received_at=r["received_at"],
            source_kind=r["source_kind"],
            nodes=tuple(_json(r["nodes"], where) or ()),
            policies=tuple(_json(r["policies"], where) or ()),
            summary=r["summary"],
            references=tuple(_json(r["references"], where) or ()),
            alert_id=r["alert_id"],
        )

    return _batched(session, _table(SignalRow), "id", convert, batch=batch)


def grants(session: Session, *, batch: int = BATCH) -> Iterator[StoredGrant]:
    """``role_grant_events`` by ``seq``."""

    def convert(row: Row[Any]) -> StoredGrant:
        r = row._mapping
        return StoredGrant(r["seq"], r["principal"], r["role"], r["kind"], r["actor"], r["at"])

    return _batched(session, _table(RoleGrantEvent), "seq", convert, batch=batch)


def guard_approvals(session: Session) -> Iterator[StoredGuardApproval]:
    """``guard_approvals`` by ``seq``."""

    def convert(row: Row[Any]) -> StoredGuardApproval:
        r = row._mapping
        return StoredGuardApproval(
            r["seq"], r["restriction_id"], r["plan_id"], r["approver"], r["at"]
        )

    return _batched(session, _table(GuardApprovalRow), "seq", convert)


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

    def convert(row: Row[Any]) -> StoredKey:
        r = row._mapping
        roles = _json(r["roles"], f"API key {r['id']}")
        return StoredKey(
            r["id"], r["principal"], tuple(roles or ()), r["created_at"], r["created_by"]
        )

    return {k.id: k for k in _batched(session, _table(ApiKeyRow), "id", convert)}


def key_revocations(session: Session) -> dict[str, StoredRevocation]:
    """Every API key revocation by key id."""

    def convert(row: Row[Any]) -> StoredRevocation:
        r = row._mapping
        return StoredRevocation(r["key_id"], r["revoked_at"], r["revoked_by"])

    return {r.key_id: r for r in _batched(session, _table(ApiKeyRevocationRow), "key_id", convert)}


def world_version_rows(session: Session) -> Iterator[StoredWorldVersion]:
    """``world_versions`` by ``id`` (without their nodes)."""

    def convert(row: Row[Any]) -> StoredWorldVersion:
        r = row._mapping
        return StoredWorldVersion(r["id"], r["created_at"], r["actor"], r["source"], r["digest"])

    return _batched(session, _table(WorldVersion), "id", convert)


def outbox_events(session: Session, *, batch: int = BATCH) -> Iterator[OutboxEntry]:
    """The outbox by ``id``."""

    def convert(row: Row[Any]) -> OutboxEntry:
        r = row._mapping
        return OutboxEntry(r["id"], r["event_type"], r["payload"], r["created_at"])

    return _batched(session, _table(OutboxEvent), "id", convert, batch=batch)


def logged_entries(session: Session, *, size: int) -> Iterator[LoggedEntry]:
    """The ledger's first ``size`` entries in order, with their outbox ids and salts.

    LedgerIntegrityError where a bundle is missing, does not decode, or holds fewer salts
    or outbox ids than entries (the tree checks name such an index too).
    """
    bundles = _table(LedgerBundleRow)
    connection = session.connection()
    index = 0
    while index < size:
        first = index // TILE_WIDTH
        rows = connection.execute(
            select(bundles.c.bundle, bundles.c.entries, bundles.c.salts, bundles.c.outbox_ids)
            .where(bundles.c.bundle >= first)
            .order_by(bundles.c.bundle)
            .limit(64)
        ).all()
        if not rows:
            raise LedgerIntegrityError(f"ledger entry {index}: its entry bundle is missing")
        for number, blob, salts, ids in rows:
            if number * TILE_WIDTH != index:
                raise LedgerIntegrityError(f"ledger entry {index}: its entry bundle is missing")
            try:
                publics = decode_entry_bundle(blob)
            except InvalidInputError as exc:
                raise LedgerIntegrityError(f"ledger entry {index}: {exc}") from exc
            width = min(len(publics), size - index)
            if len(salts) < width * _SALT or len(ids) < width * _ID:
                raise LedgerIntegrityError(
                    f"ledger entry {index}: entry bundle {number} lacks salts or outbox ids"
                )
            for i in range(width):
                yield LoggedEntry(
                    index + i,
                    int.from_bytes(ids[i * _ID : (i + 1) * _ID], "big"),
                    publics[i],
                    salts[i * _SALT : (i + 1) * _SALT],
                )
            index += width
            if index >= size:
                return
            if width < TILE_WIDTH:
                raise LedgerIntegrityError(
                    f"ledger entry {index}: entry bundle {number} ends early"
                )


def snapshot(session: Session) -> None:
    """Make ``session``'s transaction read one snapshot of the whole store, whatever commits
    meanwhile: REPEATABLE READ on PostgreSQL (its default reads each statement's own); a
    SQLite read transaction is one already. Call before the transaction reads anything."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
