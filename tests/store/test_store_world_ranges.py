"""World rows as version ranges (migration 0014): every version loads exactly as it was
imported, an import writes only the rows that changed, and the migration carries stored
versions both ways."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Table, func, select, text

from brightline.errors import ConflictError, InvalidInputError
from brightline.store import (
    Store,
    add_world_version,
    canonical_json,
    latest_world_version,
    world_by_version,
    world_digest,
)
from brightline.store.migrate import alembic_config
from brightline.store.models import Base, WorldNode, WorldRegion, WorldService
from brightline.store.world_ranges import (
    GAP,
    RANGE_COLUMNS,
    _kept,
    _positions,
    bulk_insert,
    rows_of,
)
from brightline.world import Catalog, Directory, Node, Region, Service, World

T = datetime(2025, 10, 1, tzinfo=UTC)
BEFORE = "0013_customer_binding"
TABLES = ("world_nodes", "world_services", "world_regions")


def _world(nodes: list[Node], services: int = 3, regions: int = 2) -> World:
    return World(
        directory=Directory({n.id: n for n in nodes}),
        catalog=Catalog(
            services=MappingProxyType(
                {
                    f"svc.{i}": Service(f"svc.{i}", ("read", "write"), frozenset({"compute"}))
                    for i in range(services)
                }
            ),
            regions=MappingProxyType({f"r{i}": Region(f"r{i}", "NL") for i in range(regions)}),
        ),
    )


def _node(node_id: str, parent: str | None = None, **attrs: Any) -> Node:
    kind = "customer" if parent is None else "subscription"
    return Node(
        node_id, parent, kind, node_id.upper(), MappingProxyType(dict(sorted(attrs.items())))
    )


def _customers(count: int) -> list[Node]:
    nodes = []
    for c in range(count):
        nodes.append(_node(f"c{c}", country="NL"))
        nodes.extend(_node(f"c{c}.s{s}", f"c{c}") for s in range(4))
    return nodes


def _evolve(nodes: list[Node], rng: random.Random, step: int) -> list[Node]:
    """Another version: some nodes renamed, moved, removed, added, and a few reordered."""
    out = list(nodes)
    for _ in range(rng.randint(0, 3)):
        leaves = [i for i, n in enumerate(out) if n.parent is not None]
        if not leaves:
            break
        i = rng.choice(leaves)
        action = rng.choice(["rename", "move", "remove", "add", "reorder", "retype"])
        node = out[i]
        roots = [n.id for n in out if n.parent is None]
        if action == "rename":
            out[i] = Node(node.id, node.parent, node.kind, f"{node.name}+", node.attrs)
        elif action == "move":
            out[i] = Node(node.id, rng.choice(roots), node.kind, node.name, node.attrs)
        elif action == "remove":
            del out[i]
        elif action == "add":
            out.insert(rng.randint(1, len(out)), _node(f"new{step}.{i}", rng.choice(roots)))
        elif action == "reorder":
            out.insert(rng.randint(1, len(out) - 1), out.pop(i))
        else:  # 1 and True are equal in Python, not in JSON
            flag: Any = 1 if node.attrs.get("flag") is True else True
            out[i] = Node(
                node.id, node.parent, node.kind, node.name, MappingProxyType({"flag": flag})
            )
    return out


def _add(store: Store, world: World) -> int:
    with store.write() as session:
        return add_world_version(session, world, actor="test", source="test", at=T)


def _count(store: Store, model: type[WorldNode | WorldService | WorldRegion]) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _assert_loads(store: Store, version: int, world: World) -> None:
    with store.read() as session:
        stored = world_by_version(session, version)
    assert stored is not None
    assert list(stored.world.directory) == list(world.directory)
    assert [dict(n.attrs) for n in stored.world.directory] == [
        dict(n.attrs) for n in world.directory
    ]
    assert stored.world.catalog == world.catalog
    assert list(stored.world.catalog.services) == list(world.catalog.services)
    assert stored.digest == world_digest(stored.world) == world_digest(world)


def _migrate(store: Store, revision: str, *, down: bool) -> None:
    with store.engine.connect() as connection:
        connection.execution_options(brightline_write=True)
        with connection.begin():
            config = alembic_config(connection, store.secrets)
            (command.downgrade if down else command.upgrade)(config, revision)


def test_every_version_loads_as_imported_while_only_changes_are_written(store: Store) -> None:
    rng = random.Random(7)
    nodes = _customers(6)
    worlds = [_world(nodes)]
    for step in range(12):
        nodes = _evolve(nodes, rng, step)
        worlds.append(_world(nodes, services=3 + step % 2))
    versions = [_add(store, world) for world in worlds]
    for version, world in zip(versions, worlds, strict=True):
        _assert_loads(store, version, world)
    assert _count(store, WorldNode) < sum(len(w.directory) for w in worlds) / 3


def test_a_one_percent_change_writes_one_percent_of_the_rows(store: Store) -> None:
    nodes = _customers(200)  # 1,000 nodes
    _add(store, _world(nodes))
    assert _count(store, WorldNode) == 1000
    changed = list(nodes)
    for i in range(1, 1000, 100):  # ten renamed, wherever they are
        n = changed[i]
        changed[i] = Node(n.id, n.parent, n.kind, "renamed", n.attrs)
    version = _add(store, _world(changed))
    assert _count(store, WorldNode) == 1010
    assert _count(store, WorldService) == 3
    assert _count(store, WorldRegion) == 2
    _assert_loads(store, version, _world(changed))
    _assert_loads(store, version - 1, _world(nodes))


def test_rows_inserted_again_and_again_into_one_gap_are_renumbered(store: Store) -> None:
    nodes = [_node("c"), _node("c.first", "c"), _node("c.last", "c")]
    worlds = []
    for i in range(20):  # each new node halves the gap before c.last
        nodes = [*nodes[:-1], _node(f"c.mid{i}", "c"), nodes[-1]]
        worlds.append(_world(nodes))
    versions = [_add(store, world) for world in worlds]
    for version, world in zip(versions, worlds, strict=True):
        _assert_loads(store, version, world)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("UPDATE world_nodes SET parent = 'a.c' WHERE id = 'a.b'", "form a cycle"),
        (
            "UPDATE world_nodes SET parent = 'ghost' WHERE id = 'a.c'",
            "node 'a.c' has an unknown parent 'ghost'",
        ),
        (
            "INSERT INTO world_nodes (id, from_version, to_version, position, parent, kind, "
            "name, attrs) SELECT 'a.b', from_version + 1, NULL, position + 1, parent, kind, "
            "name, attrs FROM world_nodes WHERE id = 'a.c'",
            "node 'a.b' is stored twice",
        ),
    ],
)
def test_a_damaged_tree_fails_plainly(store: Store, damage: str, message: str) -> None:
    world = _world([_node("a"), _node("a.b", "a"), _node("a.c", "a.b")])
    _add(store, world)
    version = _add(store, world)  # the same rows: the second version shares them
    with store.engine.begin() as connection:
        connection.execute(text(damage))
    with pytest.raises(InvalidInputError, match=message), store.read() as session:
        world_by_version(session, version)


def test_rows_written_against_the_ranges_loaded_or_read_again_are_the_same(
    store: Store,
) -> None:
    """The previous version's node ranges come with its load (``node_rows``); without
    them they are read again, and the same rows are written."""
    rng = random.Random(5)
    nodes = _customers(6)
    _add(store, _world(nodes))
    for step in range(4):
        nodes = _evolve(nodes, rng, step)
        with store.write() as session:
            previous = world_by_version(session, latest_world_version(session) or 0)
            assert previous is not None
            assert previous.node_rows is not None
            if step % 2:
                previous = dataclasses.replace(previous, node_rows=None)
            version = add_world_version(
                session, _world(nodes), actor="test", source="test", at=T, previous=previous
            )
        _assert_loads(store, version, _world(nodes))


def test_the_migration_carries_every_version_both_ways(store: Store) -> None:
    rng = random.Random(11)
    nodes = _customers(5)
    worlds = [_world(nodes)]
    for step in range(6):
        nodes = _evolve(nodes, rng, step)
        worlds.append(_world(nodes))
    versions = [_add(store, world) for world in worlds]
    _migrate(store, BEFORE, down=True)
    with store.read() as session:
        rows = session.execute(
            text(
                "SELECT version_id, count(*), min(position), max(position) FROM world_nodes "
                "GROUP BY version_id ORDER BY version_id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (v, len(w.directory), 0, len(w.directory) - 1)
        for v, w in zip(versions, worlds, strict=True)
    ]
    _migrate(store, "head", down=False)
    for version, world in zip(versions, worlds, strict=True):
        _assert_loads(store, version, world)
    nodes = _evolve(nodes, rng, 99)
    _assert_loads(store, _add(store, _world(nodes)), _world(nodes))


def test_the_migrated_world_tables_match_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if any(name in repr(d) for name in TABLES)] == []


@given(st.lists(st.one_of(st.none(), st.integers(-(10**6), 10**6)), max_size=40))
def test_kept_rows_keep_their_positions_and_every_version_is_in_order(
    old: list[int | None],
) -> None:
    unique = [p if p is None or old.index(p) == i else None for i, p in enumerate(old)]
    positions_before, known = _arrays(unique)
    kept = _kept(positions_before, known)
    assert all(unique[i] is not None for i in np.flatnonzero(kept))
    positions = _positions(positions_before, kept)
    if positions is None:  # a gap too narrow: the caller renumbers
        return
    assert all(a < b for a, b in itertools.pairwise(positions))
    assert all(positions[i] == unique[i] for i in np.flatnonzero(kept))
    # The longest run in order is kept: as long as a quadratic search finds it.
    assert int(kept.sum()) == _longest_increasing([p for p in unique if p is not None])


def _arrays(old: list[int | None]) -> tuple[np.ndarray, np.ndarray]:
    known = np.array([p is not None for p in old], dtype=bool)
    return np.array([0 if p is None else p for p in old], dtype=np.int64), known


def _longest_increasing(values: list[int]) -> int:
    best = [1] * len(values)
    for i, value in enumerate(values):
        for j in range(i):
            if values[j] < value:
                best[i] = max(best[i], best[j] + 1)
    return max(best, default=0)


def test_unchanged_rows_in_order_are_all_kept() -> None:
    old, known = _arrays([None, 0, GAP, None, 5 * GAP, None])
    kept = _kept(old, known)
    assert np.flatnonzero(kept).tolist() == [1, 2, 4]
    assert _positions(old, kept) == [-GAP, 0, GAP, 3 * GAP, 5 * GAP, 6 * GAP]


def test_rows_between_kept_rows_share_the_gap_and_a_full_gap_is_refused() -> None:
    old, known = _arrays([0, None, None, 3, None])
    kept = _kept(old, known)
    assert _positions(old, kept) == [0, 1, 2, 3, 3 + GAP]
    old, known = _arrays([0, None, None, 2])
    assert _positions(old, _kept(old, known)) is None


def test_a_bulk_insert_that_breaks_a_constraint_is_a_conflict(store: Store) -> None:
    """COPY (PostgreSQL) and executemany (SQLite) alike come out as the store's errors."""
    version = _add(store, _world([_node("a")]))
    table = WorldRegion.__table__
    assert isinstance(table, Table)
    row = ("r0", version, None, 0, "NL")  # r0 from this version is stored already
    with pytest.raises(ConflictError), store.write() as session:
        bulk_insert(session, table, [*RANGE_COLUMNS, "country"], [row])
    with store.write() as session:
        bulk_insert(
            session, table, [*RANGE_COLUMNS, "country"], [("r9", version, None, 2 * GAP, "DE")]
        )
    with store.read() as session:
        stored = world_by_version(session, version)
    assert stored is not None
    assert list(stored.world.catalog.regions) == ["r0", "r1", "r9"]


def _digest_by_json(world: World) -> str:
    """The digest as ``canonical_json`` alone computes it (the form before orjson)."""
    canonical: dict[str, object] = {
        "nodes": [
            [n.id, n.parent, n.kind, n.name, dict(sorted(n.attrs.items()))] for n in world.directory
        ],
        "services": [
            [s.id, list(s.operations), sorted(s.tags)] for s in world.catalog.services.values()
        ],
        "regions": [[r.id, r.country] for r in world.catalog.regions.values()],
    }
    return hashlib.sha256(canonical_json(canonical).encode()).hexdigest()


_VALUES = st.one_of(
    st.text(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False),
)


@given(
    st.lists(
        st.tuples(st.text(min_size=1), st.text(), st.dictionaries(st.text(), _VALUES, max_size=4)),
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_the_digest_is_the_canonical_json_digest_for_any_values(
    rows: list[tuple[str, str, dict[str, Any]]],
) -> None:
    nodes = [Node(i, None, "customer", name, MappingProxyType(attrs)) for i, name, attrs in rows]
    world = _world(nodes)
    assert world_digest(world) == _digest_by_json(world)


def test_rows_written_and_read_in_batches_are_all_there_in_order(store: Store) -> None:
    version = _add(store, _world([_node("a")], regions=0))
    table = WorldRegion.__table__
    assert isinstance(table, Table)
    rows = [(f"r{i}", version, None, (10 - i) * GAP, "NL") for i in range(10)]
    with store.write() as session:
        bulk_insert(session, table, [*RANGE_COLUMNS, "country"], rows, batch=3)
    with store.read() as session:
        read = rows_of(session, table, version, ("id",), batch=4)
        stored = world_by_version(session, version)
    assert read == [((10 - i) * GAP, f"r{i}") for i in reversed(range(10))]
    assert stored is not None
    assert list(stored.world.catalog.regions) == [f"r{i}" for i in reversed(range(10))]
