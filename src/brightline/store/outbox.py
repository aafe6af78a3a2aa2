"""The outbox: events for the ledger, appended in the same transaction as each change.

Nothing here updates or deletes an outbox row. Consumers keep their position in
``outbox_cursors``; advancing it is the only update, and it never moves backwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brightline.errors import ConflictError, InvalidInputError
from brightline.store.models import OutboxCursor, OutboxEvent


def canonical_json(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """Sorted keys, no insignificant spaces, UTF-8 kept: equal values give equal text.
    ``default`` turns what JSON has no form for (a read-only mapping) into what it has."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
    )


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    event_type: str
    payload: str
    created_at: datetime

    def data(self) -> Any:
        return json.loads(self.payload)


def append_outbox(
    session: Session, event_type: str, payload: Mapping[str, Any], *, at: datetime
) -> int:
    row = OutboxEvent(event_type=event_type, payload=canonical_json(payload), created_at=at)
    session.add(row)
    session.flush()
    return row.id


class OutboxRecord(NamedTuple):
    """The outbox event a history row must have: its type, payload and time, as
    ``brightline.service.records`` derives them from the row (for the writer and the
    store audit alike). A tuple, not a dataclass: the audit makes a million of them."""

    event_type: str
    payload: Mapping[str, Any]
    at: datetime


def append_record(session: Session, record: OutboxRecord) -> int:
    """Append ``record`` to the outbox; its id."""
    return append_outbox(session, record.event_type, record.payload, at=record.at)


def read_outbox(session: Session, *, after: int = 0, limit: int = 1000) -> list[OutboxEntry]:
    rows = session.scalars(
        select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id).limit(limit)
    )
    return [OutboxEntry(r.id, r.event_type, r.payload, r.created_at) for r in rows]


def read_outbox_of_type(session: Session, event_type: str) -> list[OutboxEntry]:
    """Every outbox event of ``event_type``, oldest first."""
    rows = session.scalars(
        select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id)
    )
    return [OutboxEntry(r.id, r.event_type, r.payload, r.created_at) for r in rows]


def latest_outbox_of_type(session: Session, event_type: str) -> OutboxEntry | None:
    """The newest outbox event of ``event_type`` (None if there is none)."""
    row = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.event_type == event_type)
        .order_by(OutboxEvent.id.desc())
        .limit(1)
    ).first()
    return None if row is None else OutboxEntry(row.id, row.event_type, row.payload, row.created_at)


def outbox_head(session: Session) -> int:
    """The id of the newest outbox event, 0 when empty."""
    return session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0))) or 0


def outbox_rank(session: Session, event_id: int) -> int:
    """How many outbox events precede ``event_id``: its index in the ledger, which logs
    every event once, in order (ids may have gaps; ranks do not)."""
    before = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.id < event_id)
    return session.scalar(before) or 0


def count_outbox(session: Session, *, after: int = 0) -> int:
    """How many outbox events come after ``after``."""
    return session.scalar(select(func.count()).where(OutboxEvent.id > after)) or 0


def consumer_position(session: Session, consumer: str) -> int:
    """How far ``consumer`` has read (0 if it never has)."""
    row = session.get(OutboxCursor, consumer)
    return 0 if row is None else row.position


def advance_consumer(session: Session, consumer: str, position: int, *, at: datetime) -> None:
    """Record that ``consumer`` has handled every event up to ``position``.

    Refuses to move backwards or past the newest event.
    """
    if not consumer:
        raise InvalidInputError("consumer name must not be empty")
    head = outbox_head(session)
    if position > head:
        raise InvalidInputError(f"position {position} is past the newest outbox event {head}")
    row = session.get(OutboxCursor, consumer, with_for_update=True)
    if row is None:
        session.add(OutboxCursor(consumer=consumer, position=position, updated_at=at))
    elif position < row.position:
        raise ConflictError(
            f"consumer {consumer!r} is already at {row.position}; cursors never move back"
        )
    else:
        row.position = position
        row.updated_at = at
    session.flush()


def outbox_entry(session: Session, event_id: int) -> OutboxEntry | None:
    row = session.get(OutboxEvent, event_id)
    return None if row is None else OutboxEntry(row.id, row.event_type, row.payload, row.created_at)
