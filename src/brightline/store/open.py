"""Opening the store named by the settings, migrating a fresh database on first use."""

from __future__ import annotations

from brightline.config import Settings
from brightline.store.engine import Store, create_store_engine
from brightline.store.migrate import is_current, upgrade


def open_store(settings: Settings | str, *, migrate: bool = True) -> Store:
    """Connect (raising StoreUnavailableError with a one-line reason if that fails) and,
    unless ``migrate`` is False, bring the schema up to date."""
    url = settings if isinstance(settings, str) else settings.database_url.get_secret_value()
    store = Store(create_store_engine(url))
    try:
        store.ping()
        if migrate and not is_current(store):
            upgrade(store)
    except BaseException:
        store.close()
        raise
    return store
