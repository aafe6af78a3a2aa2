"""Commits that change what a server serves, pushed by PostgreSQL as they happen.

Every change a server must act on commits a row to the outbox (grants and revocations
included), and the ledger's checkpoints say when a logged bundle may come into force.
On PostgreSQL, triggers on both tables (migration ``0011_change_notify``) call
``pg_notify`` on :data:`CHANGES_CHANNEL` in the committing transaction, so a listener
hears of the commit the moment it is visible — whichever process made it. SQLite has no
such thing: its servers keep polling.
"""

from __future__ import annotations

import math
from typing import Any, Final

import psycopg

from brightline.errors import StoreUnavailableError
from brightline.store.engine import Store

#: The channel the triggers notify on; the payload is the table that changed.
CHANGES_CHANNEL: Final = "brightline_changes"
#: Tables whose inserts notify, with the trigger on each.
NOTIFYING_TABLES: Final = ("outbox", "ledger_checkpoints")
#: Seconds of TCP silence after which a listening connection counts as lost: a database
#: gone quiet (a cut network) is noticed, not waited on forever.
_SILENCE_SECONDS: Final = 5


def pushes_changes(store: Store) -> bool:
    """Whether ``store`` notifies its commits (PostgreSQL); otherwise poll it."""
    return store.backend == "postgresql"


class ChangeListener:
    """One connection of its own (not the store's pool) LISTENing on
    :data:`CHANGES_CHANNEL`. Not thread-safe: one thread uses it, then closes it.
    Every failure to reach the database is StoreUnavailableError."""

    def __init__(self, store: Store, *, timeout: float) -> None:
        if not pushes_changes(store):
            raise StoreUnavailableError(f"the store at {store.url} does not push changes")
        cargs, cparams = store.engine.dialect.create_connect_args(store.engine.url)
        params: dict[str, Any] = {
            **cparams,
            "autocommit": True,
            "connect_timeout": max(2, math.ceil(timeout)),
            "keepalives": 1,
            "keepalives_idle": _SILENCE_SECONDS,
            "keepalives_interval": 1,
            "keepalives_count": 2,
            "tcp_user_timeout": _SILENCE_SECONDS * 1000,
        }
        self._url = store.url
        try:
            self._connection = psycopg.connect(*cargs, **params)
        except psycopg.Error as exc:
            raise StoreUnavailableError(f"cannot listen at {self._url}: {exc}") from exc
        try:
            self._connection.execute(f"LISTEN {CHANGES_CHANNEL}")
        except psycopg.Error as exc:
            self.close()
            raise StoreUnavailableError(f"cannot listen at {self._url}: {exc}") from exc

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a notification; True if any came (all of
        those already arrived are taken: one look at the store covers them)."""
        try:
            heard = False
            for _ in self._connection.notifies(timeout=timeout, stop_after=1):
                heard = True
            if heard:  # take the others queued, without waiting
                for _ in self._connection.notifies(timeout=0):
                    pass
            elif self._connection.closed or self._connection.broken:
                raise StoreUnavailableError(f"the listening connection to {self._url} is lost")
        except psycopg.Error as exc:
            raise StoreUnavailableError(f"listening at {self._url}: {exc}") from exc
        return heard

    def check(self) -> None:
        """A round trip: StoreUnavailableError if the database no longer answers."""
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error as exc:
            raise StoreUnavailableError(f"listening at {self._url}: {exc}") from exc

    def close(self) -> None:
        self._connection.close()
