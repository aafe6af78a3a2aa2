"""store_call, the server's one way to the store: it gives up once the work has waited the
database timeout for one answer, never because the work as a whole takes long (both
databases)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from brightline.config import Settings
from brightline.server.state import AppState, Metrics, RateLimiter, store_call
from brightline.service.access import Authenticator
from brightline.service.bundles import BundleKeeper
from brightline.service.ledger import LedgerKeys, ensure_key
from brightline.store import Store, StoreUnavailableError, append_outbox, open_store
from brightline.store.engine import WRITE_LOCK_KEY

TIMEOUT = 1.0
SLACK = 0.5


@pytest.fixture
def state(store_url: str, tmp_path: Path) -> AppState:
    settings = Settings(
        database_url=SecretStr(store_url), data_dir=tmp_path / "data", db_timeout=TIMEOUT
    )
    ensure_key(settings)
    signer = LedgerKeys.of(settings).signer()
    assert signer is not None
    store = open_store(settings, migrate=False)
    return AppState(
        settings=settings,
        store=store,
        signer=signer,
        keeper=BundleKeeper(store, signer),
        authenticator=Authenticator(store, settings),
        limiter=RateLimiter(store, 60),
        metrics=Metrics(),
    )


def _slow_but_answering(store: Store) -> int:
    """Ten reads over twice the timeout, each answered at once."""
    total = 0
    for _ in range(10):
        with store.read() as session:
            total += int(session.scalar(text("SELECT 1")))
        time.sleep(TIMEOUT / 5)
    return total


def test_work_that_keeps_getting_answers_is_waited_for(state: AppState) -> None:
    try:
        assert asyncio.run(store_call(state, _slow_but_answering, state.store)) == 10
        assert state.database_answering
    finally:
        state.store.close()


def _write(store: Store, done: threading.Event) -> None:
    try:
        with store.write() as session:
            append_outbox(session, "test.event", {"n": 1}, at=datetime.now(UTC))
    finally:
        done.set()


def test_work_waiting_the_timeout_for_one_answer_is_given_up_on(state: AppState) -> None:
    store = state.store
    holder: Connection | sqlite3.Connection
    if store.backend == "postgresql":
        holder = store.engine.connect()
        holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
    else:
        path = make_url(store.engine.url).database
        assert path
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    done = threading.Event()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            asyncio.run(store_call(state, _write, store, done))
        assert time.monotonic() - started < TIMEOUT + SLACK
    finally:
        holder.close()
        done.wait(timeout=10)  # work given up on may still hold its connection
        store.close()


def _query_with_its_server_stopped(store: Store, stopped: list[int], done: threading.Event) -> None:
    try:
        with store.read() as session:
            backend = int(session.scalar(text("SELECT pg_backend_pid()")))
            os.kill(backend, signal.SIGSTOP)
            stopped.append(backend)
            session.execute(text("SELECT 1"))
    finally:
        done.set()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_silent_server_is_given_up_on_before_the_connection_gives_up(state: AppState) -> None:
    """The connection itself waits the timeout plus a margin (so that the server's own
    statement timeout can come first); the request does not."""
    stopped: list[int] = []
    done = threading.Event()
    work = _query_with_its_server_stopped
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="did not answer within 1 s"):
            asyncio.run(store_call(state, work, state.store, stopped, done))
        assert time.monotonic() - started < TIMEOUT + SLACK
        assert not state.database_answering
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        done.wait(timeout=10)  # the abandoned work gives its connection back first
        state.store.close()
