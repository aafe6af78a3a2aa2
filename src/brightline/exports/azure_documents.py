"""The Azure Policy documents Brightline writes, and the limits Azure puts on them.

Limits, from Microsoft Learn: "Azure subscription and service limits, quotas, and
constraints", section *Azure Policy limits*, and the REST reference of
``Microsoft.Authorization`` (policyDefinitions, policySetDefinitions, policyAssignments):

=====================================================  =========
per management group or subscription: custom policy    500
definitions
per management group or subscription: custom           200
initiative (policy set) definitions
per management group, subscription or resource group:  200
policy and initiative assignments
policies in one initiative                             1,000
notScopes (exclusions) of one assignment               400
a definition, initiative or assignment request body    1,048,576 bytes
name of a definition or initiative                     64 characters
name of an assignment at a management group            24 characters (64 elsewhere)
displayName / description                              128 / 512 characters
non-compliance message                                 1,024 characters
=====================================================  =========
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from brightline.errors import Problem
from brightline.exports.cloud import Gap
from brightline.exports.maps import AzureCondition

DEFINITIONS_PER_SCOPE: Final = 500
INITIATIVES_PER_SCOPE: Final = 200
ASSIGNMENTS_PER_SCOPE: Final = 200
POLICIES_PER_INITIATIVE: Final = 1000
NOT_SCOPES_PER_ASSIGNMENT: Final = 400
REQUEST_BYTES: Final = 1_048_576
NAME_LENGTH: Final = 64
ASSIGNMENT_NAME_AT_GROUP: Final = 24
DISPLAY_NAME_LENGTH: Final = 128
DESCRIPTION_LENGTH: Final = 512
MESSAGE_LENGTH: Final = 1024

GROUP_PREFIX: Final = "/providers/Microsoft.Management/managementGroups/"
SUBSCRIPTION_PREFIX: Final = "/subscriptions/"
AUTHORIZATION: Final = "/providers/Microsoft.Authorization"


@dataclass(frozen=True, slots=True)
class PolicyDefinition:
    """One restriction's custom definition, saved at its scope."""

    name: str
    location: str  # the management group or subscription it is saved at
    restriction: str
    properties: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"{self.location}{AUTHORIZATION}/policyDefinitions/{self.name}"

    @property
    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "Microsoft.Authorization/policyDefinitions",
            "name": self.name,
            "properties": dict(self.properties),
        }

    @property
    def file_name(self) -> str:
        return f"definitions/{self.name}.json"


@dataclass(frozen=True, slots=True)
class PolicySetDefinition:
    """An initiative: the definitions assigned together at one scope with one notScopes."""

    name: str
    location: str
    definitions: tuple[PolicyDefinition, ...]
    properties: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"{self.location}{AUTHORIZATION}/policySetDefinitions/{self.name}"

    @property
    def restrictions(self) -> tuple[str, ...]:
        return tuple(d.restriction for d in self.definitions)

    @property
    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "Microsoft.Authorization/policySetDefinitions",
            "name": self.name,
            "properties": dict(self.properties),
        }

    @property
    def file_name(self) -> str:
        return f"initiatives/{self.name}.json"


@dataclass(frozen=True, slots=True)
class PolicyAssignment:
    """One initiative assigned at a scope, with the exempt nodes as notScopes."""

    name: str
    scope: str
    restrictions: tuple[str, ...]
    properties: Mapping[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.scope}{AUTHORIZATION}/policyAssignments/{self.name}"

    @property
    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "Microsoft.Authorization/policyAssignments",
            "name": self.name,
            "properties": dict(self.properties),
        }

    @property
    def file_name(self) -> str:
        return f"assignments/{self.name}.json"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listed(items: list[str], limit: int) -> str:
    """``a, b, c``, shortened to ``a, b and 3 more`` so as to fit ``limit`` characters."""
    for shown in range(len(items), 0, -1):
        rest = len(items) - shown
        text = ", ".join(items[:shown]) + (f" and {rest} more" if rest else "")
        if len(text) <= limit:
            return text
    return f"{len(items)} items"


def per_scope(
    definitions: Iterable[PolicyDefinition],
    initiatives: Iterable[PolicySetDefinition],
    assignments: Iterable[PolicyAssignment],
) -> dict[str, dict[str, int]]:
    """Scope → how many definitions, initiatives and assignments it holds."""
    counts: dict[str, dict[str, int]] = {}

    def add(scope: str, kind: str) -> None:
        entry = counts.setdefault(scope, {"definitions": 0, "initiatives": 0, "assignments": 0})
        entry[kind] += 1

    for definition in definitions:
        add(definition.location, "definitions")
    for initiative in initiatives:
        add(initiative.location, "initiatives")
    for assignment in assignments:
        add(assignment.scope, "assignments")
    return counts


def limit_problems(
    definitions: Sequence[PolicyDefinition],
    initiatives: Sequence[PolicySetDefinition],
    assignments: Sequence[PolicyAssignment],
) -> list[Problem]:
    """Every scope, assignment or document over one of Azure's limits, with the count."""
    problems: list[Problem] = []
    limits = {
        "definitions": DEFINITIONS_PER_SCOPE,
        "initiatives": INITIATIVES_PER_SCOPE,
        "assignments": ASSIGNMENTS_PER_SCOPE,
    }
    for initiative in initiatives:
        if len(initiative.definitions) > POLICIES_PER_INITIATIVE:
            problems.append(
                Problem(
                    initiative.location,
                    f"initiative {initiative.name} would hold {len(initiative.definitions)} "
                    f"policies; Azure allows {POLICIES_PER_INITIATIVE}",
                )
            )
    for scope, counts in sorted(per_scope(definitions, initiatives, assignments).items()):
        for kind, limit in limits.items():
            if counts[kind] > limit:
                problems.append(
                    Problem(
                        scope,
                        f"would hold {counts[kind]} Brightline policy {kind}; Azure allows "
                        f"{limit} per scope. Merge restrictions at this scope, or give them "
                        "the same exemptions so that they share an assignment",
                    )
                )
    for assignment in assignments:
        count = len(assignment.properties["notScopes"])
        if count > NOT_SCOPES_PER_ASSIGNMENT:
            problems.append(
                Problem(
                    assignment.scope,
                    f"assignment {assignment.name} would exclude {count} notScopes; Azure "
                    f"allows {NOT_SCOPES_PER_ASSIGNMENT}",
                )
            )
    items: list[PolicyDefinition | PolicySetDefinition | PolicyAssignment] = [
        *definitions,
        *initiatives,
        *assignments,
    ]
    for item in items:
        size = len(json.dumps(item.document).encode())
        if size > REQUEST_BYTES:
            problems.append(
                Problem(item.id, f"{size} bytes; Azure accepts at most {REQUEST_BYTES}")
            )
    return problems


def description(
    rid: str,
    conditions: list[AzureCondition],
    locations: tuple[str, ...] | None,
    expressed: tuple[str, ...],
    gaps: list[Gap],
) -> str:
    """Exactly what the rule denies, then what of the restriction it cannot express.

    Built from the rule's own conditions, never from the restriction's patterns, so that
    it claims no deny the rule does not make; shortened to Azure's 512 characters by
    listing fewer items ("and 3 more"), the manifest and metadata having them all.
    """
    resources = []
    for condition in conditions:
        types = " or ".join(condition.types)
        kinds = f" of kind {' or '.join(condition.kinds)}" if condition.kinds else ""
        resources.append(f"{types}{kinds}")
    where = f"in {', '.join(locations)}" if locations else "in every location"
    missing = [g.item for g in gaps]
    tail = " Not expressed (the decision API enforces it): {}." if missing else ""
    head = "Brightline {}: denies creating or updating {} {} (for {})."
    fixed = len(head.format(rid, "", where, "")) + len(tail.format(""))
    room = DESCRIPTION_LENGTH - fixed
    if room < 60:
        where = f"in {len(locations)} locations" if locations else "in every location"
        room = DESCRIPTION_LENGTH - len(head.format(rid, "", where, "")) - len(tail.format(""))
    text = head.format(
        rid,
        listed(resources, room // 2),
        where,
        listed(list(expressed), room // 4),
    )
    if missing:
        text += tail.format(listed(missing, DESCRIPTION_LENGTH - len(text) - len(tail.format(""))))
    return cut(text, DESCRIPTION_LENGTH)
