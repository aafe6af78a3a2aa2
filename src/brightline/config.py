"""Settings: one object, built by the entry point from the environment and passed down.

Nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

DEFAULT_DATABASE_URL = "sqlite:///brightline.db"
DEFAULT_DATA_DIR = "brightline-data"


@dataclass(frozen=True, slots=True)
class Settings:
    """Where Brightline keeps its state.

    ``database_url`` is a SQLAlchemy URL: SQLite by default (``./brightline.db``),
    PostgreSQL through ``postgresql+psycopg://…``. Its password never shows in a repr.
    """

    database_url: SecretStr = field(default_factory=lambda: SecretStr(DEFAULT_DATABASE_URL))
    data_dir: Path = Path(DEFAULT_DATA_DIR)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=SecretStr(env.get("BRIGHTLINE_DATABASE_URL") or DEFAULT_DATABASE_URL),
            data_dir=Path(env.get("BRIGHTLINE_DATA_DIR") or DEFAULT_DATA_DIR),
        )
