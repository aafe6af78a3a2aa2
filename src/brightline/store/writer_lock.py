"""Which server writes the ledger: the one holding the ledger writer's lock.

On PostgreSQL, a session-level advisory lock (``pg_try_advisory_lock``) held on a
connection of its own, outside the pool: it lasts as long as that connection, so a server
killed at any point (SIGKILL included) releases it as soon as the database sees the
connection close, and another server takes it at its next try. On a SQLite file, an
exclusive ``flock`` on ``<database>-ledger-writer``, which the kernel releases when the
process ends (the worker processes of one ``brightline serve --workers N`` share the
file). An in-memory SQLite database has one process: the lock is always held.

The lock only says who does the ledger's background work; exactly-once logging does not
rest on it (every sync runs under the store-wide write lock and moves the ledger's outbox
cursor in the same transaction), so a server that lost its connection without knowing
it yet and the one that took the lock over can never log an event twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from brightline.errors import StoreUnavailableError
from brightline.store.engine import Store

log = logging.getLogger("brightline.api")

#: Names the ledger writer's lock among PostgreSQL advisory locks ("bledger"); distinct
#: from the store-wide write lock's key.
LEDGER_WRITER_KEY: Final = 0x62_6C65_6467_6572


class LedgerWriterLock:
    """Try to hold the ledger writer's lock; :meth:`held` says whether this process holds
    it now (trying to take it when it does not). Thread-safe."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._file: int | None = None
        self._held = False

    def held(self) -> bool:
        """True while this process holds the lock. When it does not, one attempt to
        take it; when it does, one check that its connection is still alive (a
        connection the database dropped has lost the lock). Never raises: a database
        that does not answer means the lock is not held."""
        with self._lock:
            was = self._held
            if self._store.backend == "postgresql":
                self._held = self._postgresql()
            else:
                self._held = self._sqlite()
            if was != self._held:
                event = "ledger-writer-acquired" if self._held else "ledger-writer-lost"
                log.warning(json.dumps({"event": event, "pid": os.getpid()}))
            return self._held

    def close(self) -> None:
        """Release the lock (unlocked, then its connection or file closed)."""
        with self._lock:
            if self._held and self._connection is not None:
                # Said at once: the backend of a closed connection lets go only as it ends.
                with contextlib.suppress(OperationalError, DBAPIError):
                    self._connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": LEDGER_WRITER_KEY}
                    )
            self._drop()
            if self._file is not None:
                os.close(self._file)
                self._file = None
            self._held = False

    def _postgresql(self) -> bool:
        try:
            if self._connection is None:
                connection = self._store._connect()
                connection.execution_options(isolation_level="AUTOCOMMIT")
                connection.detach()  # its own, closed for good when dropped, never pooled
                self._connection = connection
            if self._held:
                self._connection.execute(text("SELECT 1"))
                return True
            taken = self._connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": LEDGER_WRITER_KEY}
            ).scalar()
            return bool(taken)
        except (OperationalError, DBAPIError, StoreUnavailableError):
            self._drop()
            return False

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Already broken, perhaps: closing it is all that is left to do.
            with contextlib.suppress(OperationalError, DBAPIError):
                connection.close()

    def _sqlite(self) -> bool:
        if self._held:
            return True
        database = make_url(self._store.engine.url).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return True
        if self._file is None:
            path = Path(f"{database}-ledger-writer")
            self._file = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
