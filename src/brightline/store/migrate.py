"""Alembic migrations shipped inside the package; no ``alembic.ini`` is needed.

``upgrade`` takes the write lock first, so that two processes opening a fresh
database at once do not both try to create it.
"""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from brightline.store.engine import WRITE_LOCK_KEY, Store
from brightline.store.secrets import StoreSecrets
from brightline.store.waits import lift_timeouts

SCRIPT_LOCATION = "brightline.store:migrations"


def alembic_config(
    connection: Connection | None = None, secrets: StoreSecrets | None = None
) -> Config:
    """``secrets``: the store's key, for migrations that seal stored values."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    if secrets is not None:
        config.attributes["secrets"] = secrets
    return config


@functools.cache
def head_revision() -> str:
    """Read once per process: reading the scripts compiles every migration's source
    (about 60 ms), and the package's migrations do not change while it runs."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found in the package")
    return head


def current_revision(store: Store) -> str | None:
    with store._translate_errors(), store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(store: Store) -> bool:
    return current_revision(store) == head_revision()


def upgrade(store: Store, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision``; returns the revision now current. Without the
    store's timeouts: a migration may rewrite a whole table, or wait for another process
    migrating the same database."""
    with (
        store._translate_errors(),
        store.engine.connect() as connection,
        lift_timeouts(connection),
    ):
        if store.backend == "postgresql":
            # Session-level lock: migrations may commit more than once.
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": WRITE_LOCK_KEY})
            connection.commit()
        else:
            connection.execution_options(brightline_write=True)
        try:
            with connection.begin():
                command.upgrade(alembic_config(connection, store.secrets), revision)
        finally:
            if store.backend == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": WRITE_LOCK_KEY})
                connection.commit()
    return current_revision(store)
