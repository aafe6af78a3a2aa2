"""Compiling the store's state at a time into a Snapshot, and snapshot files.

The state *at* a time is the one the store recorded by then: the newest world imported
at or before it, and every restriction replayed from its events recorded at or before
it, keeping those approved and not lifted, rejected or expired at that time.

A snapshot file is the snapshot document (:mod:`brightline.policy.document`), from
which :func:`read_snapshot` rebuilds an equal Snapshot, checking its version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from brightline import files
from brightline.config import Settings
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.limits import load_json
from brightline.policy import (
    Notice,
    Snapshot,
    format_time,
    snapshot_document,
    snapshot_from_document,
)
from brightline.service.restrictions import approved_bodies, load_states
from brightline.store import LoadedWorlds, Store, latest_world, open_store


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    snapshot: Snapshot
    at: datetime
    world_version: int

    def document(self) -> dict[str, Any]:
        return snapshot_document(self.snapshot, at=self.at, world_version=self.world_version)


def compile_snapshot_at(
    store: Store,
    at: datetime,
    *,
    notice: Notice | None = None,
    worlds: LoadedWorlds | None = None,
) -> StoreSnapshot:
    """The Snapshot of the store as recorded at ``at`` (aware), wording its denials with
    ``notice``; the world taken from ``worlds`` when given (a server compiling at every
    change). NotFoundError if no world had been imported by then."""
    with store.read() as session:
        return compile_in(session, at, notice=notice, worlds=worlds)


def compile_in(
    session: Session,
    at: datetime,
    *,
    notice: Notice | None = None,
    worlds: LoadedWorlds | None = None,
) -> StoreSnapshot:
    """:func:`compile_snapshot_at` in the caller's read of the store."""
    if at.tzinfo is None:
        raise InvalidInputError(Problem("at", "time must carry a time zone"))
    at = at.astimezone(UTC)
    stored = latest_world(session, at=at) if worlds is None else worlds.latest(session, at=at)
    if stored is None:
        raise NotFoundError(f"no world had been imported by {format_time(at)}")
    bodies = approved_bodies(load_states(session, until=at), at)
    return StoreSnapshot(
        Snapshot.from_records(stored.world, bodies, notice=notice), at, stored.version
    )


def snapshot_at(settings: Settings, at: datetime) -> Snapshot:
    """Open the store named by ``settings`` and compile its Snapshot at ``at``."""
    store = open_store(settings)
    try:
        return compile_snapshot_at(store, at).snapshot
    finally:
        store.close()


def write_snapshot(snapshot: StoreSnapshot, path: Path) -> None:
    """Write the snapshot file whole; StorageError if it cannot be."""
    files.write_file(path, json.dumps(snapshot.document(), indent=2, ensure_ascii=False) + "\n")


def read_snapshot(path: Path) -> Snapshot:
    """Rebuild a Snapshot from a snapshot file; InvalidInputError if it is malformed or
    its content does not hash to its ``version``."""
    try:
        data = load_json(path.read_bytes(), where=str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read a snapshot: {exc}")) from exc
    return snapshot_from_document(data, name=path.name)
