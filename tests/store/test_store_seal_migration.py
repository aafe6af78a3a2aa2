"""Migration 0005: identities and webhook secrets stored in plain text before it are sealed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from pydantic import SecretStr
from sqlalchemy import insert, text

from brightline.cases import ReporterIdentity
from brightline.config import Settings
from brightline.errors import StoreUnavailableError
from brightline.store import Store, current_revision, head_revision, open_store
from brightline.store.case_models import NotificationContact, ReporterIdentityRow, SignalRow
from brightline.store.cases import contacts, reporter_identity
from brightline.store.migrate import alembic_config
from brightline.store.secrets import SealedField, key_path

BEFORE = "0004_serving"
NOW = datetime(2025, 10, 1, tzinfo=UTC)


def _downgrade(store: Store, revision: str) -> None:
    with store.engine.connect() as connection:
        connection.execution_options(brightline_write=True)
        with connection.begin():
            command.downgrade(alembic_config(connection, store.secrets), revision)


def _raw(store: Store) -> list[str | None]:
    with store.read() as session:
        identity = session.execute(
            text("SELECT name, contact, organization FROM reporter_identities")
        ).one()
        secret = session.execute(text("SELECT secret FROM notification_contacts")).scalar_one()
    return [*identity, secret]


def _plain_rows(store: Store) -> None:
    """What a store at 0004 held: a named report and a webhook contact, in plain text."""
    with store.write() as session:
        session.execute(
            insert(SignalRow).values(
                id=1,
                received_at=NOW,
                source_kind="journalist",
                nodes="[]",
                policies="[]",
                summary="s",
                references="[]",
                alert_id=None,
                recorded_by="intake",
            )
        )
        session.execute(
            insert(ReporterIdentityRow).values(
                signal_id=1, name="Jo", contact="jo@news.example", organization=None
            )
        )
        session.execute(
            insert(NotificationContact).values(
                id=1,
                node=None,
                name="Hooks",
                channel="webhook",
                target="https://93.184.216.34/hook",
                secret="s3cret",
                added_by="admin",
                added_at=NOW,
            )
        )


def test_plain_values_are_sealed_by_the_upgrade_with_the_data_directory(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=SecretStr(store_url), data_dir=tmp_path / "data")
    with open_store(settings, migrate=False) as store:
        _downgrade(store, BEFORE)
        _plain_rows(store)

    # Without the data directory there is no key: the upgrade stops and changes nothing.
    with pytest.raises(StoreUnavailableError, match="0005_seal_secrets must seal"):
        open_store(store_url)
    with open_store(store_url, migrate=False) as bare:
        assert current_revision(bare) == BEFORE
        assert _raw(bare) == ["Jo", "jo@news.example", None, "s3cret"]
    assert not key_path(settings.data_dir).exists()

    with open_store(settings) as store:
        assert current_revision(store) == head_revision()
        name, contact, organization, secret = _raw(store)
        assert organization is None
        for value in (name, contact, secret):
            assert value is not None
            assert value.startswith("sealed:v1:")
        with store.read() as session:
            assert reporter_identity(session, 1, store.secrets) == ReporterIdentity(
                "Jo", "jo@news.example"
            )
            [webhook] = contacts(session)
        assert webhook.sealed_secret is not None
        keyring = store.secrets.for_opening()
        assert keyring.open(webhook.sealed_secret, field=SealedField.WEBHOOK_SECRET, row=1) == (
            "s3cret"
        )

        _downgrade(store, BEFORE)  # and back: the old code reads plain values
        assert _raw(store) == ["Jo", "jo@news.example", None, "s3cret"]
