"""The world: the customer directory (a forest of nodes), the service catalog and regions.

All values are immutable. A :class:`World` is built only from validated input (see
``brightline.world.load``), so its invariants hold: ids are unique and well formed,
every parent exists, there are no cycles, every node reaches exactly one root.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

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


class Directory:
    """The forest of nodes with O(1) parent, root and depth look-ups.

    Construction trusts its input to be valid (``brightline.world.load`` checks it).
    """

    __slots__ = ("_ancestors", "_children", "_nodes")

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        self._nodes: Mapping[str, Node] = MappingProxyType(dict(nodes))
        children: dict[str, list[str]] = {node_id: [] for node_id in self._nodes}
        for node in self._nodes.values():
            if node.parent is not None:
                children[node.parent].append(node.id)
        self._children: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {k: tuple(sorted(v)) for k, v in children.items()}
        )
        ancestors: dict[str, tuple[str, ...]] = {}
        for node_id in self._nodes:
            self._chain(node_id, ancestors)
        self._ancestors: Mapping[str, tuple[str, ...]] = MappingProxyType(ancestors)

    def _chain(self, node_id: str, memo: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        # Iterative so that deep trees cannot exhaust the recursion limit.
        pending: list[str] = []
        current: str | None = node_id
        while current is not None and current not in memo:
            pending.append(current)
            current = self._nodes[current].parent
        chain = memo[current] if current is not None else ()
        for item in reversed(pending):
            chain = (item, *chain)
            memo[item] = chain
        return memo[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def get(self, node_id: str) -> Node | None:
        return self._nodes.get(node_id)

    def __getitem__(self, node_id: str) -> Node:
        return self._nodes[node_id]

    @property
    def nodes(self) -> Mapping[str, Node]:
        return self._nodes

    def children(self, node_id: str) -> tuple[str, ...]:
        return self._children[node_id]

    def ancestors(self, node_id: str) -> tuple[str, ...]:
        """The node itself, then its parent, … up to its root."""
        return self._ancestors[node_id]

    def root(self, node_id: str) -> str:
        return self._ancestors[node_id][-1]

    def depth(self, node_id: str) -> int:
        """0 for a root."""
        return len(self._ancestors[node_id]) - 1

    def roots(self) -> tuple[str, ...]:
        return tuple(sorted(n.id for n in self._nodes.values() if n.parent is None))

    def is_within(self, node_id: str, ancestor_id: str) -> bool:
        """True when ``ancestor_id`` is ``node_id`` or one of its ancestors."""
        return ancestor_id in self._ancestors[node_id]

    def subtree(self, node_id: str) -> Iterator[str]:
        """``node_id`` and every node below it, depth first, children in id order."""
        stack = [node_id]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(reversed(self._children[current]))


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
