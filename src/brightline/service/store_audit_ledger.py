"""The store audit's ledger side, on its own: every entry records the outbox event of its
position and commits to that event's record, read off the outbox alone.

:func:`audit_store` (``brightline.service.store_audit``) runs this in a second process
(which then matches some of the history tables with the outbox) while the first matches
the others, so that a large store is audited in about half the time. It is the same
check as the one-process walk's, step for step (``check_entry``, the cursor, the
``ledger.continued`` entries, the enforcement entries' public forms), but it names
nothing: at the first difference it stops and says so, and the caller walks again in
one process to name it. Its reads stop at the ledger sizes, cursor and outbox head the
caller read in its own snapshot, so that both sides see the same history whatever is
written meanwhile (both are append-only below those).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, NamedTuple

import orjson
from sqlalchemy.orm import Session

from brightline.ledger import CONTINUED
from brightline.service.store_audit_checks import (
    Where,
    check_entry_exactly,
    fast_json,
)
from brightline.service.store_audit_restrictions import ActFields, act_fields
from brightline.store import history as tables
from brightline.store.history import LoggedEntry

ENFORCEMENT: Final = frozenset(
    {"restriction.approved", "restriction.promotion-approved", "restriction.lift-approved"}
)
#: A public form as ``LedgerEntry.public_bytes`` writes it starts with its commitment.
_COMMITMENT: Final = b'{"commitment":"'
#: An event's time plays no part in its record (``private_record``), so it is not read.
_UNREAD_TIME: Final = datetime.min.replace(tzinfo=UTC)


class LedgerSide(NamedTuple):
    """What the ledger side found: the enforcement entries' public forms, in order, and
    the number of events not yet logged."""

    acts: list[ActFields]
    pending: int


def ledger_walk(
    session: Session, *, sizes: Sequence[tuple[int, int]], cursor: int, head: int
) -> LedgerSide | None:
    """Check the ledger side of the store as of ``sizes`` (every log's size), the
    ledger's outbox ``cursor`` and the outbox's ``head`` (its last event); None at the
    first difference (or StoreDivergenceError)."""
    size = sum(n for _, n in sizes)
    bundles = tables.entry_bundles(session, sizes=sizes)
    acts: list[ActFields] = []
    sha256 = hashlib.sha256
    loads = orjson.loads
    count = last = 0
    # The current bundle, read a bundle at a time: a million entries as tuples would cost
    # a second of the walk.
    log, first, salts = 1, 0, b""
    publics: Sequence[bytes] = ()
    ids: Sequence[int] = ()
    i = width = 0
    for rows in tables.outbox_payloads(session, upto=head):
        for event_id, event_type, payload in rows:
            if count >= size:
                if event_id <= cursor or event_type == CONTINUED:
                    return None  # no entry, but the cursor is past it; or not a seal's
                count += 1
                last = event_id
                continue
            if i == width:
                log, first, publics, salts, ids = next(bundles)
                i, width = 0, len(publics)
            if ids[i] != event_id:
                return None
            public = publics[i]
            salt = salts[i * 32 : i * 32 + 32]
            i += 1
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
                        and sha256(salt + text).hexdigest().encode() == public[15:79]
                        and public.endswith(b',"type":"' + event_type.encode() + b'","v":1}')
                        and public.count(b'"commitment"') == 1
                    )
            if not committed:  # raises where it differs
                entry = LoggedEntry(first + i - 1, event_id, public, salt, log, len(sizes))
                where = Where((event_id, event_type, payload, _UNREAD_TIME), entry)
                check_entry_exactly(where, entry)
            # A log after the first starts with its seal's ledger.continued, which is
            # nowhere else.
            if (first + i == 1 and log > 1) != (event_type == CONTINUED):
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
    return LedgerSide(acts, count - size)
