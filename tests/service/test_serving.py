"""Preparing the server: first start on an empty store, restart, and a lost ledger key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from brightline.config import Settings
from brightline.errors import NotFoundError
from brightline.service.ledger import LedgerKeys
from brightline.service.serving import prepare_server

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
