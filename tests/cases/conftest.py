from __future__ import annotations

import pytest

from brightline.store import Store
from cases.case_scenarios import People, with_people


@pytest.fixture
def people(store: Store) -> People:
    """The example world and one principal per role in a fresh store (each backend), by
    name (see ``with_people``); tests take ``store`` for the store itself."""
    return with_people(store)
