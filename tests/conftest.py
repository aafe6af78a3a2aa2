"""Database fixtures: every store test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``BRIGHTLINE_TEST_POSTGRES_URL`` when set (CI starts a cluster with
``scripts/postgres-test-cluster.sh env``); otherwise the first test that needs it starts a
throwaway cluster with that script, and the session stops it at the end. If PostgreSQL
cannot be started, the tests that need it fail: they are never skipped.

Each test gets a database of its own, copied from one migrated once per session: a file
copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL. Tests can therefore commit,
use threads and processes, and still not see each other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from brightline.config import Settings
from brightline.store import Store, open_store
from tmpfs import tmpfs  # noqa: F401  (a fixture: a real, small file system)

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_SCRIPT = ROOT / "scripts" / "postgres-test-cluster.sh"
BACKENDS = ["sqlite", "postgresql"]
_TEMPLATE_DB = "brightline_template"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database the session may create databases from."""
    given = os.environ.get("BRIGHTLINE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    try:
        started = subprocess.run(
            [str(CLUSTER_SCRIPT), "env"], capture_output=True, text=True, check=True, timeout=600
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        stderr = getattr(exc, "stderr", "") or ""
        pytest.fail(
            f"PostgreSQL is required for the store tests and could not be started: {exc}\n"
            f"{stderr}\nSet BRIGHTLINE_TEST_POSTGRES_URL or fix {CLUSTER_SCRIPT}.",
            pytrace=False,
        )
    values = dict(
        line.removeprefix("export ").split("=", 1)
        for line in started.stdout.splitlines()
        if line.startswith("export ")
    )
    try:
        yield values["BRIGHTLINE_TEST_POSTGRES_URL"]
    finally:
        subprocess.run(
            [str(CLUSTER_SCRIPT), "stop", values["BRIGHTLINE_TEST_POSTGRES_DIR"]],
            check=False,
            timeout=120,
        )


def _admin_execute(url: str, *statements: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> str:
    """A migrated PostgreSQL database to copy per test; returns the admin URL."""
    name = f"{_TEMPLATE_DB}_{uuid.uuid4().hex[:8]}"
    _admin_execute(postgres_url, f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with open_store(url):
        pass
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    with open_store(f"sqlite:///{path}"):
        pass
    return path


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated database of this test's own, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "brightline.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin: str = request.getfixturevalue("postgres_url")
    template: str = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin_execute(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """An open store on a fresh database (SQLite, then PostgreSQL), with a data directory
    of its own (``tmp_path/data``: the key of sealed values)."""
    settings = Settings(database_url=SecretStr(store_url), data_dir=tmp_path / "data")
    with open_store(settings, migrate=False) as opened:
        yield opened
