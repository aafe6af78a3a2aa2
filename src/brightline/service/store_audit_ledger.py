"""The store audit's ledger side, on its own: every entry records the outbox event of its
position and commits to that event's record, read off the outbox alone.

:func:`audit_store` (``brightline.service.store_audit``) runs this in a second process
while it matches the outbox with the history tables in its own, so that a large store is
audited in about half the time. It is the same check as the one-process walk's, step for
step (``check_entry``, the cursor, the ``ledger.continued`` entries, the enforcement
entries' public forms), but it names nothing: at the first difference it stops and says
so, and the caller walks again in one process to name it. Its reads stop at the ledger
sizes, cursor and outbox head the caller read in its own snapshot, so that both sides see
the same history whatever is written meanwhile (both are append-only below those).
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import orjson
from sqlalchemy.orm import Session

from brightline.ledger import CONTINUED
from brightline.service.store_audit_checks import (
    StoreDivergenceError,
    Where,
    check_entry_exactly,
    fast_json,
)
from brightline.service.store_audit_restrictions import ActFields, act_fields
from brightline.store import history as tables
from brightline.store import open_store

ENFORCEMENT: Final = frozenset(
    {"restriction.approved", "restriction.promotion-approved", "restriction.lift-approved"}
)
#: A public form as ``LedgerEntry.public_bytes`` writes it starts with its commitment.
_COMMITMENT: Final = b'{"commitment":"'
#: An event's time plays no part in its record (``private_record``), so it is not read.
_UNREAD_TIME: Final = datetime.min.replace(tzinfo=UTC)


def ledger_side(
    url: str, *, sizes: Sequence[tuple[int, int]], cursor: int, head: int
) -> list[ActFields] | None:
    """Check the ledger side of the store at ``url`` as of ``sizes`` (every log's size),
    the ledger's outbox ``cursor`` and the outbox's ``head`` (its last event); the public
    forms of the enforcement entries in order, or None at the first difference."""
    gc.disable()  # as audit_store: many short-lived objects, no cycles
    store = open_store(url, migrate=False)
    try:
        with store.read() as session:
            tables.snapshot(session)
            return _walk(session, sizes, cursor, head)
    except StoreDivergenceError:
        return None
    finally:
        store.close()


def _walk(
    session: Session, sizes: Sequence[tuple[int, int]], cursor: int, head: int
) -> list[ActFields] | None:
    size = sum(n for _, n in sizes)
    entries = tables.logged_entries(session, sizes=sizes)
    acts: list[ActFields] = []
    sha256 = hashlib.sha256
    loads = orjson.loads
    count = last = 0
    for rows in tables.outbox_payloads(session, upto=head):
        for event_id, event_type, payload in rows:
            if count >= size:
                if event_id <= cursor:
                    return None  # the cursor is past an event without an entry
                count += 1
                last = event_id
                continue
            entry = next(entries)
            if entry.outbox_id != event_id:
                return None
            public = entry.public
            committed = False
            if public.startswith(_COMMITMENT) and public[79:81] == b'",':
                try:
                    record = loads(payload)
                except orjson.JSONDecodeError:
                    record = None
                if type(record) is dict:
                    record.pop("public", None)  # as private_record
                    record["outbox_event"] = event_id
                    text = fast_json(record)
                    committed = (
                        text is not None
                        and sha256(entry.salt + text).hexdigest().encode() == public[15:79]
                        and public.endswith(b',"type":"' + event_type.encode() + b'","v":1}')
                        and public.count(b'"commitment"') == 1
                    )
            if not committed:  # raises where it differs
                check_entry_exactly(
                    Where((event_id, event_type, payload, _UNREAD_TIME), entry), entry
                )
            if entry.seq == 0 and entry.log > 1 and event_type != CONTINUED:
                return None
            if event_type in ENFORCEMENT:
                fields = act_fields(public)
                if isinstance(fields, str):
                    return None
                acts.append(fields)
            count += 1
            last = event_id
            if count == size and cursor < event_id:
                return None
    if count < size or cursor > last:
        return None
    return acts
