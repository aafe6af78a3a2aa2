"""Reading the ledger's private records in log order, and the privacy releases made.

A ledger entry's private record is its outbox event's payload (``brightline.service.
ledger.private_record``); the bundles keep, beside each public form, the id of that
event. Nothing here writes: releases are outbox events like any other state change.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from brightline.ledger import TILE_WIDTH, decode_entry_bundle
from brightline.store.ledger import ledger_log
from brightline.store.ledger_models import LedgerBundleRow
from brightline.store.models import OutboxEvent
from brightline.store.outbox import OutboxEntry

_ID = 8
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """Entry ``index`` of the log, its public form and the outbox event it records."""

    index: int
    public: bytes
    outbox_id: int


def logged_events(session: Session, *, size: int, log: int | None = None) -> Iterator[LoggedEvent]:
    """The first ``size`` entries of a log (default: the current one) in order, with their
    outbox ids."""
    number = ledger_log(session, log).number
    index = 0
    while index < size:
        bundle = session.get(LedgerBundleRow, (number, index // TILE_WIDTH))
        if bundle is None:
            return
        publics = decode_entry_bundle(bundle.entries)
        for offset, public in enumerate(publics):
            if index >= size:
                return
            outbox_id = int.from_bytes(bundle.outbox_ids[offset * _ID : (offset + 1) * _ID], "big")
            yield LoggedEvent(index, public, outbox_id)
            index += 1
        if len(publics) < TILE_WIDTH:
            return


def outbox_events(session: Session, ids: Collection[int]) -> dict[int, OutboxEntry]:
    """The outbox events of ``ids``, by id (an id with no event is left out)."""
    wanted = sorted(set(ids))
    found: dict[int, OutboxEntry] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.id.in_(wanted[start : start + _CHUNK]))
        )
        for r in rows:
            found[r.id] = OutboxEntry(r.id, r.event_type, r.payload, r.created_at)
    return found


def outbox_of_type(session: Session, event_type: str) -> list[OutboxEntry]:
    """Every outbox event of ``event_type``, oldest first (logged or not yet)."""
    rows = session.scalars(
        select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id)
    )
    return [OutboxEntry(r.id, r.event_type, r.payload, r.created_at) for r in rows]
