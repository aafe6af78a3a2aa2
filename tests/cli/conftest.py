"""Stores with people in them, for the CLI tests (see :mod:`cli.people`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.people import People


@pytest.fixture
def people(store_url: str, tmp_path: Path) -> People:
    """A bootstrapped store (each backend) whose admin has a key; nobody else yet."""
    runner = CliRunner(
        env={"BRIGHTLINE_DATABASE_URL": store_url, "BRIGHTLINE_DATA_DIR": str(tmp_path / "data")}
    )
    made = People(runner, tmp_path / "keys")
    made.bootstrap()
    return made


@pytest.fixture
def sqlite_people(tmp_path: Path) -> People:
    """The same on a SQLite file of its own (for the ledger and report commands)."""
    runner = CliRunner(
        env={
            "BRIGHTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
            "BRIGHTLINE_DATA_DIR": str(tmp_path / "data"),
            "BRIGHTLINE_TRANSPARENCY_K": "1",
        }
    )
    made = People(runner, tmp_path / "keys")
    made.bootstrap()
    return made
