"""Transparency reports released: read back from the outbox, where each release is
recorded (type ``transparency.released``) in the transaction that records it, and from
where the ledger logs it. Nothing here writes or changes a record."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from brightline.store.models import OutboxEvent
from brightline.store.outbox import OutboxEntry

RELEASED: Final = "transparency.released"


def released_reports(session: Session) -> list[OutboxEntry]:
    """Every release recorded, oldest first."""
    rows = session.scalars(
        select(OutboxEvent).where(OutboxEvent.event_type == RELEASED).order_by(OutboxEvent.id)
    )
    return [OutboxEntry(r.id, r.event_type, r.payload, r.created_at) for r in rows]
