"""How long the store waits for the database: never without a bound.

One timeout (``Settings.db_timeout``) bounds each step: connecting, waiting for a pooled
connection, the write lock and each statement. PostgreSQL enforces the statement part
itself (``statement_timeout``, which also covers the write lock, an advisory lock taken
by a statement) — but only while it runs. A server that does not answer at all (stopped,
or on the far side of a network partition, where the kernel may still acknowledge every
packet) cancels nothing, so the client also gives up on a connection that has been
silent for the timeout plus :data:`SILENCE_MARGIN`; the margin lets the server's own,
cleaner cancellation come first whenever it can. A connection given up on is closed,
never reused; what the server then does with its last statement is unknown, as with any
timeout (a commit may still land).

Migrations are exempt (:func:`lift_timeouts`): they may rewrite whole tables and wait for
another process that migrates the same database.

Whoever runs work that uses the store can also see, through :class:`DatabaseWait`, whether
that work is waiting for the database right now and since when: the server gives up on a
request once it has waited the timeout for one answer, however long the work itself may
take (:func:`brightline.server.state.store_call`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import monotonic
from typing import Any, Final

import psycopg
from psycopg.abc import RV, PQGen
from sqlalchemy import Connection

SILENCE_MARGIN: Final = 1.0
#: libpq counts its connect timeout in whole seconds, and takes less than 2 as 2.
_LIBPQ_MIN_CONNECT_TIMEOUT: Final = 2
#: What migrations wait on SQLite for another writer (SQLite has no "forever").
_MIGRATION_BUSY_TIMEOUT_MS: Final = 3_600_000


def postgres_connect_args(timeout: float, options: str | None = None) -> dict[str, Any]:
    """psycopg connection arguments bounding the connect and every statement by
    ``timeout`` seconds; ``options`` (from the URL) are kept."""
    statement = f"-c statement_timeout={max(1, round(timeout * 1000))}"
    return {
        "connect_timeout": max(_LIBPQ_MIN_CONNECT_TIMEOUT, math.ceil(timeout)),
        "options": f"{options} {statement}" if options else statement,
    }


def sqlite_busy_timeout_ms(timeout: float) -> int:
    return max(1, round(timeout * 1000))


class DatabaseWait:
    """Whether the work it watches (:func:`watching`) waits for the database now: for a
    connection, or for the answer to a statement, commit or ping on PostgreSQL (SQLite's
    one wait, for the write lock, ends by itself within the timeout)."""

    def __init__(self) -> None:
        #: ``time.monotonic()`` when the current wait began; None when not waiting.
        self.since: float | None = None

    def longer_than(self, seconds: float) -> bool:
        since = self.since
        return since is not None and monotonic() - since > seconds


_WATCHED: ContextVar[DatabaseWait | None] = ContextVar("brightline_database_wait", default=None)


@contextmanager
def watching(wait: DatabaseWait) -> Iterator[None]:
    """Record the database waits of the work run inside (in this thread) in ``wait``."""
    token = _WATCHED.set(wait)
    try:
        yield
    finally:
        _WATCHED.reset(token)


@contextmanager
def waiting() -> Iterator[None]:
    """Mark the block as a wait for the database, for whoever is watching."""
    wait = _WATCHED.get()
    if wait is None:
        yield
        return
    outer = wait.since  # a ping inside a checkout: the checkout's wait goes on
    if outer is None:
        wait.since = monotonic()
    try:
        yield
    finally:
        wait.since = outer


class AnsweringConnection(psycopg.Connection[Any]):
    """A psycopg connection that gives up when the server stays silent for ``silence``
    seconds during one operation (a statement, a commit, a ping): it closes itself and
    raises OperationalError, which SQLAlchemy takes for a lost connection. None: wait
    as long as the server takes."""

    silence: float | None = None

    def wait(self, gen: PQGen[RV], *args: Any, **kwargs: Any) -> RV:
        # psycopg's own arguments (its polling interval, a timeout) pass through as given.
        if self.silence is None:
            with waiting():
                return super().wait(gen, *args, **kwargs)
        try:
            with waiting():
                return super().wait(_until_silent(gen, self.silence), *args, **kwargs)
        except _Silent as exc:
            self.pgconn.finish()  # mid-statement: the connection's state is unknown
            raise psycopg.OperationalError(
                f"the database did not answer within {self.silence:g} s"
            ) from exc


class _Silent(psycopg.OperationalError):
    pass


def _until_silent(gen: PQGen[RV], silence: float) -> PQGen[RV]:
    """``gen``, raising _Silent once the socket has not been ready for ``silence``
    seconds. psycopg's wait loop sends ``Ready.NONE`` every interval while it waits."""
    heard = monotonic()
    try:
        state = next(gen)
        while True:
            ready = yield state
            if ready:  # Ready.NONE is 0: the interval passed with nothing to read or write
                heard = monotonic()
            elif monotonic() - heard > silence:
                raise _Silent(f"no answer for {silence:g} s")
            state = gen.send(ready)
    except StopIteration as done:
        result: RV = done.value
        return result


def connect_postgres(silence: float, cargs: Any, cparams: Any) -> AnsweringConnection:
    connection = AnsweringConnection.connect(*cargs, **cparams)
    connection.silence = silence
    return connection


@contextmanager
def lift_timeouts(connection: Connection) -> Iterator[None]:
    """Let ``connection`` wait as long as the database takes, for migrations; the
    connection is closed afterwards rather than returned to the pool unbounded."""
    try:
        if connection.dialect.name == "postgresql":
            driver = connection.connection.driver_connection
            if isinstance(driver, AnsweringConnection):
                driver.silence = None
            connection.exec_driver_sql("SET statement_timeout = 0")
        else:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {_MIGRATION_BUSY_TIMEOUT_MS}")
        connection.commit()
        yield
    finally:
        connection.invalidate()
