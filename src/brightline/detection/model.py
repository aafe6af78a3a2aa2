"""Rule and pack files: the shapes they must have (parsed once, at the boundary).

A rule file holds one rule: the fields every rule has (:class:`RuleSpec`), the fields of
its kind under ``params`` (see ``brightline.detection.kinds``), and its own tests.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from brightline.errors import Problem
from brightline.world import ID_PATTERN, SERVICE_ID_PATTERN, SERVICE_TAGS, Catalog

Id = Annotated[StrictStr, Field(pattern=rf"^{ID_PATTERN.pattern}$")]
#: A service id, or a prefix pattern ending in ``.*``, or ``*``.
ServicePattern = Annotated[StrictStr, Field(pattern=r"^(\*|[A-Za-z0-9._\-]{1,128}(\.\*)?)$")]
Name = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")]
_VALUE: Final = re.compile(SERVICE_ID_PATTERN.pattern)


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def weight(self) -> float:
        return _SEVERITY_WEIGHTS[self]


_SEVERITY_WEIGHTS: Final = {
    Severity.LOW: 1.0,
    Severity.MEDIUM: 2.0,
    Severity.HIGH: 3.0,
    Severity.CRITICAL: 5.0,
}

#: ``{attribute: {value: multiplier}}``: a node whose (inherited) attribute has the value
#: has its score multiplied, e.g. ``{sector: {defense: 2.0}}``.
Weights = dict[StrictStr, dict[StrictStr, Annotated[float, Field(gt=0, le=100)]]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selection(_Strict):
    """Which usage a rule looks at. Services by tag, id or pattern (at least one of them),
    optionally narrowed by operation and unit. Each list matches any of its items."""

    tags: list[StrictStr] = Field(default_factory=list)
    services: list[ServicePattern] = Field(default_factory=list)
    operations: list[StrictStr] = Field(default_factory=list)
    units: list[StrictStr] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, tags: list[str]) -> list[str]:
        unknown = sorted(set(tags) - SERVICE_TAGS)
        if unknown:
            raise ValueError(f"unknown service tag(s) {unknown}; known: {sorted(SERVICE_TAGS)}")
        return tags

    @field_validator("operations", "units")
    @classmethod
    def _plain(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _VALUE.fullmatch(value):
                raise ValueError(f"not a valid operation or unit: {value!r}")
        return values

    def model_post_init(self, context: Any, /) -> None:
        if not self.tags and not self.services:
            raise ValueError("select needs tags or services")

    def services_in(self, catalog: Catalog) -> tuple[str, ...]:
        """Service ids of ``catalog`` selected by tag or by id/pattern, sorted."""
        chosen = {s.id for s in catalog.services.values() if s.tags & set(self.tags)}
        for pattern in self.services:
            chosen.update(catalog.services_matching(pattern))
        return tuple(sorted(chosen))

    def problems(self, catalog: Catalog, where: str) -> list[Problem]:
        services = self.services_in(catalog)
        problems = []
        if not services:
            problems.append(Problem(where, "selects no service of this catalog"))
        operations = {op for s in services for op in catalog.services[s].operations}
        for operation in self.operations:
            if services and operation not in operations:
                problems.append(
                    Problem(where, f"operation {operation!r} belongs to no selected service")
                )
        return problems


class FixtureUsage(_Strict):
    """Fixture rows: ``quantity`` per day for each day in ``days`` (offsets from the
    fixture epoch, inclusive range), spread evenly over ``hours`` hourly rows."""

    subscription: Id
    service: StrictStr
    operation: StrictStr
    region: StrictStr
    unit: StrictStr
    days: Annotated[list[Annotated[int, Field(ge=0, le=3660)]], Field(min_length=2, max_length=2)]
    quantity: Annotated[float, Field(ge=0)]
    hours: Annotated[int, Field(ge=1, le=24)] = 1


class FixtureCase(_Strict):
    name: StrictStr
    usage: list[FixtureUsage]
    #: Positive cases: the node the rule must fire on.
    node: Id | None = None


class RuleTests(_Strict):
    positive: Annotated[list[FixtureCase], Field(min_length=1)]
    negative: Annotated[list[FixtureCase], Field(min_length=1)]


class RuleSpec(_Strict):
    """The fields every rule has; ``params`` is checked by the rule's kind."""

    id: Id
    title: StrictStr
    policy: Id
    severity: Severity
    kind: StrictStr
    description: StrictStr = ""
    #: ``subscription``, ``customer`` (the root), or a node kind such as ``unit``.
    level: Id = "customer"
    window_days: Annotated[int, Field(ge=1, le=366)] = 1
    select: Selection | None = None
    params: dict[StrictStr, Any] = Field(default_factory=dict)
    weights: Weights = Field(default_factory=dict)
    tests: RuleTests


class PackSpec(_Strict):
    """``pack.yaml``: a named set of rules serving one policy, with its review threshold."""

    id: Id
    title: StrictStr
    policy: Id
    review_threshold: Annotated[float, Field(gt=0)]
    #: ``tags``: every rule must select services by tag only (portable across catalogs).
    select_by: StrictStr = "any"
    weights: Weights = Field(default_factory=dict)
    #: A world directory, relative to the pack, that the rules' fixtures use.
    fixture_world: StrictStr = "fixtures/world"
    description: StrictStr = ""
