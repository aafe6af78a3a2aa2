"""Importing and exporting the world: whole world directories and cloud hierarchies.

An import stores a new world version only when something changed, and only if every
open restriction (proposed, or approved and not expired) still fits the new world:
removing a node that such a restriction names, or a service or region it uses, is
refused. An import that would remove more than ``removal_limit`` (default 10%) of a
customer's nodes is refused too unless ``allow_removals`` is given: a partial export
(an Azure group without ``--expand --recurse``, a missing page) must not delete a
customer's tree. Every way in (CLI, demo, bootstrap) imports through :func:`_import`, so
both guards hold for all of them.

A cloud-hierarchy import replaces only the trees it brings (the customers whose roots it
lists); the rest of the directory and the catalog stay as they were, unless a catalog
file is given. Since cloud exports carry no country or sector, a stored node keeps its
``country`` and ``sector`` when the import does not set them (``--attributes``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

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
    world_version_row,
)
from brightline.store.outbox import append_record
from brightline.world import (
    CATALOG_FILE,
    DIRECTORY_FILE,
    Catalog,
    NodeRecord,
    World,
    apply_attribute_overlay,
    build_directory,
    load_catalog,
    load_directory,
    read_attribute_overlay,
)
from brightline.world.export import write_world
from brightline.world.importers import (
    Hierarchy,
    SourceText,
    read_aws_organizations,
    read_azure_management_groups,
    read_gcp_resource_manager,
)
from brightline.world.sources import bulk_allocation

EMPTY_CATALOG = Catalog(services=MappingProxyType({}), regions=MappingProxyType({}))
#: The share of a customer's nodes an import may remove without ``allow_removals``.
DEFAULT_REMOVAL_LIMIT: Final = 0.10
#: Attributes only Brightline sets (cloud exports never carry them).
_KEPT_ATTRS: Final = ("country", "sector")


class CloudHierarchy(StrEnum):
    """The cloud hierarchies ``import_hierarchy`` reads (see ``docs/importers.md``)."""

    AWS_ORGANIZATIONS = "aws-organizations"
    AZURE_MANAGEMENT_GROUPS = "azure-management-groups"
    GCP_RESOURCE_MANAGER = "gcp-resource-manager"


_READERS: Final[dict[CloudHierarchy, Callable[..., Hierarchy]]] = {
    CloudHierarchy.AWS_ORGANIZATIONS: read_aws_organizations,
    CloudHierarchy.AZURE_MANAGEMENT_GROUPS: read_azure_management_groups,
    CloudHierarchy.GCP_RESOURCE_MANAGER: read_gcp_resource_manager,
}
_INPUT_SUFFIXES: Final = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class RemovalGuard:
    """How many of a customer's nodes an import may remove: more than ``limit`` (a share,
    0–1) of any customer's nodes is refused unless ``allow_removals_unsafe``."""

    limit: float = DEFAULT_REMOVAL_LIMIT
    allow_removals_unsafe: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= 1:
            raise InvalidInputError(Problem("removal limit", "must be between 0% and 100%"))


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
    attributes: Path | None = None,
    guard: RemovalGuard = RemovalGuard(),
) -> ImportResult:
    """Import a world directory: ``directory.jsonl`` replaces the whole directory;
    ``catalog.yaml``, when present, replaces the catalog (else the stored one stays).
    ``restrictions.yaml`` is not imported: restrictions go through proposal and approval.
    ``attributes`` is an overlay file (names, country, sector by node id).
    """
    if not directory.is_dir():
        raise InvalidInputError(Problem(str(directory), "not a directory"))
    with bulk_allocation():  # see _import
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
                f"{RESTRICTIONS_FILE} is not imported: "
                "propose restrictions with `brightline restrict`"
            )
        if attributes is not None:
            overlaid = apply_attribute_overlay(
                [_record(n) for n in nodes], read_attribute_overlay(attributes)
            )
            nodes = build_directory(enumerate(overlaid, start=1))
        # The directory as loaded (checked, columnar): no node is built to import it.
        loaded = nodes
        return _import(
            store,
            source=str(directory),
            build=lambda previous: World(directory=loaded, catalog=_catalog(catalog, previous)),
            actor=actor,
            dry_run=dry_run,
            now=now,
            notes=notes,
            guard=guard,
        )


def import_hierarchy(
    store: Store,
    kind: CloudHierarchy,
    paths: Sequence[Path],
    *,
    actor: Principal,
    catalog: Path | None = None,
    id_prefix: str = "",
    attributes: Path | None = None,
    guard: RemovalGuard = RemovalGuard(),
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Import a cloud hierarchy from its CLI outputs (``paths``: files, or directories
    whose ``.json``/``.jsonl`` files are read in name order); see ``docs/importers.md``.

    Only the customers the input brings are replaced. ``attributes`` is an overlay file
    (names, country, sector by node id). Refused with InvalidInputError naming the file
    and JSON path of every problem; ConflictError when open restrictions or the removal
    guard stand in the way. Nothing is written on any refusal.
    """
    sources = [SourceText(path.name, _read(path)) for path in _input_files(paths)]
    hierarchy = _READERS[kind](sources, id_prefix=id_prefix)
    records = list(hierarchy.records)
    if attributes is not None:
        records = apply_attribute_overlay(records, read_attribute_overlay(attributes))
    catalog_found = load_catalog(catalog) if catalog is not None else None
    notes = [*hierarchy.notes]
    if catalog_found is None:
        notes.append("the stored catalog is kept")
    return _import(
        store,
        source=", ".join(str(p) for p in paths),
        build=lambda previous: _merge_trees(records, catalog_found, previous, hierarchy),
        actor=actor,
        dry_run=dry_run,
        now=now,
        notes=notes,
        guard=guard,
        describe=_unset_customers,
    )


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


def _import(
    store: Store,
    *,
    source: str,
    build: Callable[[World | None], World],
    actor: Principal,
    dry_run: bool,
    now: datetime | None,
    notes: Sequence[str],
    guard: RemovalGuard,
    describe: Callable[[World], list[str]] | None = None,
) -> ImportResult:
    authorize(actor, Action.IMPORT_WORLD)
    at = now or datetime.now(UTC)
    # Millions of objects (rows, columns, the diff) and no cycle among them: the cyclic
    # collector, paused, runs at most once afterwards instead of walking them again and
    # again (each loader below pauses it too, and would otherwise let it run in between).
    with bulk_allocation(), store.read() if dry_run else store.write() as session:
        previous = latest_world(session)
        world = build(previous.world if previous else None)
        diff = diff_worlds(previous.world if previous else None, world)
        if diff.empty and (previous is None or previous.digest == world_digest(world)):
            return ImportResult(source, diff, None, dry_run, (*notes, "nothing changed"))
        _check_open_restrictions(load_states(session), world, at)
        notes = [*notes, *(describe(world) if describe is not None else [])]
        over = _removals_over_limit(previous.world if previous else None, diff, guard.limit)
        if over and not guard.allow_removals_unsafe:
            message = (
                "the import would remove "
                + "; ".join(over)
                + f" — more than the limit of {guard.limit:.0%} of a customer's nodes. Check "
                "that the input is complete (an Azure group needs --expand --recurse, AWS "
                "and Google Cloud outputs every page and parent); if the removals are meant, "
                "import again with --allow-removals"
            )
            if not dry_run:
                raise ConflictError(message + "; nothing was changed")
            notes.append("refused without --allow-removals: " + message)
        elif over:
            notes.append("removals allowed (--allow-removals): " + "; ".join(over))
        if dry_run:
            return ImportResult(source, diff, None, dry_run, tuple(notes))
        version = add_world_version(
            session, world, actor=actor.name, source=source, at=at, previous=previous
        )
        row = world_version_row(session, version)
        assert row is not None  # just added, in this transaction
        append_record(session, world_record(row, counts=diff.counts()))
        return ImportResult(source, diff, version, dry_run, tuple(notes))


def _removals_over_limit(previous: World | None, diff: WorldDiff, limit: float) -> list[str]:
    """``"8 of 9 nodes (89%) of customer 'contoso'"`` for each customer the diff removes
    more than ``limit`` of (a share of its nodes in ``previous``)."""
    if previous is None or not diff.removed_nodes:
        return []
    old = previous.directory
    removed: dict[str, int] = {}
    for node in diff.removed_nodes:
        customer = old.root(node.id)
        removed[customer] = removed.get(customer, 0) + 1
    sizes: dict[str, int] = {}
    for node in old:
        customer = old.root(node.id)
        if customer in removed:
            sizes[customer] = sizes.get(customer, 0) + 1
    return [
        f"{count} of {sizes[customer]} nodes ({count / sizes[customer]:.0%}) of customer "
        f"{customer!r}"
        for customer, count in sorted(removed.items())
        if count / sizes[customer] > limit
    ]


def _unset_customers(world: World) -> list[str]:
    missing = [
        root
        for root in world.directory.roots()
        if not {"country", "sector"} <= set(world.directory[root].attrs)
        and world.directory[root].attrs.get("provider") is not None
    ]
    if not missing:
        return []
    return [
        "customers without country or sector (set them with --attributes FILE): "
        + ", ".join(missing)
    ]


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


def _merge_trees(
    records: list[NodeRecord],
    catalog: Catalog | None,
    previous: World | None,
    hierarchy: Hierarchy,
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
        records = [_keep_attrs(r, old[r.id].attrs) if r.id in old else r for r in records]
    merged = [*kept, *records]
    try:
        directory = build_directory(enumerate(merged, start=1), file="stored directory")
    except InvalidInputError as exc:
        # The importer checked its own trees; what is left is a clash with stored nodes.
        # Name the imported node's place in the input, not a line of a merged list.
        where = {i: hierarchy.where.get(r.id, "stored directory") for i, r in enumerate(merged, 1)}
        raise InvalidInputError([_relocate(problem, where) for problem in exc.problems]) from exc
    return World(directory=directory, catalog=_catalog(catalog, previous))


def _keep_attrs(record: NodeRecord, stored: Mapping[str, Any]) -> NodeRecord:
    missing = {k: stored[k] for k in _KEPT_ATTRS if k in stored and k not in record.attrs}
    if not missing:
        return record
    return record.model_copy(update={"attrs": {**record.attrs, **missing}})


def _relocate(problem: Problem, where: Mapping[int, str]) -> Problem:
    line = problem.where.removeprefix("stored directory:")
    if not line.isdigit():
        return problem
    return Problem(where.get(int(line), problem.where), problem.message)


def _input_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the ``.json``/``.jsonl`` files of the directories named."""
    if not paths:
        raise InvalidInputError(Problem("", "no input files"))
    files_found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _INPUT_SUFFIXES
            )
            if not inside:
                raise InvalidInputError(Problem(str(path), "holds no .json or .jsonl file"))
            files_found.extend(inside)
        else:
            files_found.append(path)
    return files_found


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
