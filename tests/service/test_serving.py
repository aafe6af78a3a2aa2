"""Preparing the server: first start on an empty store, restart, and a lost ledger key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from brightline.config import Settings
from brightline.errors import ConflictError, NotFoundError
from brightline.service.access import Authenticator, bootstrap, is_empty
from brightline.service.ledger import LedgerKeys
from brightline.service.restrictions import bootstrap_restrictions, list_restrictions
from brightline.service.serving import prepare_server
from brightline.store import open_store

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


def test_first_start_makes_a_key_and_an_admin_and_a_lost_key_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        database_url=SecretStr(f"sqlite:///{tmp_path / 'b.db'}"), data_dir=tmp_path / "data"
    )
    first = prepare_server(settings, example_world=EXAMPLE)
    assert first.admin_key is not None
    first.store.close()
    again = prepare_server(settings, example_world=EXAMPLE)
    assert again.admin_key is None  # keys exist: none is printed twice
    again.store.close()

    keys = LedgerKeys.of(settings)
    keys.private.unlink()
    with pytest.raises(NotFoundError, match="restore the key"):
        prepare_server(settings, example_world=EXAMPLE)
    assert not keys.private.exists()  # nothing was made in its place


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=SecretStr(f"sqlite:///{tmp_path / 'b.db'}"), data_dir=tmp_path / "data"
    )


def test_first_start_puts_the_example_restrictions_in_force_as_a_bootstrap(
    tmp_path: Path,
) -> None:
    prepared = prepare_server(_settings(tmp_path), example_world=EXAMPLE)
    try:
        assert any("recorded bootstrap" in note for note in prepared.notes), prepared.notes
        views = {v.id: v for v in list_restrictions(prepared.store)}
        assert set(views) == {"r-0001", "r-0002"}
        assert all([e.kind for e in v.events] == ["bootstrapped"] for v in views.values())
        assert all(v.events[0].actor == "admin" for v in views.values())
    finally:
        prepared.store.close()
    again = prepare_server(_settings(tmp_path), example_world=EXAMPLE)
    try:  # a restart bootstraps nothing again
        assert not any("bootstrap" in note for note in again.notes)
        assert len(list_restrictions(again.store)) == 2
    finally:
        again.store.close()


def test_an_insider_cannot_bootstrap_past_four_eyes_once_the_store_holds_restrictions(
    tmp_path: Path,
) -> None:
    """Bootstrapping skips four eyes, so it is for the empty store alone: an admin who
    calls it again on a store that holds restrictions (to put one more in force without
    a second person) is refused, and nothing is written."""
    settings = _settings(tmp_path)
    prepared = prepare_server(settings, example_world=EXAMPLE)
    try:
        assert prepared.admin_key is not None
        admin = Authenticator(prepared.store, settings).principal_for(prepared.admin_key)
        extra = tmp_path / "restrictions.yaml"
        text = (EXAMPLE / "restrictions.yaml").read_text(encoding="utf-8")
        extra.write_text(text.replace("r-0001", "r-0099"), encoding="utf-8")
        with pytest.raises(ConflictError, match="only an empty store is bootstrapped"):
            bootstrap_restrictions(prepared.store, extra, actor=admin)
        assert {v.id for v in list_restrictions(prepared.store)} == {"r-0001", "r-0002"}
    finally:
        prepared.store.close()


def test_a_store_with_principals_and_no_world_is_refused_before_anything_is_made(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    with open_store(settings) as store:
        bootstrap(store, principal="ops")
    with pytest.raises(NotFoundError, match="brightline world import DIR"):
        prepare_server(settings, example_world=EXAMPLE)
    assert not LedgerKeys.of(settings).private.exists()


def test_an_empty_store_without_a_world_directory_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(NotFoundError, match="--world DIR"):
        prepare_server(settings, example_world=tmp_path / "nowhere")
    assert not LedgerKeys.of(settings).private.exists()
    with open_store(settings) as store:
        assert is_empty(store)
