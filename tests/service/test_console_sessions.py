"""Console sessions in the store: shared by every server on it, holding no credential,
checked again on every request, capped per principal and expiring."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from access_setup import ROOT, principal_of, provision
from brightline.access import Role
from brightline.config import Settings
from brightline.errors import AuthenticationError
from brightline.service.access import Authenticator
from brightline.service.apikeys import list_keys, revoke_key
from brightline.service.console_sessions import (
    ABSOLUTE_SECONDS,
    IDLE_SECONDS,
    MAX_PER_PRINCIPAL,
    ConsoleSessions,
)
from brightline.service.intake import revoke_role
from brightline.store import Store
from brightline.store.ephemeral_models import ConsoleSessionRow


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def keys(store: Store, settings: Settings) -> dict[str, str]:
    return provision(store, settings, {"ines": [Role.INVESTIGATOR], "mallory": [Role.AUDITOR]})


def _servers(store: Store, settings: Settings) -> tuple[ConsoleSessions, ConsoleSessions]:
    """Two servers' sessions over one store (each with its own authenticator)."""
    return (
        ConsoleSessions(store, Authenticator(store, settings)),
        ConsoleSessions(store, Authenticator(store, settings)),
    )


def test_a_session_opened_on_one_server_is_known_to_another(
    store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    one, two = _servers(store, settings)
    opened = one.open(Authenticator(store, settings).check(keys["ines"]))
    found = two.get(opened.id, take_flash=True)
    assert found is not None
    assert found.principal == principal_of(store, settings, keys["ines"])
    assert found.csrf == opened.csrf
    assert found.check_csrf(opened.csrf)
    assert not found.check_csrf(two.open(Authenticator(store, settings).check(keys["ines"])).csrf)


def test_the_store_holds_a_hash_of_the_session_id_and_no_credential(
    store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    one, _ = _servers(store, settings)
    opened = one.open(Authenticator(store, settings).check(keys["ines"]))
    with store.read() as session:
        (row,) = session.scalars(select(ConsoleSessionRow))
        stored = " ".join(str(v) for v in vars(row).values())
    assert row.id_hash == hashlib.sha256(opened.id.encode()).hexdigest()
    secret = keys["ines"].split("_", 2)[2]
    for value in (opened.id, opened.csrf, keys["ines"], secret):
        assert value not in stored


def test_a_revoked_key_ends_the_session_on_every_server(
    store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    one, two = _servers(store, settings)
    opened = one.open(Authenticator(store, settings).check(keys["ines"]))
    root = principal_of(store, settings, keys[ROOT])
    key_id = next(k.id for k in list_keys(store, actor=root) if k.principal == "ines")
    revoke_key(store, key_id, actor=root)
    with pytest.raises(AuthenticationError):
        two.get(opened.id, take_flash=False)
    assert one.get(opened.id, take_flash=False) is None  # and it is gone


def test_a_revoked_grant_changes_the_sessions_roles_at_once(
    store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    one, two = _servers(store, settings)
    opened = one.open(Authenticator(store, settings).check(keys["ines"]))
    root = principal_of(store, settings, keys[ROOT])
    revoke_role(store, "ines", Role.INVESTIGATOR, actor=root)
    found = two.get(opened.id, take_flash=False)
    assert found is not None
    assert found.principal.roles == frozenset()


def test_flash_messages_are_shown_once_on_whichever_server(
    store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    one, two = _servers(store, settings)
    opened = one.open(Authenticator(store, settings).check(keys["ines"]))
    one.say(opened, "ok", "Approved")
    one.say(opened, "error", "then refused")
    posted = two.get(opened.id, take_flash=False)  # a form post does not take them
    assert posted is not None
    assert posted.flash == []
    page = two.get(opened.id, take_flash=True)
    assert page is not None
    assert page.take_flash() == [("ok", "Approved"), ("error", "then refused")]
    again = one.get(opened.id, take_flash=True)
    assert again is not None
    assert again.flash == []


@pytest.mark.parametrize(
    ("idle", "age", "alive"),
    [
        (IDLE_SECONDS - 5, IDLE_SECONDS - 5, True),
        (IDLE_SECONDS + 5, IDLE_SECONDS + 5, False),
        (60, ABSOLUTE_SECONDS + 5, False),
    ],
)
def test_sessions_expire_when_idle_or_old(
    store: Store, settings: Settings, keys: dict[str, str], idle: int, age: int, alive: bool
) -> None:
    one, two = _servers(store, settings)
    start = datetime.now(UTC)
    opened = one.open(Authenticator(store, settings).check(keys["ines"]), now=start)
    # Seen regularly until ``idle`` seconds before the last look.
    for at in range(0, age - idle, 1800):
        assert two.get(opened.id, take_flash=False, now=start + timedelta(seconds=at)) is not None
    last = start + timedelta(seconds=age)
    assert (two.get(opened.id, take_flash=False, now=last) is not None) is alive


def test_one_principal_cannot_crowd_out_the_others(
    store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    one, two = _servers(store, settings)
    check = Authenticator(store, settings).check
    victim = one.open(check(keys["ines"]))
    opened = [two.open(check(keys["mallory"])) for _ in range(MAX_PER_PRINCIPAL * 3)]
    assert one.get(victim.id, take_flash=False) is not None
    assert sum(one.get(s.id, take_flash=False) is not None for s in opened) == MAX_PER_PRINCIPAL
    # The newest are kept.
    assert all(one.get(s.id, take_flash=False) is not None for s in opened[-MAX_PER_PRINCIPAL:])
