"""The store audit's ledger side, on its own: entry *i* records the *i*-th outbox event,
every event up to the ledger's cursor has its entry, and a ``ledger.continued`` event is
entry 0 of a later log and nowhere else (it reads outbox ids and types, nothing more).

:func:`audit_store` (``brightline.service.store_audit``) runs this in a second process,
which then matches some of the histories with the outbox, while the first matches the
others; each side checks the entries of its own events against their records
(``check_entry``), so that a large store is audited in about half the time. These are
the one-process walk's checks, step for step, but they name nothing: at the first
difference they stop and say so, and the caller walks again in one process to name it.
Its reads stop at the ledger sizes, cursor and outbox head the caller read in its own
snapshot, so that both processes see the same history whatever is written meanwhile
(the outbox and the entries are append-only below those).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from sqlalchemy.orm import Session

from brightline.cases import CaseMove
from brightline.disclosure import ENFORCEMENT_ACTS
from brightline.ledger import CONTINUED
from brightline.service.records import BOOTSTRAPPED, KEY_CREATED, KEY_REVOKED
from brightline.store import history as tables

ENFORCEMENT: Final = ENFORCEMENT_ACTS
#: The event types whose histories the second process matches, when two run: cases,
#: signals, principals and API keys. The first matches the rest (restrictions, guard
#: approvals, the types without a table, any unknown type); both follow world imports.
SECOND: Final = frozenset(
    {
        *(f"case.{move.value}" for move in CaseMove),
        "signal.received",
        "principal.role-granted",
        "principal.role-revokeed",
        BOOTSTRAPPED,
        KEY_CREATED,
        KEY_REVOKED,
    }
)
#: Which part of the histories a walk matches: all, or the first's or the second's.
ALL, FIRST, OTHERS = "all", "first", "second"


class LedgerSide(NamedTuple):
    """What the ledger side found: the number of events not yet logged."""

    pending: int


def ledger_walk(
    session: Session, *, sizes: Sequence[tuple[int, int]], cursor: int, head: int
) -> LedgerSide | None:
    """Check the ledger side of the store as of ``sizes`` (every log's size), the
    ledger's outbox ``cursor`` and the outbox's ``head`` (its last event); None at the
    first difference."""
    size = sum(n for _, n in sizes)
    bundles = tables.entry_bundles(session, sizes=sizes, publics=False)
    count = last = 0
    # The current bundle: a million entries as tuples would cost a second of the walk.
    log, first = 1, 0
    ids: Sequence[int] = ()
    i = width = 0
    for rows in tables.outbox_types(session, upto=head):
        for event_id, event_type in rows:
            if count >= size:
                if event_id <= cursor or event_type == CONTINUED:
                    return None  # no entry, but the cursor is past it; or not a seal's
                count += 1
                last = event_id
                continue
            if i == width:
                log, first, _, _, ids = next(bundles)
                i, width = 0, len(ids)
            if ids[i] != event_id:
                return None
            # A log after the first starts with its seal's ledger.continued, which is
            # nowhere else.
            if (first + i == 0 and log > 1) != (event_type == CONTINUED):
                return None
            i += 1
            count += 1
            last = event_id
            if count == size and cursor < event_id:
                return None
    if count < size or cursor > last:
        return None
    return LedgerSide(count - size)
