"""World versions: each import stores the whole directory and catalog as of that import.

Rows are stored as version ranges (``brightline.store.world_ranges``): a version shares
the rows it did not change with the version before it, and loads exactly as it was
imported, in the same order, with the same digest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from types import MappingProxyType
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from brightline.errors import InvalidInputError, Problem
from brightline.store.history import StoredWorldVersion
from brightline.store.models import WorldNode, WorldRegion, WorldService, WorldVersion
from brightline.store.outbox import canonical_json
from brightline.store.world_ranges import CurrentRows, rows_of, write_version
from brightline.world import BrokenTreeError, Catalog, Directory, Node, Region, Service, World
from brightline.world.sources import bulk_allocation


@dataclass(frozen=True, slots=True)
class StoredWorld:
    version: int
    created_at: datetime
    actor: str
    source: str
    digest: str
    world: World
    #: The version's node rows (their ranges), for the next import to write against.
    node_rows: CurrentRows | None = field(default=None, compare=False, repr=False)


def world_digest(world: World) -> str:
    """SHA-256 of the world's canonical form (node order and catalog order included)."""
    with bulk_allocation():  # a tuple per node: nothing for the collector to find
        columns = world.directory.columns()  # every node, none built
        canonical = _canonical(world, columns)
        # orjson writes what ``canonical_json`` writes (sorted keys, no spaces, UTF-8 kept,
        # the same escapes, tuples as arrays) for strings, booleans and 64-bit integers,
        # about five times as fast; not floats (``1e16`` against ``1e+16``), which only
        # attributes can hold. Larger integers and lone surrogates make orjson fail:
        # ``canonical_json`` writes those.
        if not any(type(v) is float for attrs in columns[4] if attrs for v in attrs.values()):
            try:
                text = orjson.dumps(canonical, default=dict, option=orjson.OPT_SORT_KEYS)
                return hashlib.sha256(text).hexdigest()
            except orjson.JSONEncodeError:
                pass
        return hashlib.sha256(canonical_json(canonical, default=dict).encode()).hexdigest()


def _canonical(world: World, columns: tuple[Sequence[Any], ...]) -> dict[str, object]:
    """``columns``: the directory's, as ``Directory.columns`` gives them for every node."""
    # Units appear only where declared, so that a world declaring none keeps the digest
    # it had before catalogs could declare units.
    catalog = world.catalog
    canonical: dict[str, object] = {
        # Both encoders sort every mapping's keys: the attributes need no sorting here.
        "nodes": list(zip(*columns, strict=True)),
        "services": [
            [s.id, list(s.operations), sorted(s.tags), *([list(s.units)] if s.units else [])]
            for s in catalog.services.values()
        ],
        "regions": [[r.id, r.country] for r in catalog.regions.values()],
    }
    if catalog.units:
        canonical["units"] = list(catalog.units)
    return canonical


def _units_json(units: tuple[str, ...]) -> str | None:
    return json.dumps(list(units)) if units else None


def _units_of(column: str | None) -> tuple[str, ...]:
    return tuple(json.loads(column)) if column is not None else ()


def add_world_version(
    session: Session,
    world: World,
    *,
    actor: str,
    source: str,
    at: datetime,
    previous: StoredWorld | None = None,
) -> int:
    """Store ``world`` as the newest version; returns its number.

    Only the nodes, services and regions that differ from the newest stored version are
    written (``brightline.store.world_ranges``). ``previous`` is that version as the
    caller loaded it in this transaction (it is loaded here when not given); ValueError if
    it is not the newest.
    """
    newest = latest_world_version(session)
    if previous is None and newest is not None:
        previous = world_by_version(session, newest)
    if previous is not None and previous.version != newest:
        raise ValueError(f"world version {previous.version} is not the newest ({newest})")
    before = previous.world if previous is not None else None
    version = WorldVersion(
        created_at=at,
        actor=actor,
        source=source,
        digest=world_digest(world),
        units=_units_json(world.catalog.units),
    )
    session.add(version)
    session.flush()
    _write_nodes(session, version.id, newest, world, previous)
    services = list(world.catalog.services.values())
    old_services = before.catalog.services if before is not None else {}
    write_version(
        session,
        _table(WorldService),
        version=version.id,
        previous=newest,
        ids=[s.id for s in services],
        unchanged=np.array([old_services.get(s.id) == s for s in services], dtype=bool),
        content=lambda i: _service_columns(services[i]),
    )
    regions = list(world.catalog.regions.values())
    old_regions = before.catalog.regions if before is not None else {}
    write_version(
        session,
        _table(WorldRegion),
        version=version.id,
        previous=newest,
        ids=[r.id for r in regions],
        unchanged=np.array([old_regions.get(r.id) == r for r in regions], dtype=bool),
        content=lambda i: (regions[i].country,),
    )
    return version.id


def _write_nodes(
    session: Session, version: int, newest: int | None, world: World, previous: StoredWorld | None
) -> None:
    directory = world.directory
    ids = directory.ids
    # A row is kept when its node is the same, attribute types included (``1`` and
    # ``true`` are ``==`` but different JSON: a kept row would load the other value).
    unchanged = np.ones(len(ids), dtype=bool)
    before = previous.world.directory if previous is not None else Directory({})
    unchanged[directory.differing(before)] = False
    write_version(
        session,
        _table(WorldNode),
        version=version,
        previous=newest,
        ids=ids,
        unchanged=unchanged,
        content=lambda i: _node_columns(directory[ids[i]]),
        current=previous.node_rows if previous is not None else None,
    )


def _node_columns(node: Node) -> tuple[Any, ...]:
    return (node.parent, node.kind, node.name, canonical_json(dict(node.attrs)))


def _service_columns(service: Service) -> tuple[Any, ...]:
    return (
        json.dumps(list(service.operations)),
        json.dumps(sorted(service.tags)),
        _units_json(service.units),
    )


def _table(model: type[WorldNode | WorldService | WorldRegion]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


class LoadedWorlds:
    """Worlds loaded from a store, kept per version *and* digest, for a process that
    reads the same world over and over (the server compiles the bundle and writes the
    ledger's facts from it at every change).

    A world version never changes once imported, so its loaded form can be kept; the
    key holds the digest too, so that a recreated (or restored) database whose version 3
    is another world loads it afresh. What is kept is the rows as they loaded then: a
    check of the stored rows themselves (``brightline store audit``) must load them with
    :func:`world_by_version`, which keeps nothing. Thread-safe.
    """

    def __init__(self, *, keep: int = 2) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._loaded: OrderedDict[tuple[int, str], StoredWorld] = OrderedDict()

    def latest(self, session: Session, *, at: datetime | None = None) -> StoredWorld | None:
        """As :func:`latest_world`."""
        query = select(WorldVersion).order_by(WorldVersion.id.desc()).limit(1)
        if at is not None:
            query = query.where(WorldVersion.created_at <= at)
        version = session.scalar(query)
        return None if version is None else self._of(session, version)

    def by_version(self, session: Session, version: int) -> StoredWorld | None:
        """As :func:`world_by_version`."""
        row = session.get(WorldVersion, version)
        return None if row is None else self._of(session, row)

    def _of(self, session: Session, version: WorldVersion) -> StoredWorld:
        key = (version.id, version.digest)
        with self._lock:
            kept = self._loaded.get(key)
            if kept is not None:
                self._loaded.move_to_end(key)
                return kept
        # Loaded outside the lock: two threads may load the same version, both correct.
        stored = _load(session, version)
        with self._lock:
            self._loaded[key] = stored
            while len(self._loaded) > self._keep:
                self._loaded.popitem(last=False)
        return stored


def world_version_row(session: Session, version: int) -> StoredWorldVersion | None:
    """A version's row without its world (just after ``add_world_version``: no query)."""
    row = session.get(WorldVersion, version)
    if row is None:
        return None
    return StoredWorldVersion(row.id, row.created_at, row.actor, row.source, row.digest)


def latest_world(session: Session, *, at: datetime | None = None) -> StoredWorld | None:
    """The newest world version (imported at or before ``at``, when given)."""
    query = select(WorldVersion).order_by(WorldVersion.id.desc()).limit(1)
    if at is not None:
        query = query.where(WorldVersion.created_at <= at)
    version = session.scalar(query)
    return None if version is None else _load(session, version)


def latest_world_version(session: Session) -> int | None:
    """The newest world version's number, without loading it (None before any import)."""
    return session.scalar(select(func.max(WorldVersion.id)))


def world_by_version(session: Session, version: int) -> StoredWorld | None:
    row = session.get(WorldVersion, version)
    return None if row is None else _load(session, row)


def world_versions(session: Session) -> list[tuple[int, datetime, str, str]]:
    """``(version, created_at, actor, source)`` of every import, oldest first."""
    rows = session.execute(
        select(
            WorldVersion.id, WorldVersion.created_at, WorldVersion.actor, WorldVersion.source
        ).order_by(WorldVersion.id)
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _load(session: Session, version: WorldVersion) -> StoredWorld:
    """The rows were checked on the way in; only the structure is checked again (unique
    ids, known parents, no cycles), so that a damaged store fails plainly instead of
    building a directory that never ends."""
    with bulk_allocation():  # a tuple per row: nothing for the collector to find
        where = f"store world version {version.id}"
        rows = rows_of(
            session,
            _table(WorldNode),
            version.id,
            ("id", "from_version", "parent", "kind", "name", "attrs"),
        )
        count = len(rows)
        positions, ids, starts, parents, kinds, names, texts = (
            map(list, zip(*rows, strict=True)) if rows else ([] for _ in range(7))
        )
        index: dict[Any, int] = dict(zip(ids, range(count), strict=True))
        if len(index) != count:
            [twice, *_] = [row_id for row_id, n in Counter(ids).items() if n > 1]
            raise InvalidInputError(Problem(where, f"node {twice!r} is stored twice"))
        index[None] = -1  # for a moment: a root's parent, so that the map below runs in C
        parent_at = list(map(index.get, parents, repeat(-2)))
        del index[None]
        shared: dict[str, Mapping[str, Any]] = {}  # equal attribute texts share one mapping
        attrs: dict[int, Mapping[str, Any]] = {}
        for i, text in enumerate(texts):
            if text != "{}":
                found = shared.get(text)
                if found is None:
                    found = shared[text] = MappingProxyType(_attrs(text))
                attrs[i] = found
        try:
            directory = Directory.from_columns(ids, index, parent_at, kinds, names, attrs)
        except BrokenTreeError:
            # Named the slow way: a damaged store fails plainly, never building a directory
            # that never ends.
            _check_tree(
                {
                    row_id: Node(row_id, parent, kind, name)
                    for row_id, parent, kind, name in zip(ids, parents, kinds, names, strict=True)
                },
                where,
            )
            raise AssertionError(f"{where}: the stored nodes are not a forest") from None
        services = {
            row_id: Service(
                id=row_id,
                operations=tuple(json.loads(operations)),
                tags=frozenset(json.loads(tags)),
                units=_units_of(units),
            )
            for _, row_id, operations, tags, units in rows_of(
                session, _table(WorldService), version.id, ("id", "operations", "tags", "units")
            )
        }
        regions = {
            row_id: Region(id=row_id, country=country)
            for _, row_id, country in rows_of(
                session, _table(WorldRegion), version.id, ("id", "country")
            )
        }
        world = World(
            directory=directory,
            catalog=Catalog(
                services=MappingProxyType(services),
                regions=MappingProxyType(regions),
                units=_units_of(version.units),
            ),
        )
        return StoredWorld(
            version=version.id,
            created_at=version.created_at,
            actor=version.actor,
            source=version.source,
            digest=version.digest,
            world=world,
            node_rows=CurrentRows(
                index=index,
                ids=ids,
                starts=np.array(starts, dtype=np.int64),
                positions=np.array(positions, dtype=np.int64),
            ),
        )


def _attrs(column: str) -> dict[str, Any]:
    try:
        value = orjson.loads(column)
    except orjson.JSONDecodeError:  # integers beyond 64 bits, which orjson does not read
        value = json.loads(column)
    assert isinstance(value, dict)
    return value


def _check_tree(nodes: Mapping[str, Node], where: str) -> None:
    rooted: set[str] = set()  # nodes known to reach a root
    for start, node in nodes.items():
        if node.parent is None or node.parent in rooted:  # most nodes follow their parent
            rooted.add(start)
            continue
        path = [start]
        current: str | None = node.parent
        while current is not None and current not in rooted:
            above = nodes.get(current)
            if above is None:
                raise InvalidInputError(
                    Problem(where, f"node {path[-1]!r} has an unknown parent {current!r}")
                )
            if len(path) > len(nodes):
                raise InvalidInputError(
                    Problem(where, f"the ancestors of node {start!r} form a cycle")
                )
            path.append(current)
            current = above.parent
        rooted.update(path)
