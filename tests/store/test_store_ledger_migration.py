"""Migration 0006: the ledger rows stored before numbered logs become log 1, unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import inspect, text

import brightline.store.ledger_models as ledger_models
from brightline.access import Principal, Role
from brightline.config import Settings
from brightline.errors import ConflictError
from brightline.ledger import generate_key
from brightline.service.ledger import keygen, sync, sync_ledger, verify_store
from brightline.service.ledger_keys import LedgerKeys
from brightline.service.ledger_seal import seal_and_restart
from brightline.store import Store, append_outbox, current_revision, head_revision, open_store
from brightline.store.ledger import StoredLog, checkpoints, iter_public, ledger_logs
from brightline.store.migrate import alembic_config
from brightline.store.models import Base

BEFORE = "0006_ledger_cosignatures"
T = datetime(2025, 10, 1, tzinfo=UTC)
SIGNER = generate_key("old.example/ledger")
LEDGER_TABLES = {t.name for t in Base.metadata.sorted_tables if t.name.startswith("ledger_")}


def _downgrade(store: Store, revision: str) -> None:
    with store.engine.connect() as connection:
        connection.execution_options(brightline_write=True)
        with connection.begin():
            command.downgrade(alembic_config(connection, store.secrets), revision)


def _events(store: Store, count: int) -> None:
    with store.write() as session:
        for i in range(count):
            append_outbox(session, "principal.role-granted", {"role": "auditor", "n": i}, at=T)


def _ledger_diff(store: Store) -> list[object]:
    """Differences between the models and the migrated ledger tables."""
    assert ledger_models.LedgerLogRow.__tablename__ in LEDGER_TABLES
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [d for d in diff if any(name in repr(d) for name in LEDGER_TABLES)]


def test_rows_stored_before_numbered_logs_become_log_1(store_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=SecretStr(store_url), data_dir=tmp_path / "data")
    with open_store(settings) as store:
        _events(store, 300)  # more than one bundle and tile
        sync_ledger(store, signer=SIGNER, now=T)
        _events(store, 5)
        sync_ledger(store, signer=SIGNER, now=T)
        with store.read() as session:
            forms = list(iter_public(session))
            notes = [c.note for c in checkpoints(session)]
        _downgrade(store, BEFORE)
        columns = {c["name"] for c in inspect(store.engine).get_columns("ledger_bundles")}
        assert "log" not in columns
        with store.read() as session:
            assert session.execute(text("SELECT count(*) FROM ledger_checkpoints")).scalar() == 2

    with open_store(settings) as store:  # upgrades again
        assert current_revision(store) == head_revision()
        with store.read() as session:
            assert ledger_logs(session) == [StoredLog(1, "old.example/ledger")]
            assert list(iter_public(session, log=1)) == forms
            assert [c.note for c in checkpoints(session, log=1)] == notes
            assert {c.log for c in checkpoints(session)} == {1}
        verify_store(store, SIGNER.verifier())
        assert _ledger_diff(store) == []
        _events(store, 1)
        assert sync_ledger(store, signer=SIGNER, now=T).size == 306


def test_an_empty_ledger_gets_its_origin_from_its_first_checkpoint(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=SecretStr(store_url), data_dir=tmp_path / "data")
    with open_store(settings) as store:
        _downgrade(store, BEFORE)
    with open_store(settings) as store:
        with store.read() as session:
            assert ledger_logs(session) == [StoredLog(1, None)]
        _events(store, 1)
        sync_ledger(store, signer=SIGNER, now=T)
        with store.read() as session:
            assert ledger_logs(session) == [StoredLog(1, "old.example/ledger")]


def test_the_downgrade_refuses_a_store_of_two_logs(store_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=SecretStr(store_url), data_dir=tmp_path / "data")
    keygen(settings)
    with open_store(settings) as store:
        _events(store, 1)
        sync(settings, store)
        admin = Principal("root", frozenset({Role.ADMIN}), credential="test")
        seal_and_restart(settings, store, actor=admin, now=T)
        with pytest.raises(ConflictError, match="holds 2 ledger logs"):
            _downgrade(store, BEFORE)
        assert current_revision(store) == head_revision()
        verify_store(store, LedgerKeys.of(settings).verifier())
