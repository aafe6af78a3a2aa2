"""Compiling the store's state at a time into a Snapshot, and snapshot files.

The state *at* a time is the one the store recorded by then: the newest world imported
at or before it, and every restriction replayed from its events recorded at or before
it, keeping those approved and not lifted, rejected or expired at that time.

A snapshot file is JSON: ``format``, ``at``, ``world_version``, ``version`` (the
Snapshot's SHA-256) and the snapshot's canonical form (``nodes``, ``services``,
``regions``, ``restrictions``), from which :func:`read_snapshot` rebuilds an equal
Snapshot, checking its version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from pydantic import ValidationError

from brightline.config import Settings
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.policy import Snapshot, format_time
from brightline.service.restrictions import approved_bodies, load_states
from brightline.store import Store, latest_world, open_store
from brightline.world import Catalog, NodeRecord, Region, Service, World, build_directory

SNAPSHOT_FORMAT: Final = "brightline.snapshot/1"


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    snapshot: Snapshot
    at: datetime
    world_version: int

    def document(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "at": format_time(self.at),
            "world_version": self.world_version,
            "version": self.snapshot.version,
            **self.snapshot.canonical(),
        }


def compile_snapshot_at(store: Store, at: datetime) -> StoreSnapshot:
    """The Snapshot of the store as recorded at ``at`` (aware). NotFoundError if no world
    had been imported by then."""
    if at.tzinfo is None:
        raise InvalidInputError(Problem("at", "time must carry a time zone"))
    at = at.astimezone(UTC)
    with store.read() as session:
        stored = latest_world(session, at=at)
        if stored is None:
            raise NotFoundError(f"no world had been imported by {format_time(at)}")
        bodies = approved_bodies(load_states(session, until=at), at)
    return StoreSnapshot(Snapshot.from_records(stored.world, bodies), at, stored.version)


def snapshot_at(settings: Settings, at: datetime) -> Snapshot:
    """Open the store named by ``settings`` and compile its Snapshot at ``at``."""
    store = open_store(settings)
    try:
        return compile_snapshot_at(store, at).snapshot
    finally:
        store.close()


def write_snapshot(snapshot: StoreSnapshot, path: Path) -> None:
    try:
        path.write_text(
            json.dumps(snapshot.document(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise InvalidInputError(Problem(str(path), f"cannot write: {exc}")) from exc


def read_snapshot(path: Path) -> Snapshot:
    """Rebuild a Snapshot from a snapshot file; InvalidInputError if it is malformed or
    its content does not hash to its ``version``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read a snapshot: {exc}")) from exc
    return snapshot_from_document(data, name=path.name)


def snapshot_from_document(data: Any, *, name: str = "snapshot") -> Snapshot:
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise InvalidInputError(Problem(name, f"not a {SNAPSHOT_FORMAT} document"))
    try:
        records = [
            (
                i + 1,
                NodeRecord(id=n[0], parent=n[1], kind=n[2], name=n[3], attrs=n[4]),
            )
            for i, n in enumerate(data["nodes"])
        ]
        services = {
            s[0]: Service(id=s[0], operations=tuple(s[1]), tags=frozenset(s[2]))
            for s in data["services"]
        }
        regions = {r[0]: Region(id=r[0], country=r[1]) for r in data["regions"]}
        restrictions = list(data["restrictions"])
    except (KeyError, IndexError, TypeError, ValidationError) as exc:
        raise InvalidInputError(Problem(name, f"malformed snapshot: {exc}")) from exc
    world = World(
        directory=build_directory(records, file=name),
        catalog=Catalog(services=MappingProxyType(services), regions=MappingProxyType(regions)),
    )
    snapshot = Snapshot.from_records(world, restrictions)
    if snapshot.version != data.get("version"):
        raise InvalidInputError(
            Problem(name, "the snapshot's content does not match its version (edited or damaged)")
        )
    return snapshot
