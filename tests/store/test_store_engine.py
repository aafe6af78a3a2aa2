from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from brightline.errors import ConflictError, InvalidInputError
from brightline.store import (
    Store,
    StoreUnavailableError,
    advance_consumer,
    append_outbox,
    consumer_position,
    current_revision,
    head_revision,
    open_store,
    read_outbox,
)

NOW = datetime(2025, 10, 1, 12, tzinfo=UTC)


def test_fresh_database_is_migrated_on_first_use(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'new.db'}") as store:
        assert current_revision(store) == head_revision()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'wal.db'}") as store, store.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 2000


def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    """Created 0600 even under the common umask 022, which would make them 0644."""
    path = tmp_path / "private.db"
    old = os.umask(0o022)
    try:
        with open_store(f"sqlite:///{path}") as store:
            with store.write() as session:
                append_outbox(session, "test.event", {"n": 1}, at=NOW)
            files = [path, path.with_name("private.db-wal"), path.with_name("private.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {
                f.name: 0o600 for f in files
            }
    finally:
        os.umask(old)


def test_an_existing_sqlite_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    with open_store(f"sqlite:///{path}"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_store_fixture_is_at_head(store: Store) -> None:
    assert current_revision(store) == head_revision()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://nobody:secret@127.0.0.1:1/nothing",
        "sqlite:////nonexistent-dir/for/brightline.db",
    ],
)
def test_unreachable_database_is_one_line_error(url: str) -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        open_store(url)
    message = str(caught.value)
    assert "\n" not in message
    assert "secret" not in message
    assert message.startswith("cannot use the database at ")


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_or_malformed_url_is_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInputError):
        open_store(url)


def test_outbox_ids_grow_and_payload_is_canonical(store: Store) -> None:
    with store.write() as session:
        first = append_outbox(session, "test.event", {"b": 2, "a": "é"}, at=NOW)
        second = append_outbox(session, "test.event", {"z": None}, at=NOW)
    assert second > first
    with store.read() as session:
        entries = read_outbox(session)
    assert [e.id for e in entries] == [first, second]
    assert entries[0].payload == '{"a":"é","b":2}'
    assert entries[0].created_at == NOW


def test_consumer_cursor_moves_forward_only_and_leaves_outbox_alone(store: Store) -> None:
    with store.write() as session:
        ids = [append_outbox(session, "test.event", {"n": n}, at=NOW) for n in range(3)]
    with store.write() as session:
        assert consumer_position(session, "ledger") == 0
        advance_consumer(session, "ledger", ids[1], at=NOW)
    with store.write() as session:
        assert consumer_position(session, "ledger") == ids[1]
        assert [e.id for e in read_outbox(session, after=ids[1])] == [ids[2]]
    with pytest.raises(ConflictError), store.write() as session:
        advance_consumer(session, "ledger", ids[0], at=NOW)
    with pytest.raises(InvalidInputError), store.write() as session:
        advance_consumer(session, "ledger", ids[2] + 10, at=NOW)
    with store.read() as session:
        assert len(read_outbox(session)) == 3
        assert consumer_position(session, "ledger") == ids[1]


def test_a_failed_unit_of_work_writes_nothing(store: Store) -> None:
    def fail_midway() -> None:
        with store.write() as session:
            append_outbox(session, "test.event", {}, at=NOW)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    with store.read() as session:
        assert read_outbox(session) == []


def test_a_closed_store_hands_out_no_connection(tmp_path: Path) -> None:
    """A worker still running after shutdown (a server's refresh) must not open a
    connection in the pool that dispose leaves behind: it would never be closed."""
    from brightline.errors import StoreUnavailableError
    from brightline.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'closed.db'}")
    store.close()
    with pytest.raises(StoreUnavailableError, match="closed"), store.read():
        pass
