"""The ledger's key files: created private, in a private data directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from brightline.config import Settings
from brightline.service.ledger import keygen


def test_keygen_creates_the_data_directory_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    old = os.umask(0o022)  # the common default, which would make directories 0755
    try:
        keys, _ = keygen(Settings(data_dir=data_dir))
    finally:
        os.umask(old)
    for directory in (keys.private.parent, data_dir, data_dir.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(keys.private.stat().st_mode) == 0o600
