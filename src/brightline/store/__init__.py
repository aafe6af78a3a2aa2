"""Persistence: SQLAlchemy models, Alembic migrations and repositories. No business rules.

Open a store with :func:`open_store`; it migrates a fresh database on first use.
"""

from brightline.errors import StoreUnavailableError
from brightline.store.engine import Store, create_store_engine, redact
from brightline.store.events import (
    NewEvent,
    StoredEvent,
    all_events,
    append_event,
    event_by_key,
    events_for,
    restriction_ids,
    restriction_ranks,
)
from brightline.store.migrate import current_revision, head_revision, upgrade
from brightline.store.open import open_store
from brightline.store.outbox import (
    OutboxEntry,
    advance_consumer,
    append_outbox,
    canonical_json,
    consumer_position,
    outbox_entry,
    outbox_head,
    outbox_rank,
    read_outbox,
    read_outbox_of_type,
)
from brightline.store.waits import DatabaseWait, watching
from brightline.store.worlds import (
    LoadedWorlds,
    StoredWorld,
    add_world_version,
    latest_world,
    latest_world_version,
    world_by_version,
    world_digest,
    world_version_row,
    world_versions,
)

__all__ = [
    "DatabaseWait",
    "LoadedWorlds",
    "NewEvent",
    "OutboxEntry",
    "Store",
    "StoreUnavailableError",
    "StoredEvent",
    "StoredWorld",
    "add_world_version",
    "advance_consumer",
    "all_events",
    "append_event",
    "append_outbox",
    "canonical_json",
    "consumer_position",
    "create_store_engine",
    "current_revision",
    "event_by_key",
    "events_for",
    "head_revision",
    "latest_world",
    "latest_world_version",
    "open_store",
    "outbox_entry",
    "outbox_head",
    "outbox_rank",
    "read_outbox",
    "read_outbox_of_type",
    "redact",
    "restriction_ids",
    "restriction_ranks",
    "upgrade",
    "watching",
    "world_by_version",
    "world_digest",
    "world_version_row",
    "world_versions",
]
