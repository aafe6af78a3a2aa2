"""The world: the customer directory (a forest of nodes), the service catalog and regions.

All values are immutable. A :class:`World` is built only from validated input (see
``brightline.world.load``), so its invariants hold: ids are unique and well formed,
every parent exists, there are no cycles, every node reaches exactly one root.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from types import MappingProxyType
from typing import Final, NamedTuple

import numpy as np

#: Ids of nodes, regions and restrictions: 1–128 letters, digits and ``._:-``.
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
#: Service ids and operations: as ids, without ``:`` (it separates them in actions).
SERVICE_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._\-]{1,128}")
#: Metering units a catalog declares: 1–64 characters, a letter or digit first and last,
#: letters, digits, spaces and ``._/-`` between (``GB-month``, ``1K Characters``,
#: ``Requests/Second``). A unit is a name, never a place for text.
UNIT_PATTERN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._/\-]{0,62}[A-Za-z0-9])?")

#: What a service *is*, so that rule packs work with any provider's naming.
SERVICE_TAGS: Final = frozenset(
    {
        "object-storage",
        "file-storage",
        "database",
        "compute",
        "speech-to-text",
        "translation",
        "vision",
        "language-model",
        "data-ingress",
        "network-egress",
        "messaging",
    }
)

AttrValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Node:
    """A customer, a unit, a subscription… ``parent`` is None for a customer's root."""

    id: str
    parent: str | None
    kind: str
    name: str = ""
    attrs: Mapping[str, AttrValue] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Service:
    """``units`` are the metering units the catalog declares for this service alone, in
    catalog order (empty: none of its own)."""

    id: str
    operations: tuple[str, ...]
    tags: frozenset[str] = frozenset()
    units: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    country: str


_NO_ATTRS: Final[Mapping[str, AttrValue]] = MappingProxyType({})


def same_attrs(a: Mapping[str, AttrValue], b: Mapping[str, AttrValue]) -> bool:
    """Equal and of the same JSON types: ``==`` holds between ``True``, ``1`` and ``1.0``,
    which are different JSON (a stored row kept on ``==`` would load another value)."""
    return a == b and all(type(value) is type(b[key]) for key, value in a.items())


class BrokenTreeError(ValueError):
    """Columns that do not form a forest: an unknown parent, or nodes on or below a cycle."""


class DirectoryParts(NamedTuple):
    """A directory's columns (:meth:`Directory.parts`): ids by position, parent positions
    (-1: a root), kind names and each node's code into them, the names as one text and
    where each ends (in characters), attributes by position for the nodes with some."""

    ids: list[str]
    parents: np.ndarray
    kinds: tuple[str, ...]
    kind_codes: np.ndarray
    names: str
    name_ends: np.ndarray
    attrs: Mapping[int, Mapping[str, AttrValue]]


class Directory:
    """The forest of nodes, held in columns: O(1) look-up by id, parents as an integer array.

    Each node is a position: ``ids`` (one string per node, each held once), ``parents``
    (the parent's position, -1 for a root; an int32 array), ``kinds`` (an index into a
    short list of kinds), names (one string, cut by an offsets array), and attributes only
    for the nodes that have some.
    :class:`Node` values are built on access, so a directory of millions of nodes is a
    few arrays and one dict, not millions of objects. Iteration follows the order the
    nodes were given in (the file's order); ``children``, ``roots`` and ``subtree`` go
    in id order.

    Construction trusts its input to be valid (``brightline.world.load`` checks it).
    """

    __slots__ = (
        "__weakref__",
        "_attrs",
        "_bfs",
        "_child_order",
        "_child_start",
        "_depth",
        "_differing_from",
        "_ids",
        "_index_built",
        "_kind",
        "_kinds",
        "_name_ends",
        "_names",
        "_parent",
        "_parent_at",
        "_roots",
    )

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        values = list(nodes.values())
        ids = [n.id for n in values]
        index = dict(zip(ids, range(len(ids)), strict=True))
        self._init(
            ids,
            index,
            [-1 if n.parent is None else index.get(n.parent, -2) for n in values],
            [n.kind for n in values],
            [n.name for n in values],
            {i: n.attrs for i, n in enumerate(values) if n.attrs},
        )

    @classmethod
    def from_columns(
        cls,
        ids: list[str],
        index: dict[str, int],
        parents: Sequence[int],
        kinds: Sequence[str],
        names: list[str],
        attrs: dict[int, Mapping[str, AttrValue]],
    ) -> Directory:
        """A directory from columns: ``index`` maps each id to its position in ``ids``,
        ``parents`` gives each node's parent position (-1 for a root, -2 for a parent
        that is not a node). Raises BrokenTreeError when the columns are not a forest
        (the loader then finds and names each problem)."""
        directory = cls.__new__(cls)
        directory._init(ids, index, parents, kinds, names, attrs)
        return directory

    def _init(
        self,
        ids: list[str],
        index: dict[str, int],
        parents: Sequence[int],
        kinds: Sequence[str],
        names: list[str],
        attrs: dict[int, Mapping[str, AttrValue]],
    ) -> None:
        count = len(ids)
        if len(index) != count:
            raise BrokenTreeError("duplicate node ids")
        # The last ``differing`` asked and its answer: an import asks it twice (the diff,
        # then the rows to write) of the same two directories, both immutable. Weakly:
        # a directory kept must not keep an old one alive.
        self._differing_from: tuple[weakref.ref[Directory], np.ndarray] | None = None
        parent = np.asarray(parents, dtype=np.int32).reshape(count)
        if count and int(parent.min()) < -1:
            raise BrokenTreeError("unknown parent")
        kind_names = tuple(sorted(set(kinds)))
        kind_code = {k: i for i, k in enumerate(kind_names)}
        self._ids = ids
        self._index_built: dict[str, int] | None = index
        self._parent = parent
        self._parent_at = memoryview(parent.data)  # scalar reads as Python ints, fast
        self._kinds = kind_names
        self._kind = np.fromiter(map(kind_code.__getitem__, kinds), np.int32, count)
        # Names as one text and where each ends: no string object per node.
        self._names = "".join(names)
        self._name_ends = np.cumsum(np.fromiter(map(len, names), np.int64, count), dtype=np.int64)
        self._attrs: dict[int, Mapping[str, AttrValue]] = {
            i: a if isinstance(a, MappingProxyType) else MappingProxyType(dict(a))
            for i, a in attrs.items()
            if a
        }
        self._derive()

    @classmethod
    def from_parts(cls, parts: DirectoryParts) -> Directory:
        """A directory from the parts another one gave (:meth:`parts`), kept as they are
        (arrays may be read-only views of a mapped file). Trusts them as
        :meth:`from_columns` does. Its look-up by id is built on first use: a server
        restarting from a compiled snapshot decides through the snapshot's own table,
        and at a million nodes the directory's costs a second and 100 MiB."""
        directory = cls.__new__(cls)
        directory._ids = parts.ids
        directory._index_built = None
        directory._parent = parts.parents
        directory._parent_at = memoryview(parts.parents.data)
        directory._kinds = parts.kinds
        directory._kind = parts.kind_codes
        directory._names = parts.names
        directory._name_ends = parts.name_ends
        directory._attrs = dict(parts.attrs)
        directory._derive()
        return directory

    @property
    def _index(self) -> dict[str, int]:
        index = self._index_built
        if index is None:
            # Two threads may both build it: the same table either way.
            index = self._index_built = dict(zip(self._ids, range(len(self._ids)), strict=True))
        return index

    def parts(self) -> DirectoryParts:
        """The directory's columns as held: what a compiled snapshot file keeps."""
        return DirectoryParts(
            ids=self._ids,
            parents=self._parent,
            kinds=self._kinds,
            kind_codes=self._kind,
            names=self._names,
            name_ends=self._name_ends,
            attrs=self._attrs,
        )

    def _derive(self) -> None:
        """What follows from the parents: children, roots, depths, breadth-first order;
        BrokenTreeError when they are not a forest."""
        parent = self._parent
        count = len(parent)
        # Children grouped by parent, in the order given (CSR: start offsets); sorted
        # by id when asked for, a group at a time.
        below = np.flatnonzero(parent >= 0)
        self._child_order = below[np.argsort(parent[below], kind="stable")].astype(np.int32)
        self._child_start = np.concatenate(
            ([0], np.cumsum(np.bincount(parent[below], minlength=count)))
        ).astype(np.int64)
        roots = np.flatnonzero(parent < 0).astype(np.int32)
        self._roots: tuple[str, ...] | None = None  # in id order, on first use
        # Breadth first from the roots: depths, and an order with parents before children.
        depth = np.full(count, -1, dtype=np.int32)
        levels = []
        frontier = roots
        level = 0
        while frontier.size:
            depth[frontier] = level
            levels.append(frontier)
            frontier = self._children_of(frontier)
            level += 1
        if count and int(depth.min()) < 0:
            raise BrokenTreeError("nodes with no path to a root")
        self._depth = depth
        self._bfs = np.concatenate(levels) if levels else np.empty(0, dtype=np.int32)

    def _children_of(self, positions: np.ndarray) -> np.ndarray:
        """The children of every node in ``positions``, group after group."""
        starts = self._child_start[positions]
        counts = self._child_start[positions + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.int32)
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return self._child_order[offsets + np.arange(total)]

    def _node(self, i: int) -> Node:
        parent = self._parent_at[i]
        return Node(
            id=self._ids[i],
            parent=None if parent < 0 else self._ids[parent],
            kind=self._kinds[self._kind[i]],
            name=self._name(i),
            attrs=self._attrs.get(i, _NO_ATTRS),
        )

    def _name(self, i: int) -> str:
        ends = self._name_ends
        return self._names[int(ends[i - 1]) if i else 0 : int(ends[i])]

    def _names_at(self, positions: Sequence[int]) -> list[str]:
        picked = np.asarray(positions, dtype=np.int64)
        ends = self._name_ends[picked]
        starts = np.where(picked > 0, self._name_ends[picked - 1], 0)
        return list(map(self._names.__getitem__, map(slice, starts.tolist(), ends.tolist())))

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._index

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[Node]:
        return map(self._node, range(len(self._ids)))

    def get(self, node_id: str) -> Node | None:
        i = self._index.get(node_id)
        return None if i is None else self._node(i)

    def __getitem__(self, node_id: str) -> Node:
        return self._node(self._index[node_id])

    @property
    def nodes(self) -> Mapping[str, Node]:
        """Every node by id, in the order given (a read-only view; nodes built on access)."""
        return _NodesView(self)

    def position(self, node_id: str) -> int:
        """The node's position in the columns (KeyError for an unknown id)."""
        return self._index[node_id]

    def children(self, node_id: str) -> tuple[str, ...]:
        """The node's children, in id order."""
        return tuple(sorted(self._children_at(self._index[node_id])))

    def _children_at(self, i: int) -> Iterator[str]:
        start = self._child_start
        return map(self._ids.__getitem__, self._child_order[start[i] : start[i + 1]].tolist())

    def ancestors(self, node_id: str) -> tuple[str, ...]:
        """The node itself, then its parent, … up to its root."""
        ids, parent_at = self._ids, self._parent_at
        chain = []
        i = self._index[node_id]
        while i >= 0:
            chain.append(ids[i])
            i = parent_at[i]
        return tuple(chain)

    def root(self, node_id: str) -> str:
        parent_at = self._parent_at
        i = self._index[node_id]
        while (up := parent_at[i]) >= 0:
            i = up
        return self._ids[i]

    def depth(self, node_id: str) -> int:
        """0 for a root."""
        return int(self._depth[self._index[node_id]])

    def roots(self) -> tuple[str, ...]:
        """Every root, in id order."""
        if self._roots is None:
            ids = self._ids
            self._roots = tuple(sorted(ids[i] for i in np.flatnonzero(self._parent < 0).tolist()))
        return self._roots

    def is_within(self, node_id: str, ancestor_id: str) -> bool:
        """True when ``ancestor_id`` is ``node_id`` or one of its ancestors."""
        target = self._index.get(ancestor_id)
        parent_at = self._parent_at
        i = self._index[node_id]
        while i >= 0:
            if i == target:
                return True
            i = parent_at[i]
        return False

    def subtree(self, node_id: str) -> Iterator[str]:
        """``node_id`` and every node below it, depth first, children in id order."""
        index = self._index
        stack = [node_id]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(sorted(self._children_at(index[current]), reverse=True))

    def subtree_positions(self, node_id: str) -> np.ndarray:
        """The positions of ``node_id`` and every node below it, level by level (no
        particular order within a level): the set ``subtree`` walks, found on the arrays."""
        frontier = np.array([self._index[node_id]], dtype=np.int32)
        levels = []
        while frontier.size:
            levels.append(frontier)
            frontier = self._children_of(frontier)
        return np.concatenate(levels)

    @property
    def leaves(self) -> np.ndarray:
        """Whether each node has no child (bool, by position)."""
        leaves: np.ndarray = np.diff(self._child_start) == 0
        return leaves

    def differing(self, before: Directory) -> list[int]:
        """The positions, in order, of the nodes not in ``before`` exactly as here: new,
        or with another parent, kind, name or attributes (attribute types included:
        ``1``, ``1.0`` and ``true`` differ though ``==`` holds between them). Computed on
        the columns: no node is built, so a change to 1% of a large world costs little."""
        memo = self._differing_from
        if memo is not None and memo[0]() is before:
            answer: list[int] = memo[1].tolist()
            return answer
        found = self._differing(before)
        self._differing_from = (weakref.ref(before), np.asarray(found, dtype=np.int64))
        return found

    def _differing(self, before: Directory) -> list[int]:
        count = len(self._ids)
        if not count or not len(before):
            return list(range(count))
        old_index = before._index
        old_at = np.fromiter(map(old_index.get, self._ids, repeat(-1, count)), np.int64, count)
        found = old_at >= 0
        old = np.where(found, old_at, 0)
        # Each node's parent as a position in ``before``: -1 for a root, -2 when the
        # parent is new (so that no parent matches it).
        parent = self._parent
        parent_there = old_at[np.maximum(parent, 0)]
        parent_there = np.where(parent < 0, -1, np.where(parent_there < 0, -2, parent_there))
        same = found & (before._parent[old] == parent_there)
        kind_there = np.array(
            [before._kinds.index(k) if k in before._kinds else -1 for k in self._kinds] or [0],
            dtype=np.int32,
        )
        same &= before._kind[old] == kind_there[self._kind]
        new_start = np.concatenate(([0], self._name_ends[:-1]))
        old_start = np.concatenate(([0], before._name_ends[:-1]))[old]
        old_end = before._name_ends[old]
        same &= (self._name_ends - new_start) == (old_end - old_start)
        check = np.flatnonzero(same)
        names, old_names = self._names, before._names
        same[check] = [
            names[a:b] == old_names[c:d]
            for a, b, c, d in zip(
                new_start[check].tolist(),
                self._name_ends[check].tolist(),
                old_start[check].tolist(),
                old_end[check].tolist(),
                strict=True,
            )
        ]
        # Attributes (only non-empty ones are held): the same when neither side has any,
        # else compared where everything else is the same.
        has_attrs = np.zeros(count, dtype=bool)
        has_attrs[list(self._attrs)] = True
        old_has_attrs = np.zeros(len(before), dtype=bool)
        old_has_attrs[list(before._attrs)] = True
        either = has_attrs | old_has_attrs[old]
        old_attrs = before._attrs
        for i in np.flatnonzero(same & either).tolist():
            same[i] = same_attrs(
                self._attrs.get(i, _NO_ATTRS), old_attrs.get(int(old[i]), _NO_ATTRS)
            )
        return np.flatnonzero(~same).tolist()

    # -- columns, for bulk readers (the snapshot compiler, canonical forms) ----------------

    @property
    def ids(self) -> Sequence[str]:
        """Every id, by position."""
        return self._ids

    def names(self) -> list[str]:
        """Every name, by position (a new list)."""
        return self._names_at(range(len(self._ids)))

    @property
    def parent_positions(self) -> np.ndarray:
        """Each node's parent position, -1 for a root (int32, read-only by convention)."""
        return self._parent

    @property
    def depths(self) -> np.ndarray:
        """Each node's depth, 0 for a root (int32)."""
        return self._depth

    @property
    def breadth_first(self) -> np.ndarray:
        """Every position, parents before their children (roots first)."""
        return self._bfs

    def id_order(self) -> list[int]:
        """Every position, in id order."""
        return sorted(range(len(self._ids)), key=self._ids.__getitem__)

    def columns(
        self, positions: Sequence[int] | None = None
    ) -> tuple[list[str], list[str | None], list[str], list[str], list[Mapping[str, AttrValue]]]:
        """Ids, parent ids (None for a root), kinds, names and attributes of the nodes at
        ``positions`` (None: every node, in order), column by column, without building
        nodes."""
        ids = self._ids
        parent_ids: list[str | None] = [*ids, None]  # position -1 (a root's parent): None
        attrs = self._attrs
        if positions is None:
            every: list[Mapping[str, AttrValue]] = [_NO_ATTRS] * len(ids)
            for i, found in attrs.items():
                every[i] = found
            return (
                list(ids),
                list(map(parent_ids.__getitem__, self._parent.tolist())),
                list(map(self._kinds.__getitem__, self._kind.tolist())),
                self._names_at(range(len(ids))),
                every,
            )
        return (
            list(map(ids.__getitem__, positions)),
            list(map(parent_ids.__getitem__, self._parent[positions].tolist())),
            list(map(self._kinds.__getitem__, self._kind[positions].tolist())),
            self._names_at(positions),
            [attrs.get(i, _NO_ATTRS) for i in positions] if attrs else [_NO_ATTRS] * len(positions),
        )


class _NodesView(Mapping[str, Node]):
    """``Directory.nodes``: a read-only mapping over the columns."""

    __slots__ = ("_directory",)

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def __getitem__(self, node_id: str) -> Node:
        return self._directory[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._directory

    def __iter__(self) -> Iterator[str]:
        return iter(self._directory.ids)

    def __len__(self) -> int:
        return len(self._directory)


@dataclass(frozen=True, slots=True)
class Catalog:
    """``units`` are the metering units the catalog declares for every service, in catalog
    order; each service may declare more of its own (``Service.units``)."""

    services: Mapping[str, Service]
    regions: Mapping[str, Region]
    units: tuple[str, ...] = ()

    @property
    def declares_units(self) -> bool:
        """True when the catalog declares any unit, for every service or for one."""
        return bool(self.units) or any(s.units for s in self.services.values())

    def units_of(self, service_id: str) -> tuple[str, ...]:
        """The units declared for ``service_id``: the catalog's, then the service's own."""
        return (*self.units, *self.services[service_id].units)

    def services_matching(self, pattern: str) -> tuple[str, ...]:
        """Service ids matched by the service part of an action pattern, sorted.

        ``*`` matches every service; ``ai.*`` matches ``ai.speech`` and ``ai.translator.text``
        (any id starting with ``ai.``); anything else matches itself only.
        """
        if pattern == "*":
            return tuple(sorted(self.services))
        if pattern.endswith(".*"):
            prefix = pattern[:-1]
            return tuple(sorted(s for s in self.services if s.startswith(prefix)))
        return (pattern,) if pattern in self.services else ()


@dataclass(frozen=True, slots=True)
class World:
    directory: Directory
    catalog: Catalog
