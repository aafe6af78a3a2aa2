"""No wait for the database is without a bound: a slow statement, a silent PostgreSQL
server and SQLite's write lock held elsewhere end in StoreUnavailableError within the
timeout (plus, for a silent server, the margin that lets the server cancel first)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url

from brightline.config import Settings
from brightline.store import Store, StoreUnavailableError, append_outbox, open_store, upgrade
from brightline.store.engine import WRITE_LOCK_KEY
from brightline.store.waits import SILENCE_MARGIN

TIMEOUT = 1.0
#: Scheduling on a shared machine.
SLACK = 0.5
ONLY_POSTGRES = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)


@pytest.fixture
def quick(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """The test's database with a 1 s timeout."""
    settings = Settings(
        database_url=SecretStr(store_url), data_dir=tmp_path / "data", db_timeout=TIMEOUT
    )
    with open_store(settings, migrate=False) as store:
        yield store


def _elapsed(since: float) -> float:
    return time.monotonic() - since


@ONLY_POSTGRES  # SQLite statements wait for no one but the write lock
def test_a_statement_longer_than_the_timeout_is_cancelled(quick: Store) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="statement timeout"), quick.read() as session:
        session.execute(text("SELECT pg_sleep(5)"))
    assert _elapsed(started) < TIMEOUT + SLACK
    with quick.read() as session:  # the connection is still good
        assert session.scalar(text("SELECT 1")) == 1


def _select_with_its_server_stopped(store: Store, seen: dict[str, float]) -> None:
    """SIGSTOP only the server process of this connection, then query."""
    with store.read() as session:
        backend = int(session.scalar(text("SELECT pg_backend_pid()")))
        seen["backend"] = backend
        os.kill(backend, signal.SIGSTOP)
        started = time.monotonic()
        try:
            session.execute(text("SELECT 1"))
        finally:
            seen["seconds"] = _elapsed(started)
            os.kill(backend, signal.SIGCONT)


@ONLY_POSTGRES
def test_a_silent_database_server_is_given_up_on(quick: Store) -> None:
    seen: dict[str, float] = {}
    with pytest.raises(StoreUnavailableError, match="did not answer"):
        _select_with_its_server_stopped(quick, seen)
    assert seen["seconds"] < TIMEOUT + SILENCE_MARGIN + SLACK
    with quick.read() as session:  # a new connection: the silent one was closed
        assert int(session.scalar(text("SELECT pg_backend_pid()"))) != seen["backend"]


def test_a_write_lock_held_elsewhere_is_waited_for_only_the_timeout(quick: Store) -> None:
    if quick.backend == "postgresql":
        other = quick.engine.connect()
        # Held until its transaction ends, as a writer's is.
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
        release = other.close
    else:
        path = make_url(quick.engine.url).database
        assert path
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        release = holder.close
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError), quick.write() as session:
            append_outbox(session, "test.event", {"n": 1}, at=datetime.now(UTC))
        assert _elapsed(started) < TIMEOUT + SLACK
        with quick.read() as session:  # readers never wait for the writer
            assert session.scalar(text("SELECT 1")) == 1
    finally:
        release()
    with quick.write() as session:
        append_outbox(session, "test.event", {"n": 2}, at=datetime.now(UTC))


def test_migrations_leave_no_connection_without_the_timeout(quick: Store) -> None:
    upgrade(quick)
    with quick.read() as session:
        if quick.backend == "postgresql":
            assert session.scalar(text("SHOW statement_timeout")) == "1s"
        else:
            assert session.scalar(text("PRAGMA busy_timeout")) == 1000
