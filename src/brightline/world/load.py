"""Loading and validating a world directory (``directory.jsonl`` and ``catalog.yaml``).

Every problem found is reported, not just the first, each naming its file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from brightline.errors import InvalidInputError, Problem
from brightline.world.model import (
    ID_PATTERN,
    SERVICE_ID_PATTERN,
    SERVICE_TAGS,
    UNIT_PATTERN,
    AttrValue,
    Catalog,
    Directory,
    Node,
    Region,
    Service,
    World,
)
from brightline.world.sources import LocatedYaml, read_json_lines, read_yaml, validate_model

_T = TypeVar("_T")

DIRECTORY_FILE = "directory.jsonl"
CATALOG_FILE = "catalog.yaml"

Id = Annotated[StrictStr, Field(pattern=rf"^{ID_PATTERN.pattern}$")]
ServiceId = Annotated[StrictStr, Field(pattern=rf"^{SERVICE_ID_PATTERN.pattern}$")]
CountryCode = Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$")]


def _unit_name(value: str) -> str:
    if len(value) > 64 or UNIT_PATTERN.fullmatch(value) is None:
        raise ValueError(
            "a unit is 1–64 characters: letters, digits, spaces and ._/-, "
            "with a letter or digit first and last"
        )
    return value


Unit = Annotated[StrictStr, AfterValidator(_unit_name)]
#: The most units one list of the catalog may declare.
MAX_UNITS = 1000
Units = Annotated[list[Unit], Field(max_length=MAX_UNITS)]


class NodeRecord(BaseModel):
    """One line of ``directory.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    parent: Id | None = None
    kind: Id
    name: StrictStr = ""
    attrs: dict[StrictStr, AttrValue] = Field(default_factory=dict)

    def to_node(self) -> Node:
        return Node(
            id=self.id,
            parent=self.parent,
            kind=self.kind,
            name=self.name,
            attrs=MappingProxyType(dict(sorted(self.attrs.items()))),
        )


class ServiceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ServiceId
    operations: Annotated[list[ServiceId], Field(min_length=1)]
    tags: list[StrictStr] = Field(default_factory=list)
    units: Units = Field(default_factory=list)


class RegionRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    country: CountryCode


class CatalogRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    services: list[ServiceRecord]
    regions: list[RegionRecord]
    units: Units = Field(default_factory=list)


def load_world(directory: Path) -> World:
    """Load ``directory.jsonl`` and ``catalog.yaml`` from a world directory.

    Raises InvalidInputError listing every problem in both files.
    """
    problems: list[Problem] = []
    nodes = _collect(problems, lambda: load_directory(directory / DIRECTORY_FILE))
    catalog = _collect(problems, lambda: load_catalog(directory / CATALOG_FILE))
    if problems or nodes is None or catalog is None:
        raise InvalidInputError(problems)
    return World(directory=nodes, catalog=catalog)


def _collect(problems: list[Problem], load: Callable[[], _T]) -> _T | None:
    try:
        return load()
    except InvalidInputError as exc:
        problems.extend(exc.problems)
        return None


def load_directory(path: Path) -> Directory:
    if not path.is_file():
        raise InvalidInputError(Problem(str(path), "file not found"))
    records: list[tuple[int, NodeRecord]] = []
    problems: list[Problem] = []
    try:
        for number, value in read_json_lines(path):
            record = validate_model(
                NodeRecord, value, lambda loc, n=number: _line_where(path.name, n, loc), problems
            )
            if record is not None:
                records.append((number, record))
    except InvalidInputError as exc:
        problems[:0] = exc.problems
    return build_directory(records, file=path.name, problems=problems)


def _line_where(file: str, line: int, loc: tuple[str | int, ...]) -> str:
    field = ".".join(str(p) for p in loc)
    return f"{file}:{line}: {field}" if field else f"{file}:{line}"


def build_directory(
    records: Iterable[tuple[int, NodeRecord]],
    *,
    file: str = DIRECTORY_FILE,
    problems: list[Problem] | None = None,
) -> Directory:
    """Check the tree's structure: unique ids, known parents, no cycles, a root for every node."""
    problems = [] if problems is None else problems
    nodes: dict[str, Node] = {}
    line_of: dict[str, int] = {}
    for number, record in records:
        if record.id in nodes:
            problems.append(
                Problem(
                    f"{file}:{number}",
                    f"duplicate node id {record.id!r} (first defined on line {line_of[record.id]})",
                )
            )
            continue
        nodes[record.id] = record.to_node()
        line_of[record.id] = number
    problems.extend(_structure_problems(nodes, line_of, file))
    if problems:
        raise InvalidInputError(problems)
    return Directory(nodes)


def _structure_problems(
    nodes: dict[str, Node], line_of: dict[str, int], file: str
) -> list[Problem]:
    problems: list[Problem] = []
    # 0 = unvisited, 1 = reaches a root, 2 = broken (unknown parent or cycle on its path)
    state: dict[str, int] = {}
    for start in nodes:
        if start in state:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        verdict = 1
        blame = ""
        while current is not None:
            if current in state:
                verdict = state[current]
                blame = current
                break
            if current in on_path:
                cycle = [*path[path.index(current) :], current]
                for member in cycle[:-1]:
                    problems.append(
                        Problem(
                            f"{file}:{line_of[member]}",
                            f"node {member!r} is in a cycle: {' → '.join(cycle)}",
                        )
                    )
                    state[member] = 2
                verdict, blame = 2, current
                break
            path.append(current)
            on_path.add(current)
            parent = nodes[current].parent
            if parent is not None and parent not in nodes:
                problems.append(
                    Problem(
                        f"{file}:{line_of[current]}",
                        f"node {current!r} has unknown parent {parent!r}",
                    )
                )
                state[current] = 2
                verdict, blame = 2, current
                break
            current = parent
        for member in path:
            if member in state:
                continue
            state[member] = verdict
            if verdict == 2:
                problems.append(
                    Problem(
                        f"{file}:{line_of[member]}",
                        f"node {member!r} has no path to a root (its ancestor {blame!r} is broken)",
                    )
                )
    return problems


def load_catalog(path: Path) -> Catalog:
    if not path.is_file():
        raise InvalidInputError(Problem(str(path), "file not found"))
    return build_catalog(read_yaml(path))


def build_catalog(source: LocatedYaml) -> Catalog:
    problems: list[Problem] = []
    record = validate_model(CatalogRecord, source.data, source.where, problems)
    if record is None:
        raise InvalidInputError(problems)
    common = _units(record.units, ("units",), source, problems, already={})
    services: dict[str, Service] = {}
    for i, service in enumerate(record.services):
        if service.id in services:
            problems.append(
                Problem(source.where(("services", i, "id")), f"duplicate service {service.id!r}")
            )
            continue
        seen: set[str] = set()
        for j, operation in enumerate(service.operations):
            if operation in seen:
                problems.append(
                    Problem(
                        source.where(("services", i, "operations", j)),
                        f"duplicate operation {operation!r} in service {service.id!r}",
                    )
                )
            seen.add(operation)
        for j, tag in enumerate(service.tags):
            if tag not in SERVICE_TAGS:
                problems.append(
                    Problem(
                        source.where(("services", i, "tags", j)),
                        f"unknown tag {tag!r}; tags are: {', '.join(sorted(SERVICE_TAGS))}",
                    )
                )
        own = _units(service.units, ("services", i, "units"), source, problems, already=common)
        services[service.id] = Service(
            id=service.id,
            operations=tuple(dict.fromkeys(service.operations)),
            tags=frozenset(service.tags),
            units=tuple(own),
        )
    regions: dict[str, Region] = {}
    for i, region in enumerate(record.regions):
        if region.id in regions:
            problems.append(
                Problem(source.where(("regions", i, "id")), f"duplicate region {region.id!r}")
            )
            continue
        regions[region.id] = Region(id=region.id, country=region.country)
    if problems:
        raise InvalidInputError(problems)
    return Catalog(
        services=MappingProxyType(services),
        regions=MappingProxyType(regions),
        units=tuple(common),
    )


def _units(
    units: list[str],
    at: tuple[str | int, ...],
    source: LocatedYaml,
    problems: list[Problem],
    *,
    already: dict[str, int],
) -> dict[str, int]:
    """The units of one list, each once, with their positions; a unit listed twice, or
    declared for every service (``already``) and again for one, is a problem."""
    seen: dict[str, int] = {}
    for j, unit in enumerate(units):
        if unit in already:
            problems.append(
                Problem(
                    source.where((*at, j)),
                    f"unit {unit!r} is already declared for every service "
                    f"(at {source.where(('units', already[unit]))})",
                )
            )
        elif unit in seen:
            problems.append(
                Problem(
                    source.where((*at, j)),
                    f"duplicate unit {unit!r} (first listed at {source.where((*at, seen[unit]))})",
                )
            )
        else:
            seen[unit] = j
    return seen
