"""The store audit's fast path (``brightline.service.store_audit_bulk``) finds what the walk
finds: on a store tampered at random — a history row's field or an outbox event edited to
values that need escaping, times and JSON in forms the store does not write, values of
another type, rows deleted — the fast path passes exactly where the walk passes, with the
same report, and otherwise hands over to the walk, whose message the audit raises.

The history is ``test_store_audit``'s recorded scenario, copied for each example.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from brightline.errors import BrightlineError
from brightline.service.store_audit import (
    StoreAuditReport,
    audit_in_bulk_alone,
    audit_store,
)
from brightline.store import Store, open_store
from service.test_store_audit import Recorded, _admin, _settings, recorded  # noqa: F401

NOW = datetime(2026, 1, 1, tzinfo=UTC)

#: Texts that JSON must escape, or writes as they are.
TEXTS = st.sampled_from(['say "no"', "back\\slash", "tab\there", "\x01", "é\u2028", "", "plain"])
#: JSON column values: canonical, not canonical, not what the column holds, not JSON.
JSONS = st.sampled_from(
    ['{"n": 1}', '{"b":1,"a":2}', "[]", "{}", "null", "[1.0]", '{"n":1e16}', '["a"]', "nope"]
)
#: Times as SQLite might hold them: the store's form, and others that read the same.
SQLITE_TIMES = st.sampled_from(
    [
        "2025-01-01 00:00:00.000000",
        "2025-01-01 00:00:00",
        "2025-01-01T00:00:00.000000",
        "2025-02-30 00:00:00.000000",
        "2025-01-01 00:00:00.500000",
        "0999-01-01 00:00:00.000000",
    ]
)
#: ``(table, key, column, kind)`` of the columns an attacker edits.
COLUMNS = [
    ("restriction_events", "seq", "actor", "text"),
    ("restriction_events", "seq", "why", "text"),
    ("restriction_events", "seq", "case_id", "text"),
    ("restriction_events", "seq", "body", "json"),
    ("restriction_events", "seq", "revision", "int"),
    ("restriction_events", "seq", "at", "time"),
    ("case_events", "seq", "actor", "text"),
    ("case_events", "seq", "data", "json"),
    ("case_events", "seq", "revision", "int"),
    ("case_events", "seq", "outbox_id", "int"),
    ("case_events", "seq", "at", "time"),
    ("signals", "id", "alert_id", "text"),
    ("signals", "id", "nodes", "json"),
    ("signals", "id", "policies", "json"),
    ("signals", "id", "source_kind", "text"),
    ("signals", "id", "received_at", "time"),
    ("outbox", "id", "payload", "text"),
    ("outbox", "id", "created_at", "time"),
    ("outbox", "id", "event_type", "text"),
]


@contextmanager
def _copy(history: Recorded, directory: Path) -> Iterator[Store]:
    """A fresh copy of the recorded history, open."""
    directory.mkdir(parents=True)
    data_dir = directory / "data"
    shutil.copytree(history.data_dir, data_dir)
    drop = admin = None
    if history.backend == "sqlite":
        path = directory / "copy.db"
        shutil.copyfile(make_url(history.url).database or "", path)
        url = f"sqlite:///{path}"
    else:
        drop = f"t_{uuid.uuid4().hex[:12]}"
        source = make_url(history.url)
        admin = source.set(database="postgres").render_as_string(hide_password=False)
        _admin(admin, f'CREATE DATABASE "{drop}" TEMPLATE "{source.database}"')
        url = source.set(database=drop).render_as_string(hide_password=False)
    try:
        with open_store(_settings(url, data_dir), migrate=False) as store:
            yield store
    finally:
        if drop is not None and admin is not None:
            _admin(admin, f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')


def _tamper(store: Store, data: st.DataObject, backend: str) -> None:
    table, key, column, kind = data.draw(st.sampled_from(COLUMNS), label="column")
    with store.engine.connect() as connection:
        keys = [r[0] for r in connection.execute(text(f"SELECT {key} FROM {table} ORDER BY {key}"))]
    if not keys:
        reject()
    chosen = data.draw(st.sampled_from(keys), label="row")
    where = f"WHERE {key} = :k"
    if data.draw(st.booleans(), label="delete") and data.draw(st.booleans(), label="really"):
        statement, values = f"DELETE FROM {table} {where}", {"k": chosen}
    elif kind == "text":
        value: Any = data.draw(st.one_of(TEXTS, st.none()), label="value")
        statement, values = f"UPDATE {table} SET {column} = :v {where}", {"k": chosen, "v": value}
    elif kind == "json":
        value = data.draw(JSONS, label="value")
        statement, values = f"UPDATE {table} SET {column} = :v {where}", {"k": chosen, "v": value}
    elif kind == "int":
        change = data.draw(st.sampled_from(["+1", "-1", "text"]), label="change")
        if change == "text" and backend == "sqlite":
            statement = f"UPDATE {table} SET {column} = 'x' || {column} {where}"
        else:
            statement = f"UPDATE {table} SET {column} = {column} + 1 {where}"
        values = {"k": chosen}
    elif backend == "sqlite":
        value = data.draw(SQLITE_TIMES, label="value")
        statement, values = f"UPDATE {table} SET {column} = :v {where}", {"k": chosen, "v": value}
    else:
        shift = data.draw(st.sampled_from(["1 microsecond", "1 second", "-1 day"]), label="by")
        statement = f"UPDATE {table} SET {column} = {column} + interval '{shift}' {where}"
        values = {"k": chosen}
    try:
        with store.engine.begin() as connection:
            connection.execute(text(statement), values)
    except DBAPIError:  # a constraint refuses it
        reject()


def _walk(store: Store) -> StoreAuditReport | str:
    try:
        return audit_store(store, now=NOW, parallel=False, bulk=False)
    except BrightlineError as exc:
        return f"{type(exc).__name__}: {exc}"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_fast_path_finds_what_the_walk_finds(
    recorded: Recorded,  # noqa: F811
    tmp_path: Path,
    data: st.DataObject,
) -> None:
    with _copy(recorded, tmp_path / uuid.uuid4().hex) as store:
        _tamper(store, data, recorded.backend)
        walked = _walk(store)
        fast = audit_in_bulk_alone(store, now=NOW)
        if isinstance(walked, str):
            assert fast is None, walked
            with pytest.raises(BrightlineError) as caught:
                audit_store(store, now=NOW)
            assert f"{type(caught.value).__name__}: {caught.value}" == walked
        else:
            assert fast == walked
            assert audit_store(store, now=NOW) == walked


def test_an_honest_history_takes_the_fast_path(recorded: Recorded, tmp_path: Path) -> None:  # noqa: F811
    with _copy(recorded, tmp_path / "copy") as store:
        walked = _walk(store)
        assert isinstance(walked, StoreAuditReport)
        assert audit_in_bulk_alone(store, now=NOW) == walked
