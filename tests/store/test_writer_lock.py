"""The ledger writer's lock: one holder at a time among the servers on a store; it passes
on when the holder closes it or its connection is dropped."""

from __future__ import annotations

import time

from sqlalchemy import text

from brightline.store import Store
from brightline.store.writer_lock import LEDGER_WRITER_KEY, LedgerWriterLock


def test_one_holder_at_a_time_and_the_next_takes_over(store: Store) -> None:
    first, second = LedgerWriterLock(store), LedgerWriterLock(store)
    try:
        assert first.held()
        assert not second.held()
        assert first.held()  # still, on every look
        first.close()
        assert second.held()
        assert not first.held()
    finally:
        first.close()
        second.close()


def test_a_holder_whose_connection_the_database_dropped_has_lost_it(store: Store) -> None:
    if store.backend != "postgresql":
        return  # SQLite's lock is a file lock of the process: nothing to drop
    first, second = LedgerWriterLock(store), LedgerWriterLock(store)
    try:
        assert first.held()
        with store.read() as session:
            backend = session.scalar(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND classid = :hi AND objid = :lo"
                ),
                {"hi": LEDGER_WRITER_KEY >> 32, "lo": LEDGER_WRITER_KEY & 0xFFFF_FFFF},
            )
            assert session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        deadline = time.monotonic() + 5  # the terminated backend ends in its own time
        while not second.held():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not first.held()  # its connection is gone; it tries again, and waits
    finally:
        first.close()
        second.close()
