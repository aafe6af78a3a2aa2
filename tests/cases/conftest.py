from __future__ import annotations

import pytest

from brightline.store import Store
from cases.case_scenarios import with_people


@pytest.fixture
def people_store(store: Store) -> Store:
    """A fresh store (each backend) with the example world and one principal per role."""
    return with_people(store)
