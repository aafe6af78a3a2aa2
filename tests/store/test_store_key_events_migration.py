"""Migration 0008: API keys made before keys were logged get their outbox events, and the
upgraded store passes ``ledger verify`` with its store audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text
from typer.testing import CliRunner

from brightline.access import Role
from brightline.service.apikeys import insert_key
from brightline.store import Store, current_revision, head_revision, open_store
from brightline.store.migrate import alembic_config
from brightline.store.serving_models import ApiKeyRevocationRow
from cli.people import ADMIN, People, words

BEFORE = "0007_ledger_logs"
T = datetime(2025, 10, 1, 9, 30, 15, 250_000, tzinfo=UTC)
LATER = datetime(2025, 10, 2, tzinfo=UTC)


def _downgrade(store: Store, revision: str) -> None:
    with store.engine.connect() as connection:
        connection.execution_options(brightline_write=True)
        with connection.begin():
            command.downgrade(alembic_config(connection, store.secrets), revision)


def _key_events(store: Store) -> list[tuple[str, dict[str, object]]]:
    with store.read() as session:
        rows = session.execute(
            text(
                "SELECT event_type, payload FROM outbox WHERE event_type LIKE 'apikey.%' "
                "ORDER BY id"
            )
        )
        return [(event_type, json.loads(payload)) for event_type, payload in rows]


def _keys_made_before_0008(store: Store, keys: Path) -> str:
    """What a store at 0007 held: keys and a revocation written without outbox events
    (aude's key, saved to her key file, and a gateway's, revoked); the gateway key's id."""
    with store.write() as session:
        _, aude = insert_key(
            session, principal="aude", roles=[Role.AUDITOR], created_by=ADMIN, at=T
        )
        gateway, _ = insert_key(
            session, principal="gw-1", roles=[Role.ENFORCEMENT_POINT], created_by=ADMIN, at=LATER
        )
        session.add(ApiKeyRevocationRow(key_id=gateway.id, revoked_at=LATER, revoked_by=ADMIN))
    (keys / "aude").write_text(aude + "\n", encoding="utf-8")
    (keys / "aude").chmod(0o600)
    return gateway.id


def test_keys_made_before_keys_were_logged_get_their_events_and_the_store_verifies(
    store_url: str, tmp_path: Path
) -> None:
    env = {"BRIGHTLINE_DATABASE_URL": store_url, "BRIGHTLINE_DATA_DIR": str(tmp_path / "data")}
    people = People(CliRunner(env=env), tmp_path / "keys")
    people.invoke("ledger", "keygen")
    people.bootstrap()  # principal.bootstrapped names the admin's key: it needs no event
    people.invoke("principal", "grant", "aude", "auditor", by=ADMIN)
    with open_store(store_url) as store:
        _downgrade(store, BEFORE)
        gateway = _keys_made_before_0008(store, people.keys)
        # The keys have no outbox events yet. (The store audit reads the newest schema — a
        # grant's node came with 0013 — so it is not run on a store at 0007.)
        assert _key_events(store) == []

    # Verification never migrates: it asks for the upgrade, which an admin runs.
    refused = people.invoke("ledger", "verify", by="aude", code=6)
    assert "run `brightline db upgrade`" in refused
    people.invoke("db", "upgrade")
    verified = words(people.invoke("ledger", "verify", by="aude"))
    assert "every history row has its one outbox event" in verified
    assert "3 api_keys, 1 api_key_revocations" in verified
    with open_store(store_url) as store:
        assert current_revision(store) == head_revision()
        events = _key_events(store)
        assert [(t, p["principal"]) for t, p in events[:2]] == [
            ("apikey.created", "aude"),
            ("apikey.created", "gw-1"),
        ]
        assert events[0][1]["at"] == "2025-10-01T09:30:15.250000Z"
        assert events[2] == (
            "apikey.revoked",
            {"key": gateway, "actor": ADMIN, "at": "2025-10-02T00:00:00Z"},
        )
        assert len(events) == 3
        _downgrade(store, BEFORE)  # nothing to undo; upgrading again adds nothing
    people.invoke("db", "upgrade")
    people.invoke("ledger", "verify", by="aude")
    with open_store(store_url) as store:
        assert len(_key_events(store)) == 3
