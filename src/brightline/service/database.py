"""Bringing the database schema up to date."""

from __future__ import annotations

from dataclasses import dataclass

from brightline.config import Settings
from brightline.store import current_revision, head_revision, open_store, upgrade


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    url: str
    backend: str
    before: str | None
    after: str | None
    head: str


def upgrade_database(settings: Settings) -> DatabaseStatus:
    """Apply every pending migration; StoreUnavailableError if the database is unreachable."""
    with open_store(settings, migrate=False) as store:
        before = current_revision(store)
        after = upgrade(store)
        return DatabaseStatus(store.url, store.backend, before, after, head_revision())
