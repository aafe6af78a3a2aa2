from __future__ import annotations

import pytest

from brightline.store import Store
from service.store_scenarios import with_example_world


@pytest.fixture
def world_store(store: Store) -> Store:
    """A fresh store (each backend) holding the example world, imported at T0 (2025-09-01)."""
    return with_example_world(store)
