"""Opening the store named by the settings, migrating a fresh database on first use."""

from __future__ import annotations

from brightline.config import Settings
from brightline.store.engine import Store, create_store_engine
from brightline.store.migrate import is_current, upgrade


def open_store(settings: Settings | str, *, migrate: bool = True) -> Store:
    """Connect (raising StoreUnavailableError with a one-line reason if that fails) and,
    unless ``migrate`` is False, bring the schema up to date. Every wait for the database
    is bounded by ``settings.db_timeout`` (the default from a bare URL), migrations
    excepted.

    Opened from a bare URL, the store has no data directory: it cannot seal or open
    reporter identities and webhook secrets, and it has the default (safe) settings."""
    if isinstance(settings, str):
        store = Store(create_store_engine(settings))
    else:
        store = Store(
            create_store_engine(
                settings.database_url.get_secret_value(), timeout=settings.db_timeout
            ),
            settings=settings,
        )
    try:
        store.ping()
        if migrate and not is_current(store):
            upgrade(store)
    except BaseException:
        store.close()
        raise
    return store
