"""Restriction events: the append-only history from which every restriction's state is derived."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brightline.store.models import RestrictionEvent
from brightline.store.outbox import canonical_json


class StoredEvent(NamedTuple):
    """One restriction event as stored. ``kind`` is a lifecycle event name.

    A NamedTuple, not a frozen dataclass: the store audit reads a million of them, and a
    tuple is made several times faster."""

    seq: int
    restriction_id: str
    revision: int
    kind: str
    actor: str
    at: datetime
    why: str | None
    case_id: str | None
    body: Mapping[str, Any] | None
    idempotency_key: str | None
    request_digest: str


@dataclass(frozen=True, slots=True)
class NewEvent:
    restriction_id: str
    revision: int
    kind: str
    actor: str
    at: datetime
    request_digest: str
    why: str | None = None
    case_id: str | None = None
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None


def _stored(row: RestrictionEvent) -> StoredEvent:
    return StoredEvent(
        seq=row.seq,
        restriction_id=row.restriction_id,
        revision=row.revision,
        kind=row.kind,
        actor=row.actor,
        at=row.at,
        why=row.why,
        case_id=row.case_id,
        body=json.loads(row.body) if row.body is not None else None,
        idempotency_key=row.idempotency_key,
        request_digest=row.request_digest,
    )


def append_event(session: Session, event: NewEvent) -> StoredEvent:
    row = RestrictionEvent(
        restriction_id=event.restriction_id,
        revision=event.revision,
        kind=event.kind,
        actor=event.actor,
        at=event.at,
        why=event.why,
        case_id=event.case_id,
        body=canonical_json(dict(event.body)) if event.body is not None else None,
        idempotency_key=event.idempotency_key,
        request_digest=event.request_digest,
    )
    session.add(row)
    session.flush()
    return _stored(row)


def events_for(session: Session, restriction_id: str) -> list[StoredEvent]:
    """The restriction's events in revision order; empty if it does not exist."""
    rows = session.scalars(
        select(RestrictionEvent)
        .where(RestrictionEvent.restriction_id == restriction_id)
        .order_by(RestrictionEvent.revision)
    )
    return [_stored(r) for r in rows]


def all_events(session: Session, *, until: datetime | None = None) -> list[StoredEvent]:
    """Every event (recorded at or before ``until``, when given) in append order."""
    query = select(RestrictionEvent).order_by(RestrictionEvent.seq)
    if until is not None:
        query = query.where(RestrictionEvent.at <= until)
    return [_stored(r) for r in session.scalars(query)]


def event_by_key(session: Session, key: str) -> StoredEvent | None:
    row = session.scalar(select(RestrictionEvent).where(RestrictionEvent.idempotency_key == key))
    return None if row is None else _stored(row)


def restriction_ids(session: Session) -> Sequence[str]:
    return list(
        session.scalars(
            select(RestrictionEvent.restriction_id)
            .distinct()
            .order_by(RestrictionEvent.restriction_id)
        )
    )


def restriction_ranks(session: Session) -> dict[str, int]:
    """Each restriction's rank (from 1) in the order of its first event. Events are only
    ever appended and ids never reused, so a restriction's rank never changes."""
    first = func.min(RestrictionEvent.seq)
    rows = session.execute(
        select(RestrictionEvent.restriction_id, first)
        .group_by(RestrictionEvent.restriction_id)
        .order_by(first)
    )
    return {restriction_id: rank for rank, (restriction_id, _) in enumerate(rows, start=1)}


def event_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(RestrictionEvent)) or 0
