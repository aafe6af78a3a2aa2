"""Reporter identities at rest: sealed in the database, opened for the case admin only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from brightline.access import Role
from brightline.cases import ReporterIdentity, SourceKind
from brightline.config import Settings
from brightline.errors import StoreUnavailableError
from brightline.service.intake import show_reporter
from brightline.service.notify import add_notification_contact
from brightline.store import Store, open_store
from brightline.store.secrets import key_path
from cases.case_scenarios import report, with_people
from principals import principal

#: Acting principals of these tests, which are about sealing and delivery, not access
#: (the store's own principals come from ``with_people``).
ADMIN = principal("admin", Role.ADMIN, Role.CASE_ADMIN)
ALICE = principal("alice", Role.INVESTIGATOR)

NAME = "Jo Whistleblower"
CONTACT = "secure-drop:42"  # what case_scenarios.report gives every named reporter


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, which would leave new files readable by everyone."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _raw_identities(store: Store) -> list[tuple[str, str | None, str | None]]:
    with store.read() as session:
        rows = session.execute(
            text("SELECT name, contact, organization FROM reporter_identities ORDER BY signal_id")
        )
        return [(r[0], r[1], r[2]) for r in rows]


def _named(store: Store, name: str) -> str:
    return report(store, actor=ADMIN, source=SourceKind.JOURNALIST, name=name)


def _settings(store: Store) -> Settings:
    assert store.settings is not None
    return store.settings


def test_a_reporter_identity_is_sealed_at_rest_and_opened_for_the_case_admin(
    store: Store, umask_022: None
) -> None:
    with_people(store)
    ref = _named(store, NAME)

    [(name, contact, organization)] = _raw_identities(store)
    assert name.startswith("sealed:v1:")
    assert NAME not in name
    assert contact is not None
    assert contact.startswith("sealed:v1:")
    assert CONTACT not in contact
    assert organization is None
    assert name != contact  # each value its own nonce
    if store.backend == "sqlite":  # not in the database file nor its WAL either
        database = Path(store.engine.url.database or "")
        for path in (database, database.with_name(database.name + "-wal")):
            assert NAME.encode() not in path.read_bytes()

    assert show_reporter(store, ref, actor=ADMIN) == ReporterIdentity(NAME, CONTACT)

    data_dir = _settings(store).data_dir
    key = key_path(data_dir)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_a_sealed_identity_moved_to_another_row_does_not_open(store: Store) -> None:
    with_people(store)
    first = _named(store, "First Reporter")
    second = _named(store, "Second Reporter")
    with store.write() as session:  # someone with database access swaps the names
        rows = session.execute(text("SELECT signal_id, name FROM reporter_identities")).all()
        (a, name_a), (b, name_b) = sorted((int(r[0]), str(r[1])) for r in rows)
        for signal_id, name in ((a, name_b), (b, name_a)):
            session.execute(
                text("UPDATE reporter_identities SET name = :name WHERE signal_id = :id"),
                {"name": name, "id": signal_id},
            )
    for ref in (first, second):
        with pytest.raises(StoreUnavailableError, match="row was altered or moved"):
            show_reporter(store, ref, actor=ADMIN)


def test_a_missing_key_with_sealed_values_is_an_error_never_a_new_key(store: Store) -> None:
    with_people(store)
    ref = _named(store, NAME)
    settings = _settings(store)
    key_path(settings.data_dir).unlink()

    with open_store(settings, migrate=False) as reopened:  # a fresh process, say
        with pytest.raises(StoreUnavailableError, match=r"key .* is missing"):
            show_reporter(reopened, ref, actor=ADMIN)
        with pytest.raises(StoreUnavailableError, match=r"key .* is missing"):
            _named(reopened, "Another Reporter")
        assert report(reopened, actor=ADMIN) != ref  # anonymous reports need no key
    assert not key_path(settings.data_dir).exists()


def test_a_store_opened_from_a_bare_url_cannot_seal(store: Store) -> None:
    with_people(store)
    with open_store(store.engine.url.render_as_string(hide_password=False)) as bare:
        with pytest.raises(StoreUnavailableError, match="without a data directory"):
            _named(bare, NAME)
        with pytest.raises(StoreUnavailableError, match="without a data directory"):
            add_notification_contact(
                bare,
                actor=ADMIN,
                name="Hooks",
                channel="webhook",
                target="https://93.184.216.34/hook",
                secret="s3cret",
            )
    assert _raw_identities(store) == []


def test_a_webhook_secret_is_sealed_at_rest(store: Store) -> None:
    with_people(store)
    add_notification_contact(
        store,
        actor=ADMIN,
        name="Hooks",
        channel="webhook",
        target="https://93.184.216.34/hook",
        secret="s3cret-hmac-key",
    )
    with store.read() as session:
        [stored] = session.execute(text("SELECT secret FROM notification_contacts")).scalars()
    assert stored.startswith("sealed:v1:")
    assert "s3cret-hmac-key" not in stored
