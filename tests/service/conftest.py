from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from brightline.service import import_world
from brightline.store import Store

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


@pytest.fixture
def world_store(store: Store) -> Store:
    """A fresh store (each backend) holding the example world, imported at T0 (2025-09-01)."""
    import_world(store, EXAMPLE, actor="setup", now=datetime(2025, 9, 1, tzinfo=UTC))
    return store
