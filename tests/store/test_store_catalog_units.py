"""Catalog units in the store: kept with each world version (migration 0009), and the
digest of a world declaring none is what it was before catalogs could declare units."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command

from brightline.errors import ConflictError
from brightline.store import Store, add_world_version, world_by_version, world_digest
from brightline.store.migrate import alembic_config
from brightline.store.outbox import canonical_json
from brightline.world import World, load_world

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
T = datetime(2025, 10, 1, tzinfo=UTC)


def _without_units(tmp_path: Path) -> World:
    """The example world with every ``units:`` taken out of its catalog."""
    (tmp_path / "directory.jsonl").write_text((EXAMPLE / "directory.jsonl").read_text())
    text = (EXAMPLE / "catalog.yaml").read_text().replace(",\n     units:", ", units:")
    bare = [
        line.split(", units:")[0] + ("}" if ", units:" in line else "")
        for line in text.splitlines()
        if not line.startswith("units:")
    ]
    (tmp_path / "catalog.yaml").write_text("\n".join(bare) + "\n")
    world = load_world(tmp_path)
    assert not world.catalog.declares_units
    return world


def _digest_before_units(world: World) -> str:
    """The digest as computed before catalogs could declare units."""
    canonical = {
        "nodes": [
            [n.id, n.parent, n.kind, n.name, dict(sorted(n.attrs.items()))] for n in world.directory
        ],
        "services": [
            [s.id, list(s.operations), sorted(s.tags)] for s in world.catalog.services.values()
        ],
        "regions": [[r.id, r.country] for r in world.catalog.regions.values()],
    }
    return hashlib.sha256(canonical_json(canonical).encode()).hexdigest()


def test_a_world_declaring_no_units_keeps_its_digest(tmp_path: Path) -> None:
    world = _without_units(tmp_path)
    assert world_digest(world) == _digest_before_units(world)
    declared = load_world(EXAMPLE)
    assert world_digest(declared) != _digest_before_units(declared)


def test_a_stored_world_keeps_its_units_and_digest(store: Store, tmp_path: Path) -> None:
    declared, bare = load_world(EXAMPLE), _without_units(tmp_path)
    with store.write() as session:
        versions = [
            add_world_version(session, w, actor="setup", source="test", at=T)
            for w in (declared, bare)
        ]
    with store.read() as session:
        stored = [world_by_version(session, v) for v in versions]
    for world, version in zip((declared, bare), stored, strict=True):
        assert version is not None
        assert version.world.catalog == world.catalog
        assert version.digest == world_digest(version.world) == world_digest(world)


def test_downgrade_refuses_a_store_whose_worlds_declare_units(store: Store) -> None:
    with store.write() as session:
        add_world_version(session, load_world(EXAMPLE), actor="setup", source="test", at=T)
    with store.engine.connect() as connection:
        connection.execution_options(brightline_write=True)
        with pytest.raises(ConflictError, match="declare catalog units"), connection.begin():
            command.downgrade(alembic_config(connection, store.secrets), "0008_api_key_events")


def test_downgrade_and_upgrade_again_when_no_world_declares_units(
    store: Store, tmp_path: Path
) -> None:
    bare = _without_units(tmp_path)
    with store.write() as session:
        version = add_world_version(session, bare, actor="setup", source="test", at=T)
    with store.engine.connect() as connection:
        connection.execution_options(brightline_write=True)
        with connection.begin():
            config = alembic_config(connection, store.secrets)
            command.downgrade(config, "0008_api_key_events")
            command.upgrade(config, "head")
    with store.read() as session:
        stored = world_by_version(session, version)
    assert stored is not None
    assert stored.digest == world_digest(stored.world) == world_digest(bare)
