"""Opening the store named by the settings, migrating a fresh database on first use."""

from __future__ import annotations

from brightline.config import Settings
from brightline.errors import StoreUnavailableError
from brightline.store.engine import Store, create_store_engine
from brightline.store.migrate import is_current, upgrade


def open_store(settings: Settings | str, *, migrate: bool = True, read_only: bool = False) -> Store:
    """Connect (raising StoreUnavailableError with a one-line reason if that fails) and,
    unless ``migrate`` is False, bring the schema up to date. Every wait for the database
    is bounded by ``settings.db_timeout`` (the default from a bare URL), migrations
    excepted.

    ``read_only`` (for verification) opens a store that cannot write
    (:class:`~brightline.store.engine.Store`): it never migrates, and a database whose
    schema is not current is StoreUnavailableError.

    Opened from a bare URL, the store has no data directory: it cannot seal or open
    reporter identities and webhook secrets, and it has the default (safe) settings."""
    if isinstance(settings, str):
        store = Store(create_store_engine(settings, read_only=read_only), read_only=read_only)
    else:
        store = Store(
            create_store_engine(
                settings.database_url.get_secret_value(),
                timeout=settings.db_timeout,
                read_only=read_only,
            ),
            settings=settings,
            read_only=read_only,
        )
    try:
        store.ping()
        if read_only and not is_current(store):
            raise StoreUnavailableError(
                f"the database at {store.url} is not at this version's schema, and a "
                "read-only open does not migrate it: run `brightline db upgrade`"
            )
        if migrate and not read_only and not is_current(store):
            upgrade(store)
    except BaseException:
        store.close()
        raise
    return store
