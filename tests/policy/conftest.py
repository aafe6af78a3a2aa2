from __future__ import annotations

from pathlib import Path

import pytest

from brightline.policy import Snapshot
from brightline.service.offline import load_world_dir

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


@pytest.fixture(scope="session")
def example_snapshot() -> Snapshot:
    return load_world_dir(EXAMPLE).snapshot()
