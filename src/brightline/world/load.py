"""Loading and validating a world directory (``directory.jsonl`` and ``catalog.yaml``).

Every problem found is reported, not just the first, each naming its file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from itertools import chain, compress, repeat
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from brightline.errors import InvalidInputError, Problem
from brightline.world.model import (
    ID_PATTERN,
    SERVICE_ID_PATTERN,
    SERVICE_TAGS,
    UNIT_PATTERN,
    AttrValue,
    BrokenTreeError,
    Catalog,
    Directory,
    Node,
    Region,
    Service,
    World,
)
from brightline.world.sources import (
    NOT_A_VALUE,
    JsonLines,
    LocatedYaml,
    NotInBulkError,
    bulk_allocation,
    read_json_lines,
    read_json_lines_bulk,
    read_yaml,
    validate_model,
)

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
    """Read and validate ``directory.jsonl``.

    The file is parsed by orjson and its values checked column by column (types, id
    patterns, fields); only the lines that fail any of that go through the precise
    path — ``json.loads`` and :class:`NodeRecord`, line by line — which names each
    problem exactly as :func:`load_directory_precisely` does, and so does the check of
    the tree (duplicates, unknown parents, cycles) when the columns are not a forest.
    """
    if not path.is_file():
        raise InvalidInputError(Problem(str(path), "file not found"))
    with bulk_allocation():
        try:
            rows, problems = _rows_of_chunks(read_json_lines_bulk(path))
            positions = _positions_of(rows)
        except NotInBulkError:
            return load_directory_precisely(path)
        return _build_rows(rows, path.name, problems, positions)


def load_directory_precisely(path: Path) -> Directory:
    """:func:`load_directory` line by line with ``json.loads`` and :class:`NodeRecord`:
    the reference for every problem the fast path reports."""
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


@dataclass(slots=True)
class _Rows:
    """Valid node records as columns, in line order."""

    numbers: list[int] = dataclass_field(default_factory=list)
    ids: list[str] = dataclass_field(default_factory=list)
    parents: list[str | None] = dataclass_field(default_factory=list)
    kinds: list[str] = dataclass_field(default_factory=list)
    names: list[str] = dataclass_field(default_factory=list)
    #: By position, only for records with attributes: sorted by name.
    attrs: dict[int, Mapping[str, AttrValue]] = dataclass_field(default_factory=dict)

    def extend(self, other: _Rows) -> None:
        offset = len(self.ids)
        self.attrs.update((offset + i, a) for i, a in other.attrs.items())
        self.numbers.extend(other.numbers)
        self.ids.extend(other.ids)
        self.parents.extend(other.parents)
        self.kinds.extend(other.kinds)
        self.names.extend(other.names)

    def append(self, number: int, record: NodeRecord) -> None:
        if record.attrs:
            self.attrs[len(self.ids)] = MappingProxyType(dict(sorted(record.attrs.items())))
        self.numbers.append(number)
        self.ids.append(record.id)
        self.parents.append(record.parent)
        self.kinds.append(record.kind)
        self.names.append(record.name)


_NODE_FIELDS: Final = frozenset(NodeRecord.model_fields)
#: Attribute types taken as orjson parsed them. Not float: orjson reads an integer too
#: big for 64 bits as a float, where ``json.loads`` keeps it exact; a node with a float
#: attribute is parsed again the precise way.
_ATTR_TYPES: Final = frozenset({str, int, bool})
_NOT_A_NODE: Final[dict[str, Any]] = {}


#: Every byte an id may hold (ASCII all), to delete: what is left of valid ids joined by
#: newlines is the newlines. ``_ID_LENGTHS`` are ID_PATTERN's ``{1,128}``.
_ID_BYTES: Final = bytes(b for b in range(128) if ID_PATTERN.fullmatch(chr(b)))
_ID_LENGTHS: Final = range(1, 129)


def _all_ids(column: list[Any]) -> bool:
    """True when every value is a string that is a valid id: 1–128 characters, each one
    of ``ID_PATTERN``'s, checked over the whole column at once."""
    if not column:
        return True
    if set(map(type, column)) != {str}:
        return False
    lengths = list(map(len, column))
    if min(lengths) < _ID_LENGTHS.start or max(lengths) >= _ID_LENGTHS.stop:
        return False
    try:
        joined = "\n".join(column).encode("ascii")
    except UnicodeEncodeError:
        return False
    return len(joined.translate(None, _ID_BYTES)) == len(column) - 1


def _column(values: list[dict[str, Any]], key: str, default: Any) -> list[Any]:
    """``[v.get(key, default) for v in values]``, looped in C."""
    return list(map(dict.get, values, repeat(key), repeat(default)))


def _distinct(column: list[Any]) -> list[Any]:
    """The column's values, each once; the whole column when a value is not hashable (it
    then fails the check it is for, value by value)."""
    try:
        return list(set(column))
    except TypeError:
        return column


def _is_id(value: Any) -> bool:
    return type(value) is str and ID_PATTERN.fullmatch(value) is not None


def _known_fields(keys: tuple[str, ...]) -> bool:
    return "id" in keys and "kind" in keys and _NODE_FIELDS.issuperset(keys)


def _attrs_ok(attrs: Any) -> bool:
    return type(attrs) is dict and all(type(v) in _ATTR_TYPES for v in attrs.values())


def _screen(values: list[Any]) -> tuple[_Rows, list[int]]:
    """The values that checks over whole columns show to be valid node records (as
    :class:`NodeRecord` would validate them), and the positions of the others.

    Each check runs on a whole column at once; only when it fails is the column gone
    through value by value to find which values failed it. Those are not judged here:
    the caller validates them again, one by one, with the reference.
    """
    failed: set[int] = set()
    if set(map(type, values)) != {dict}:
        failed.update(i for i, v in enumerate(values) if type(v) is not dict)
        values = [_NOT_A_NODE if i in failed else v for i, v in enumerate(values)]
    # Every key a known field (``id`` and ``kind`` missing show as ``None`` below).
    if not _NODE_FIELDS.issuperset(chain.from_iterable(values)):
        failed.update(i for i, v in enumerate(values) if not _known_fields(tuple(v)))
    ids = _column(values, "id", None)
    if not _all_ids(ids):
        failed.update(i for i, x in enumerate(ids) if not _is_id(x))
    kinds = _column(values, "kind", None)
    if not _all_ids(_distinct(kinds)):  # a few kinds: each checked once
        failed.update(i for i, x in enumerate(kinds) if not _is_id(x))
    # Parents are checked once every id is known (``_positions_of``): one that is a node
    # is an id; only the others are looked at.
    parents = _column(values, "parent", None)
    names = _column(values, "name", "")
    if set(map(type, names)) - {str}:
        failed.update(i for i, x in enumerate(names) if type(x) is not str)
    attrs = _column(values, "attrs", _NOT_A_NODE)  # an empty dict: no attributes
    if set(map(type, attrs)) != {dict}:
        failed.update(i for i, a in enumerate(attrs) if type(a) is not dict)
    with_attrs = list(compress(range(len(attrs)), attrs))  # C's loop: truth of each
    if failed:
        with_attrs = [i for i in with_attrs if i not in failed]
    failed.update(i for i in with_attrs if not _attrs_ok(attrs[i]))
    keep = range(len(values)) if not failed else [i for i in range(len(values)) if i not in failed]
    rows = _Rows(
        ids=ids if not failed else [ids[i] for i in keep],
        parents=parents if not failed else [parents[i] for i in keep],
        kinds=kinds if not failed else [kinds[i] for i in keep],
        names=names if not failed else [names[i] for i in keep],
    )
    at = {p: i for i, p in enumerate(keep)} if failed else None
    for i in with_attrs:
        if i not in failed:
            rows.attrs[i if at is None else at[i]] = MappingProxyType(
                dict(sorted(attrs[i].items()))
            )
    return rows, sorted(failed)


def _rows_of_chunks(chunks: Iterable[JsonLines]) -> tuple[_Rows, list[Problem]]:
    """The valid records of every chunk as columns, and the problems of the others:
    lines that are not values first, then records that are not nodes, each in line
    order (as :func:`load_directory_precisely` lists them)."""
    rows = _Rows()
    kinds: dict[str, str] = {}  # each kind held once
    line_problems: list[Problem] = []
    record_problems: list[Problem] = []
    for chunk in chunks:
        found, failed = _screen(chunk.values)
        line_found: list[tuple[int, Problem]] = list(chunk.problems)
        if failed:
            found = _redone(chunk, found, failed, line_found, record_problems)
        else:
            found.numbers = chunk.numbers
        line_problems.extend(p for _, p in sorted(line_found, key=lambda item: item[0]))
        found.kinds = list(map(kinds.setdefault, found.kinds, found.kinds))
        rows.extend(found)
    return rows, [*line_problems, *record_problems]


def _redone(
    chunk: JsonLines,
    passed: _Rows,
    failed: list[int],
    line_problems: list[tuple[int, Problem]],
    record_problems: list[Problem],
) -> _Rows:
    """The values at ``failed`` positions again, one line at a time the precise way,
    merged in line order with the rows that ``passed``; problems appended."""
    name = chunk.name
    failing = set(failed)
    passed.numbers = [n for i, n in enumerate(chunk.numbers) if i not in failing]
    redone = _Rows()
    for i in failed:
        number = chunk.numbers[i]
        found: list[Problem] = []
        value = chunk.recheck(number, found)
        line_problems.extend((number, p) for p in found)
        if value is NOT_A_VALUE:
            continue
        record = validate_model(
            NodeRecord, value, lambda loc, n=number: _line_where(name, n, loc), record_problems
        )
        if record is not None:
            redone.append(number, record)
    return _merged(passed, redone)


def _merged(first: _Rows, second: _Rows) -> _Rows:
    """The rows of both, in line order."""
    order = sorted(
        [(n, 0, i) for i, n in enumerate(first.numbers)]
        + [(n, 1, i) for i, n in enumerate(second.numbers)]
    )
    out = _Rows()
    for _, which, i in order:
        rows = first if which == 0 else second
        if i in rows.attrs:
            out.attrs[len(out.ids)] = rows.attrs[i]
        out.numbers.append(rows.numbers[i])
        out.ids.append(rows.ids[i])
        out.parents.append(rows.parents[i])
        out.kinds.append(rows.kinds[i])
        out.names.append(rows.names[i])
    return out


def build_directory(
    records: Iterable[tuple[int, NodeRecord]],
    *,
    file: str = DIRECTORY_FILE,
    problems: list[Problem] | None = None,
) -> Directory:
    """Check the tree's structure: unique ids, known parents, no cycles, a root for every node."""
    rows = _Rows()
    for number, record in records:
        rows.append(number, record)
    return _build_rows(rows, file, [] if problems is None else problems)


def _positions_of(rows: _Rows) -> tuple[dict[str, int], list[int]]:
    """Each id's position, and each node's parent position (-1 for a root, -2 for a
    parent that is not a node). NotInBulkError when a parent that is not a node is not
    an id either: a problem of its record, which the precise loader names."""
    index: dict[Any, int] = dict(zip(rows.ids, range(len(rows.ids)), strict=True))
    index[None] = -1  # for a moment: a root's parent, so that the map below runs in C
    try:
        parents = list(map(index.get, rows.parents, repeat(-2)))
    except TypeError as exc:  # a parent that cannot be a key: not an id
        raise NotInBulkError("a parent is not an id") from exc
    finally:
        del index[None]
    if -2 in parents and not all(
        _is_id(parent)
        for parent, at in zip(rows.parents, parents, strict=True)
        if at == -2 and parent is not None
    ):
        raise NotInBulkError("a parent is not an id")
    return index, parents


def _build_rows(
    rows: _Rows,
    file: str,
    problems: list[Problem],
    positions: tuple[dict[str, int], list[int]] | None = None,
) -> Directory:
    """The directory of valid rows, or InvalidInputError with ``problems`` and every
    problem of the tree's structure. ``positions``: ``_positions_of(rows)``, when known."""
    if not problems:
        index, parents = _positions_of(rows) if positions is None else positions
        try:
            return Directory.from_columns(
                rows.ids, index, parents, rows.kinds, rows.names, rows.attrs
            )
        except BrokenTreeError:
            pass  # found and named below
    problems.extend(_tree_problems(rows, file))
    if not problems:  # pragma: no cover - from_columns refuses only what is named above
        raise AssertionError("the directory's columns are not a forest, yet no problem was found")
    raise InvalidInputError(problems)


def _tree_problems(rows: _Rows, file: str) -> list[Problem]:
    """Duplicate ids, then unknown parents, cycles and nodes with no path to a root."""
    problems: list[Problem] = []
    parent_of: dict[str, str | None] = {}
    line_of: dict[str, int] = {}
    for number, node_id, parent in zip(rows.numbers, rows.ids, rows.parents, strict=True):
        if node_id in parent_of:
            problems.append(
                Problem(
                    f"{file}:{number}",
                    f"duplicate node id {node_id!r} (first defined on line {line_of[node_id]})",
                )
            )
            continue
        parent_of[node_id] = parent
        line_of[node_id] = number
    problems.extend(_structure_problems(parent_of, line_of, file))
    return problems


def _structure_problems(
    parent_of: dict[str, str | None], line_of: dict[str, int], file: str
) -> list[Problem]:
    problems: list[Problem] = []
    # 0 = unvisited, 1 = reaches a root, 2 = broken (unknown parent or cycle on its path)
    state: dict[str, int] = {}
    for start in parent_of:
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
            parent = parent_of[current]
            if parent is not None and parent not in parent_of:
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
