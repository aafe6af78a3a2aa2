"""World versions: each import stores the whole directory and catalog; none is edited later."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brightline.store.models import WorldNode, WorldRegion, WorldService, WorldVersion
from brightline.store.outbox import canonical_json
from brightline.world import Catalog, NodeRecord, Region, Service, World, build_directory


@dataclass(frozen=True, slots=True)
class StoredWorld:
    version: int
    created_at: datetime
    actor: str
    source: str
    digest: str
    world: World


def world_digest(world: World) -> str:
    """SHA-256 of the world's canonical form (node order and catalog order included)."""
    return hashlib.sha256(canonical_json(_canonical(world)).encode()).hexdigest()


def _canonical(world: World) -> dict[str, object]:
    # Units appear only where declared, so that a world declaring none keeps the digest
    # it had before catalogs could declare units.
    catalog = world.catalog
    canonical: dict[str, object] = {
        "nodes": [
            [n.id, n.parent, n.kind, n.name, dict(sorted(n.attrs.items()))] for n in world.directory
        ],
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
    session: Session, world: World, *, actor: str, source: str, at: datetime
) -> int:
    version = WorldVersion(
        created_at=at,
        actor=actor,
        source=source,
        digest=world_digest(world),
        units=_units_json(world.catalog.units),
    )
    session.add(version)
    session.flush()
    session.add_all(
        WorldNode(
            version_id=version.id,
            id=node.id,
            position=i,
            parent=node.parent,
            kind=node.kind,
            name=node.name,
            attrs=canonical_json(dict(node.attrs)),
        )
        for i, node in enumerate(world.directory)
    )
    session.add_all(
        WorldService(
            version_id=version.id,
            id=service.id,
            position=i,
            operations=json.dumps(list(service.operations)),
            tags=json.dumps(sorted(service.tags)),
            units=_units_json(service.units),
        )
        for i, service in enumerate(world.catalog.services.values())
    )
    session.add_all(
        WorldRegion(version_id=version.id, id=region.id, position=i, country=region.country)
        for i, region in enumerate(world.catalog.regions.values())
    )
    session.flush()
    return version.id


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
    nodes = session.scalars(
        select(WorldNode).where(WorldNode.version_id == version.id).order_by(WorldNode.position)
    )
    records = [
        (
            row.position + 1,
            NodeRecord(
                id=row.id,
                parent=row.parent,
                kind=row.kind,
                name=row.name,
                attrs=json.loads(row.attrs),
            ),
        )
        for row in nodes
    ]
    directory = build_directory(records, file=f"store world version {version.id}")
    services = {
        row.id: Service(
            id=row.id,
            operations=tuple(json.loads(row.operations)),
            tags=frozenset(json.loads(row.tags)),
            units=_units_of(row.units),
        )
        for row in session.scalars(
            select(WorldService)
            .where(WorldService.version_id == version.id)
            .order_by(WorldService.position)
        )
    }
    regions = {
        row.id: Region(id=row.id, country=row.country)
        for row in session.scalars(
            select(WorldRegion)
            .where(WorldRegion.version_id == version.id)
            .order_by(WorldRegion.position)
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
    )
