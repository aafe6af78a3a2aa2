"""Importing and exporting the world: whole world directories and cloud hierarchies.

An import stores a new world version only when something changed, and only if every
open restriction (proposed, or approved and not expired) still fits the new world:
removing a node that such a restriction names, or a service or region it uses, is
refused. A cloud-hierarchy import replaces only the trees it brings (the customers whose
roots it lists); the rest of the directory and the catalog stay as they were, unless a
catalog file is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from brightline import files
from brightline.access import Action, Principal, authorize
from brightline.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from brightline.policy import RESTRICTIONS_FILE, restriction_from_mapping
from brightline.service.lifecycle import RestrictionState
from brightline.service.records import world_record
from brightline.service.restrictions import approved_bodies, load_states
from brightline.service.world_diff import WorldDiff, diff_worlds
from brightline.store import (
    Store,
    StoredWorld,
    add_world_version,
    latest_world,
    world_digest,
)
from brightline.store.history import StoredWorldVersion
from brightline.store.outbox import append_record
from brightline.world import (
    CATALOG_FILE,
    DIRECTORY_FILE,
    Catalog,
    NodeRecord,
    World,
    build_directory,
    load_catalog,
    load_directory,
)
from brightline.world.export import write_world
from brightline.world.importers import (
    aws_organizations_records,
    azure_management_group_records,
)

EMPTY_CATALOG = Catalog(services=MappingProxyType({}), regions=MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class ImportResult:
    """``version`` is the new world version, None when nothing was written (a dry run,
    or no change)."""

    source: str
    diff: WorldDiff
    version: int | None
    dry_run: bool
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "version": self.version,
            "changed": not self.diff.empty,
            "counts": self.diff.counts(),
            "diff": self.diff.to_json(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class ExportResult:
    version: int
    paths: tuple[Path, ...]
    nodes: int
    restrictions: int


def current_world(store: Store, *, at: datetime | None = None) -> StoredWorld:
    """The newest world version (as of ``at``); NotFoundError if none was imported."""
    with store.read() as session:
        stored = latest_world(session, at=at)
    if stored is None:
        raise NotFoundError("no world in the store yet: run `brightline world import` first")
    return stored


def import_world(
    store: Store,
    directory: Path,
    *,
    actor: Principal,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Import a world directory: ``directory.jsonl`` replaces the whole directory;
    ``catalog.yaml``, when present, replaces the catalog (else the stored one stays).
    ``restrictions.yaml`` is not imported: restrictions go through proposal and approval.
    """
    if not directory.is_dir():
        raise InvalidInputError(Problem(str(directory), "not a directory"))
    problems: list[Problem] = []
    nodes = None
    catalog = None
    try:
        nodes = load_directory(directory / DIRECTORY_FILE)
    except InvalidInputError as exc:
        problems.extend(exc.problems)
    if (directory / CATALOG_FILE).exists():
        try:
            catalog = load_catalog(directory / CATALOG_FILE)
        except InvalidInputError as exc:
            problems.extend(exc.problems)
    if problems or nodes is None:
        raise InvalidInputError(problems)
    notes = []
    if catalog is None:
        notes.append(f"no {CATALOG_FILE}: the stored catalog is kept")
    if (directory / RESTRICTIONS_FILE).exists():
        notes.append(
            f"{RESTRICTIONS_FILE} is not imported: propose restrictions with `brightline restrict`"
        )
    records = [(i + 1, _record(n)) for i, n in enumerate(nodes)]
    return _import(
        store,
        source=str(directory),
        build=lambda previous: _whole(records, catalog, previous),
        actor=actor,
        dry_run=dry_run,
        now=now,
        notes=notes,
    )


def import_aws_organizations(
    store: Store,
    path: Path,
    *,
    catalog: Path | None = None,
    id_prefix: str = "",
    actor: Principal,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Import an AWS Organizations export (see ``docs/importers.md``)."""
    records = aws_organizations_records(_read(path), name=path.name, id_prefix=id_prefix)
    return _import_trees(store, path, records, catalog, actor=actor, dry_run=dry_run, now=now)


def import_azure_management_groups(
    store: Store,
    path: Path,
    *,
    catalog: Path | None = None,
    id_prefix: str = "",
    actor: Principal,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Import ``az account management-group show --expand --recurse`` JSON."""
    records = azure_management_group_records(_read(path), name=path.name, id_prefix=id_prefix)
    return _import_trees(store, path, records, catalog, actor=actor, dry_run=dry_run, now=now)


def export_world(store: Store, directory: Path, *, now: datetime | None = None) -> ExportResult:
    """Write the stored world as world files, plus ``restrictions.yaml`` holding the
    restrictions approved and not expired at ``now`` (so the directory works offline)."""
    at = now or datetime.now(UTC)
    with store.read() as session:
        stored = latest_world(session)
        if stored is None:
            raise NotFoundError("no world in the store yet: run `brightline world import` first")
        bodies = approved_bodies(load_states(session), at)
    paths = write_world(stored.world, directory)
    restrictions_path = directory / RESTRICTIONS_FILE
    files.write_file(
        restrictions_path,
        yaml.safe_dump([_restriction_yaml(b) for b in bodies], sort_keys=False, allow_unicode=True)
        if bodies
        else "[]\n",
    )
    return ExportResult(
        version=stored.version,
        paths=(*paths, restrictions_path),
        nodes=len(stored.world.directory),
        restrictions=len(bodies),
    )


# -- helpers ------------------------------------------------------------------------------


def _import_trees(
    store: Store,
    path: Path,
    records: list[NodeRecord],
    catalog_path: Path | None,
    *,
    actor: Principal,
    dry_run: bool,
    now: datetime | None,
) -> ImportResult:
    catalog = load_catalog(catalog_path) if catalog_path is not None else None
    notes = [] if catalog is not None else ["the stored catalog is kept"]
    return _import(
        store,
        source=str(path),
        build=lambda previous: _merge_trees(records, catalog, previous),
        actor=actor,
        dry_run=dry_run,
        now=now,
        notes=notes,
    )


def _import(
    store: Store,
    *,
    source: str,
    build: Callable[[World | None], World],
    actor: Principal,
    dry_run: bool,
    now: datetime | None,
    notes: Sequence[str],
) -> ImportResult:
    authorize(actor, Action.IMPORT_WORLD)
    at = now or datetime.now(UTC)
    with store.read() if dry_run else store.write() as session:
        previous = latest_world(session)
        world = build(previous.world if previous else None)
        diff = diff_worlds(previous.world if previous else None, world)
        if diff.empty and (previous is None or previous.digest == world_digest(world)):
            return ImportResult(source, diff, None, dry_run, (*notes, "nothing changed"))
        _check_open_restrictions(load_states(session), world, at)
        if dry_run:
            return ImportResult(source, diff, None, dry_run, tuple(notes))
        version = add_world_version(session, world, actor=actor.name, source=source, at=at)
        row = StoredWorldVersion(version, at, actor.name, source, world_digest(world))
        append_record(session, world_record(row, counts=diff.counts()))
        return ImportResult(source, diff, version, dry_run, tuple(notes))


def _check_open_restrictions(
    states: Mapping[str, RestrictionState], world: World, at: datetime
) -> None:
    problems: list[str] = []
    for rid, state in sorted(states.items()):
        if not state.is_open(at):
            continue
        for body in (state.body, state.pending_body):
            if body is None:
                continue
            try:
                restriction_from_mapping(dict(body), world)
            except InvalidInputError as exc:
                problems.extend(f"{rid} ({state.status(at)}): {p.message}" for p in exc.problems)
    if problems:
        raise ConflictError(
            "the import would break open restrictions (lift or reject them first): "
            + "; ".join(dict.fromkeys(problems))
        )


def _whole(
    records: list[tuple[int, NodeRecord]], catalog: Catalog | None, previous: World | None
) -> World:
    directory = build_directory(records)
    return World(directory=directory, catalog=_catalog(catalog, previous))


def _merge_trees(
    records: list[NodeRecord], catalog: Catalog | None, previous: World | None
) -> World:
    imported = {r.id for r in records}
    kept: list[NodeRecord] = []
    if previous is not None:
        old = previous.directory
        replaced = {r.id for r in records if r.parent is None} | (set(old.roots()) & imported)
        kept = [
            _record(node)
            for node in old
            if node.id not in imported and old.root(node.id) not in replaced
        ]
    numbered = [(i + 1, r) for i, r in enumerate([*kept, *records])]
    return World(directory=build_directory(numbered), catalog=_catalog(catalog, previous))


def _catalog(catalog: Catalog | None, previous: World | None) -> Catalog:
    if catalog is not None:
        return catalog
    return previous.catalog if previous is not None else EMPTY_CATALOG


def _record(node: Any) -> NodeRecord:
    return NodeRecord(
        id=node.id, parent=node.parent, kind=node.kind, name=node.name, attrs=dict(node.attrs)
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read: {exc}")) from exc


def _restriction_yaml(body: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(body).items() if v not in (None, [], {})}
