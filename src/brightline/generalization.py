"""How precise a published fact may be: time granules, attribute hierarchies, k customers.

A restriction's public form says *what kind* of customer it concerns, never which one:
its scope's country, sector and kind, and the tags of the services it covers, each
published at some level of a fixed hierarchy (level 0 is the value itself):

============  =========================  ========================================  ========
dimension     level 0                    level 1                                   top
============  =========================  ========================================  ========
country       ISO code (``DE``)          M49 region (``Europe``), else ``other``   ``any``
sector        sector (``intelligence``)  ``public`` / ``private``, else ``any``    ``any``
scope kind    node kind (``unit``)       ``customer``/``unit``/``subscription``    ``node``
service tags  tags (``speech-to-text``)  families (``ai``)                         ``any``
============  =========================  ========================================  ========

A published value *covers* a node when it is the top, the node's own value, or that
value's parent (level 1); a node without the attribute is covered by the top only (and
by ``other`` for a country). A published combination covers a *customer* (a root of the
directory) when at least one node of the customer's tree, its root included, is covered
in every dimension, with the country and sector it has or inherits from its nearest
ancestor. Service tags are not attributes of customers: they never narrow the customers
covered.

:func:`generalize` raises one dimension by one level at a time, in the fixed order
:data:`STEPS`, until the combination covers at least k customers of the directory; a
directory of fewer than k customers ends at the top of every hierarchy. The same scope,
tags, directory, k and sector classes always give the same result.

Pure: no store, clock or I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from brightline.errors import InvalidInputError, Problem
from brightline.m49 import region_of
from brightline.world import Directory

__all__ = [
    "ANY",
    "ANY_NODE",
    "OTHER",
    "PRIVATE_SECTORS",
    "PUBLIC_SECTORS",
    "STEPS",
    "TAG_FAMILIES",
    "CustomerIndex",
    "Dimension",
    "Generalized",
    "ScopeFacts",
    "SectorClasses",
    "TimeGranularity",
    "floor_time",
    "generalize",
    "kind_class",
    "next_boundary",
]

#: The top of the country, sector and service-tag hierarchies.
ANY: Final = "any"
#: The top of the scope-kind hierarchy.
ANY_NODE: Final = "node"
#: The region of a country code that M49 does not list (or of a node without a country).
OTHER: Final = "other"
PUBLIC: Final = "public"
PRIVATE: Final = "private"

# -- time ---------------------------------------------------------------------------------


class TimeGranularity(StrEnum):
    """How precisely the ledger publishes a time: rounded down to the start (UTC
    midnight) of its day, of its ISO week (a Monday) or of its month."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def floor_time(at: datetime, granularity: TimeGranularity) -> datetime:
    """The start of the day, week or month ``at`` falls in, in UTC."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity is TimeGranularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is TimeGranularity.MONTH:
        return day.replace(day=1)
    return day


def next_boundary(at: datetime, granularity: TimeGranularity) -> datetime:
    """The start of the next day, week or month after the one ``at`` falls in."""
    start = floor_time(at, granularity)
    if granularity is TimeGranularity.WEEK:
        return start + timedelta(days=7)
    if granularity is TimeGranularity.MONTH:
        return (start + timedelta(days=32)).replace(day=1)
    return start + timedelta(days=1)


# -- the hierarchies ------------------------------------------------------------------------

#: Sectors of the state: ministries, agencies and services that act with public
#: authority. A deployment adds its own with ``BRIGHTLINE_LEDGER_PUBLIC_SECTORS``.
PUBLIC_SECTORS: Final = frozenset(
    {
        "administration",
        "border-control",
        "customs",
        "defence",
        "defense",
        "diplomacy",
        "education-public",
        "emergency-services",
        "government",
        "health-public",
        "intelligence",
        "judiciary",
        "justice",
        "law-enforcement",
        "military",
        "police",
        "prisons",
        "public-administration",
    }
)
#: Sectors of private enterprise. ``BRIGHTLINE_LEDGER_PRIVATE_SECTORS`` adds more. A
#: sector in neither class (``health``, ``education``, ``science``, ``security``: public
#: or private depending on who runs them) goes straight to ``any``.
PRIVATE_SECTORS: Final = frozenset(
    {
        "advertising",
        "agriculture",
        "automotive",
        "banking",
        "construction",
        "consulting",
        "e-commerce",
        "education-private",
        "energy",
        "finance",
        "gaming",
        "health-private",
        "hospitality",
        "insurance",
        "legal",
        "logistics",
        "manufacturing",
        "media",
        "mining",
        "pharma",
        "real-estate",
        "retail",
        "software",
        "technology",
        "telecom",
        "travel",
    }
)

#: Service tag → family (``brightline.world.SERVICE_TAGS`` is the closed vocabulary).
TAG_FAMILIES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "object-storage": "storage",
        "file-storage": "storage",
        "database": "storage",
        "speech-to-text": "ai",
        "translation": "ai",
        "vision": "ai",
        "language-model": "ai",
        "compute": "compute",
        "data-ingress": "network",
        "network-egress": "network",
        "messaging": "network",
    }
)


@dataclass(frozen=True, slots=True)
class SectorClasses:
    """Which sectors are ``public`` and which ``private``: the built-in lists, extended by
    the deployment. A sector in both is refused (it would be published as either)."""

    public: frozenset[str] = PUBLIC_SECTORS
    private: frozenset[str] = PRIVATE_SECTORS

    def __post_init__(self) -> None:
        both = sorted(self.public & self.private)
        if both:
            raise InvalidInputError(
                Problem("sectors", f"{', '.join(both)} cannot be both public and private")
            )

    @classmethod
    def extended(cls, *, public: Iterable[str] = (), private: Iterable[str] = ()) -> SectorClasses:
        """The built-in classes plus a deployment's sectors (compared in lower case)."""
        return cls(
            PUBLIC_SECTORS | {s.strip().lower() for s in public if s.strip()},
            PRIVATE_SECTORS | {s.strip().lower() for s in private if s.strip()},
        )

    def of(self, sector: str) -> str | None:
        """``public``, ``private``, or None for a sector in neither class."""
        lowered = sector.lower()
        if lowered in self.public or lowered == PUBLIC:
            return PUBLIC
        if lowered in self.private or lowered == PRIVATE:
            return PRIVATE
        return None


class Dimension(StrEnum):
    KIND = "scope_kind"
    COUNTRY = "country"
    SECTOR = "sector"
    TAGS = "service_tags"


#: The generalization order: each step raises one dimension by one level. The kind goes
#: to its class first (a no-op for the usual kinds), then the country to its region (the
#: most identifying attribute in most directories), then the sector to public/private;
#: then each to its top; service tags last, which only a directory of fewer than k
#: customers reaches.
STEPS: Final = (
    Dimension.KIND,
    Dimension.COUNTRY,
    Dimension.SECTOR,
    Dimension.COUNTRY,
    Dimension.SECTOR,
    Dimension.KIND,
    Dimension.TAGS,
    Dimension.TAGS,
)
_TOP_LEVEL: Final = 2


def kind_class(directory: Directory, node: str) -> str:
    """``customer`` for a root, ``subscription`` for a subscription, else ``unit``."""
    if directory[node].parent is None:
        return "customer"
    return "subscription" if directory[node].kind == "subscription" else "unit"


@dataclass(frozen=True, slots=True)
class ScopeFacts:
    """A node's values in each hierarchy: its country and sector (its own or its nearest
    ancestor's; None if none has one), its kind and the class of its kind."""

    country: str | None
    sector: str | None
    kind: str
    kind_class: str

    @classmethod
    def of(cls, directory: Directory, node: str) -> ScopeFacts:
        country = _inherited(directory, node, "country")
        return cls(
            country=None if country is None else country.upper(),
            sector=_inherited(directory, node, "sector"),
            kind=directory[node].kind,
            kind_class=kind_class(directory, node),
        )


def _own(value: object) -> str | None:
    """An attribute's value as the hierarchies read it; None if unset or blank."""
    text = None if value is None else str(value).strip()
    return text or None


def _inherited(directory: Directory, node: str, attr: str) -> str | None:
    for ancestor in directory.ancestors(node):
        value = _own(directory[ancestor].attrs.get(attr))
        if value is not None:
            return value
    return None


def _country(value: str | None, level: int) -> str:
    if level >= _TOP_LEVEL:
        return ANY
    if value is None:
        return OTHER
    return value if level == 0 else (region_of(value) or OTHER)


def _sector(value: str | None, level: int, sectors: SectorClasses) -> str:
    if level >= _TOP_LEVEL or value is None:
        return ANY
    return value if level == 0 else (sectors.of(value) or ANY)


def _kind(facts: ScopeFacts, level: int) -> str:
    return (facts.kind, facts.kind_class, ANY_NODE)[min(level, _TOP_LEVEL)]


def _tags(tags: Iterable[str], level: int) -> tuple[str, ...]:
    unique = sorted(set(tags))
    if level == 0 or not unique:
        return tuple(unique)
    if level == 1:
        return tuple(sorted({TAG_FAMILIES.get(t, ANY) for t in unique}))
    return (ANY,)


def _covers(
    country: str, sector: str, scope_kind: str, node: ScopeFacts, sectors: SectorClasses
) -> bool:
    """Whether a published combination covers a node (the module's docstring)."""
    country_ok = country == ANY or (
        country == _country(node.country, 0) or country == _country(node.country, 1)
    )
    sector_ok = sector == ANY or (
        node.sector is not None and sector in (node.sector, sectors.of(node.sector))
    )
    kind_ok = scope_kind in (ANY_NODE, node.kind, node.kind_class)
    return country_ok and sector_ok and kind_ok


class CustomerIndex:
    """A directory reduced to what coverage needs: for each distinct :class:`ScopeFacts`
    of its nodes, the customers (roots) with such a node. Build once per world."""

    __slots__ = ("_customers", "_profiles")

    def __init__(self, profiles: Mapping[ScopeFacts, frozenset[str]], customers: int) -> None:
        self._profiles = MappingProxyType(dict(profiles))
        self._customers = customers

    @classmethod
    def of(cls, directory: Directory) -> CustomerIndex:
        # Each node's inherited (country, sector), memoized down the tree: one pass.
        inherited: dict[str, tuple[str | None, str | None]] = {}
        profiles: dict[ScopeFacts, set[str]] = {}
        for node in directory:
            chain = []
            current: str | None = node.id
            while current is not None and current not in inherited:
                chain.append(current)
                current = directory[current].parent
            above = inherited[current] if current is not None else (None, None)
            for item in reversed(chain):
                attrs = directory[item].attrs
                country, sector = _own(attrs.get("country")), _own(attrs.get("sector"))
                above = (
                    above[0] if country is None else country.upper(),
                    above[1] if sector is None else sector,
                )
                inherited[item] = above
            country, sector = inherited[node.id]
            facts = ScopeFacts(country, sector, node.kind, kind_class(directory, node.id))
            profiles.setdefault(facts, set()).add(directory.root(node.id))
        return cls({p: frozenset(r) for p, r in profiles.items()}, len(directory.roots()))

    @property
    def customers(self) -> int:
        return self._customers

    def coverage(
        self, *, country: str, sector: str, scope_kind: str, sectors: SectorClasses
    ) -> int:
        """How many customers the combination covers."""
        covered: set[str] = set()
        for facts, roots in self._profiles.items():
            if _covers(country, sector, scope_kind, facts, sectors):
                covered |= roots
        return len(covered)


@dataclass(frozen=True, slots=True)
class Generalized:
    """A scope's published values and the level each dimension was raised to."""

    country: str
    sector: str
    scope_kind: str
    service_tags: tuple[str, ...]
    levels: Mapping[Dimension, int]
    #: Customers the published combination covers.
    coverage: int


def generalize(
    scope: ScopeFacts,
    service_tags: Iterable[str],
    *,
    index: CustomerIndex,
    k: int,
    sectors: SectorClasses,
) -> Generalized:
    """The least general values along :data:`STEPS` that cover at least ``k`` customers
    of ``index``; the top of every hierarchy if the directory has fewer than ``k``."""
    tags = tuple(service_tags)
    levels = dict.fromkeys(Dimension, 0)
    steps = iter(STEPS)
    while True:
        country = _country(scope.country, levels[Dimension.COUNTRY])
        sector = _sector(scope.sector, levels[Dimension.SECTOR], sectors)
        scope_kind = _kind(scope, levels[Dimension.KIND])
        coverage = index.coverage(
            country=country, sector=sector, scope_kind=scope_kind, sectors=sectors
        )
        step = next(steps, None) if coverage < k else None
        if step is None:
            return Generalized(
                country=country,
                sector=sector,
                scope_kind=scope_kind,
                service_tags=_tags(tags, levels[Dimension.TAGS]),
                levels=MappingProxyType(levels),
                coverage=coverage,
            )
        levels[step] += 1
