"""Rendering a snapshot as Azure Policy definitions (effect ``deny``) and assignments.

The mapping (also in docs/exports.md):

- every enforcing restriction becomes one custom policy definition, saved at the
  restriction's scope, whose ``policyRule.if`` matches the resource types (and ``kind``
  values) of its services, through an :class:`AzureTypeMap`, and, when it lists regions,
  ``location in [...]``; ``then.effect`` is ``deny``;
- the definitions of the restrictions with the same scope and the same exempt nodes are
  grouped into one initiative (policy set definition), saved at the scope, and assigned
  once there: the management group
  (``/providers/Microsoft.Management/managementGroups/<id>``) or subscription
  (``/subscriptions/<id>``) that the node stands for, as imported from Azure management
  groups; exempt nodes become the assignment's ``notScopes``. A scope therefore holds one
  assignment per distinct set of exemptions, not one per restriction;
- every definition's description says exactly what its rule denies (resource types,
  kinds, locations) and lists what of the restriction it could not express;
- Azure's limits (:mod:`brightline.exports.azure_documents`) are checked: an export that
  would exceed one raises :class:`InvalidInputError` naming the scope and the count.

Azure Policy ``deny`` acts when a resource is created or updated through Azure Resource
Manager: existing resources and data-plane calls are not stopped, and there is no time
condition. A restriction's window is therefore a :class:`Gap`; given ``at``, restrictions
not in force then are left out (status ``out-of-window``) rather than denying early or
late. Dry-run restrictions are not exported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from brightline.errors import InvalidInputError
from brightline.exports.azure_documents import (
    ASSIGNMENT_NAME_AT_GROUP,
    ASSIGNMENTS_PER_SCOPE,
    DEFINITIONS_PER_SCOPE,
    DESCRIPTION_LENGTH,
    DISPLAY_NAME_LENGTH,
    GROUP_PREFIX,
    INITIATIVES_PER_SCOPE,
    MESSAGE_LENGTH,
    NOT_SCOPES_PER_ASSIGNMENT,
    POLICIES_PER_INITIATIVE,
    SUBSCRIPTION_PREFIX,
    PolicyAssignment,
    PolicyDefinition,
    PolicySetDefinition,
    cut,
    description,
    limit_problems,
    listed,
    per_scope,
)
from brightline.exports.cloud import (
    Gap,
    RestrictionReport,
    ServiceLookup,
    Status,
    map_actions,
    map_regions,
    remove_stale,
    status_of,
    write_text,
)
from brightline.exports.maps import AzureCondition, AzureTypeMap, Mapped, load_azure_map
from brightline.policy import Restriction, Snapshot, format_time
from brightline.world import Node

FORMAT: Final = "brightline-azure-policy/2"
GLOBAL_NOTES: Final = (
    "Azure Policy deny is evaluated only when a resource is created or updated through "
    "Azure Resource Manager: existing resources keep working and data-plane calls "
    "(reading a blob, transcribing with an existing Speech account) are not stopped. "
    "The decision API must cover them.",
    "Azure Policy has no time condition: a restriction's window is not expressed. Export "
    "again at its not_before and not_after: its initiative gains or loses its definition.",
    "Dry-run restrictions are not exported; their would-deny reports come from the decision API.",
    "Definitions and initiatives are saved at their assignment's scope: create the "
    "definitions, then the initiative, then the assignment.",
    f"Azure allows {ASSIGNMENTS_PER_SCOPE} assignments, {INITIATIVES_PER_SCOPE} initiatives "
    f"and {DEFINITIONS_PER_SCOPE} custom definitions per scope: restrictions sharing a "
    "scope and its exemptions share one initiative and one assignment.",
)


@dataclass(frozen=True, slots=True)
class AzurePolicyExport:
    snapshot: str
    definitions: tuple[PolicyDefinition, ...]
    initiatives: tuple[PolicySetDefinition, ...]
    assignments: tuple[PolicyAssignment, ...]
    restrictions: tuple[RestrictionReport, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...] = field(default=GLOBAL_NOTES)

    @property
    def dry_run(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.restrictions if r.status is Status.DRY_RUN)

    def per_scope(self) -> dict[str, dict[str, int]]:
        """Scope → how many definitions, initiatives and assignments it holds."""
        return per_scope(self.definitions, self.initiatives, self.assignments)

    def manifest(self) -> dict[str, Any]:
        sets = {i.id: i for i in self.initiatives}
        policies = []
        for a in self.assignments:
            initiative = sets[a.properties["policyDefinitionId"]]
            policies.append(
                {
                    "assignment": {"name": a.name, "id": a.id, "file": a.file_name},
                    "initiative": {
                        "name": initiative.name,
                        "id": initiative.id,
                        "file": initiative.file_name,
                    },
                    "definitions": [
                        {
                            "restriction": d.restriction,
                            "name": d.name,
                            "id": d.id,
                            "file": d.file_name,
                        }
                        for d in initiative.definitions
                    ],
                    "targets": [a.scope],
                    "not_scopes": list(a.properties.get("notScopes", [])),
                    "restrictions": list(a.restrictions),
                    "notes": list(a.notes),
                }
            )
        return {
            "format": FORMAT,
            "snapshot": self.snapshot,
            "limits": {
                "definitions_per_scope": DEFINITIONS_PER_SCOPE,
                "initiatives_per_scope": INITIATIVES_PER_SCOPE,
                "assignments_per_scope": ASSIGNMENTS_PER_SCOPE,
                "policies_per_initiative": POLICIES_PER_INITIATIVE,
                "not_scopes_per_assignment": NOT_SCOPES_PER_ASSIGNMENT,
            },
            "per_scope": self.per_scope(),
            "policies": policies,
            "restrictions": [r.as_json() for r in self.restrictions],
            "not_exportable": [g.as_json() for g in self.gaps],
            "dry_run_not_exported": list(self.dry_run),
            "notes": list(self.notes),
        }

    def as_json(self) -> dict[str, Any]:
        """The manifest and every definition, initiative and assignment (an HTTP answer)."""
        return {
            "manifest": self.manifest(),
            "definitions": {d.name: d.document for d in self.definitions},
            "initiatives": {i.name: i.document for i in self.initiatives},
            "assignments": {a.name: a.document for a in self.assignments},
        }

    def write(self, out: Path) -> list[Path]:
        """``definitions/``, ``initiatives/``, ``assignments/`` (``*.json``), ``manifest.json``.

        Files of an earlier export in those folders that this export does not write are
        removed, so that none is deployed by mistake.
        """
        items: list[PolicyDefinition | PolicySetDefinition | PolicyAssignment] = [
            *self.definitions,
            *self.initiatives,
            *self.assignments,
        ]
        written: list[Path] = []
        for item in items:
            text = json.dumps(item.document, indent=2, ensure_ascii=False) + "\n"
            written.append(write_text(out / item.file_name, text))
        remove_stale(out / "definitions", "brightline-*.json", written)
        remove_stale(out / "initiatives", "brightline-set-*.json", written)
        remove_stale(out / "assignments", "bl-*.json", written)
        manifest = json.dumps(self.manifest(), indent=2, ensure_ascii=False) + "\n"
        written.append(write_text(out / "manifest.json", manifest))
        return written


def azure_scope(node: Node) -> str | None:
    """The Azure resource id a node stands for, or None when not imported from Azure."""
    azure_type = node.attrs.get("azure_type")
    resource_id = node.attrs.get("azure_id")
    if azure_type == "management-group":
        prefix = GROUP_PREFIX
    elif azure_type == "subscription":
        prefix = SUBSCRIPTION_PREFIX
    else:
        return None
    if isinstance(resource_id, str) and resource_id.lower().startswith(prefix.lower()):
        return resource_id
    return prefix + node.id


def export_azure_policy(
    snapshot: Snapshot, type_map: AzureTypeMap | None = None, *, at: datetime | None = None
) -> AzurePolicyExport:
    """Definitions, initiatives and assignments for a snapshot's enforcing restrictions.

    With ``at``, a restriction whose window does not contain ``at`` is left out (it
    would deny at the wrong time, since Azure Policy cannot tell the time). Raises
    InvalidInputError naming each scope that would exceed one of Azure's limits, with
    the count; nothing is exported then.
    """
    type_map = type_map or load_azure_map()
    reports: list[RestrictionReport] = []
    gaps: list[Gap] = []
    groups: dict[tuple[str, tuple[str, ...]], list[_Rendered]] = {}
    for restriction in snapshot.restrictions:
        if not restriction.enforcing:
            reports.append(RestrictionReport(restriction.id, Status.DRY_RUN))
            continue
        if at is not None and not restriction.in_window(at):
            note = f"not in force at {format_time(at)}: export again when it is"
            reports.append(RestrictionReport(restriction.id, Status.OUT_OF_WINDOW, notes=(note,)))
            continue
        rendered = _render(restriction, snapshot, type_map)
        gaps.extend(rendered.gaps)
        if rendered.definition is None:
            reports.append(
                RestrictionReport(restriction.id, Status.NOT_EXPORTED, notes=rendered.notes)
            )
            continue
        groups.setdefault((rendered.scope, rendered.not_scopes), []).append(rendered)
        reports.append(
            RestrictionReport(
                restriction.id,
                status_of(True, rendered.gaps),
                targets=(rendered.scope,),
                notes=rendered.notes,
            )
        )
    definitions: list[PolicyDefinition] = []
    initiatives: list[PolicySetDefinition] = []
    assignments: list[PolicyAssignment] = []
    # One initiative per group: a scope holds at most 500 custom definitions, fewer than
    # the 1,000 policies an initiative may hold, so a group never needs two.
    for (scope, not_scopes), members in groups.items():
        initiative, assignment = _assign(scope, not_scopes, members)
        definitions.extend(r.definition for r in members if r.definition is not None)
        initiatives.append(initiative)
        assignments.append(assignment)
    export = AzurePolicyExport(
        snapshot.version,
        tuple(definitions),
        tuple(initiatives),
        tuple(assignments),
        tuple(_placed(reports, initiatives, assignments)),
        tuple(sorted(gaps)),
    )
    problems = limit_problems(definitions, initiatives, assignments)
    if problems:
        raise InvalidInputError(problems)
    return export


@dataclass(frozen=True, slots=True)
class _Rendered:
    definition: PolicyDefinition | None
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...] = ()
    scope: str = ""
    not_scopes: tuple[str, ...] = ()


def _render(restriction: Restriction, snapshot: Snapshot, type_map: AzureTypeMap) -> _Rendered:
    directory = snapshot.world.directory
    rid = restriction.id
    scope = azure_scope(directory[restriction.scope])
    if scope is None:
        reason = "not imported from Azure management groups: no scope to assign at"
        return _Rendered(None, (Gap(rid, f"scope {restriction.scope}", reason),))
    not_scopes: list[str] = []
    for node_id in restriction.exempt:
        exempt = azure_scope(directory[node_id])
        if exempt is None:
            reason = "not imported from Azure: cannot be a notScope, and denying it is wrong"
            return _Rendered(None, (Gap(rid, f"exempt {node_id}", reason),))
        not_scopes.append(exempt)
    lookup = _located_only(type_map) if restriction.regions is not None else type_map.conditions
    mapped = map_actions(restriction, snapshot.world.catalog, lookup)
    locations, region_gaps = map_regions(restriction, type_map.region, "an Azure")
    gaps = [*mapped.gaps, *region_gaps]
    notes = list(mapped.notes)
    conditions = list(mapped.found)
    if restriction.not_before or restriction.not_after:
        window = (
            f"{format_time(restriction.not_before) or 'always'} until "
            f"{format_time(restriction.not_after) or 'lifted'}"
        )
        gaps.append(
            Gap(
                rid,
                "time window",
                f"Azure Policy has no time condition: keep the definition in force for {window} "
                "only (export again at each end)",
            )
        )
    if not conditions or locations == ():
        return _Rendered(None, tuple(gaps), tuple(notes))
    policy_rule = {"if": _if(conditions, locations), "then": {"effect": "deny"}}
    digest = hashlib.sha256(rid.encode()).hexdigest()
    # No snapshot version here: a definition changes only when its restriction does.
    metadata = {
        "category": "Brightline",
        "brightline": {
            "restriction": rid,
            "reason": dict(restriction.reason),
            "expressed": list(mapped.expressed),
            "not_expressed": [g.item for g in gaps],
        },
    }
    definition = PolicyDefinition(
        name=f"brightline-{digest[:20]}",
        location=scope,
        restriction=rid,
        properties={
            "displayName": cut(f"Brightline restriction {rid}", DISPLAY_NAME_LENGTH),
            "description": description(rid, conditions, locations, mapped.expressed, gaps),
            "policyType": "Custom",
            "mode": "All",
            "metadata": metadata,
            "parameters": {},
            "policyRule": policy_rule,
        },
    )
    return _Rendered(definition, tuple(gaps), tuple(notes), scope, tuple(sorted(not_scopes)))


def _assign(
    scope: str, not_scopes: tuple[str, ...], members: list[_Rendered]
) -> tuple[PolicySetDefinition, PolicyAssignment]:
    """The initiative of some definitions sharing a scope and notScopes, and its assignment."""
    definitions = tuple(r.definition for r in members if r.definition is not None)
    restrictions = tuple(d.restriction for d in definitions)
    key = "\n".join([scope, *not_scopes])
    digest = hashlib.sha256(key.encode()).hexdigest()
    shown = listed(list(restrictions), 300)
    metadata = {"category": "Brightline", "brightline": {"restrictions": list(restrictions)}}
    initiative = PolicySetDefinition(
        name=f"brightline-set-{digest[:20]}",
        location=scope,
        definitions=definitions,
        properties={
            "displayName": cut(
                f"Brightline restrictions at {scope.rsplit('/', 1)[-1]}", DISPLAY_NAME_LENGTH
            ),
            "description": cut(
                f"Brightline restrictions {shown}. Each definition's description says what "
                "it denies and what it could not express.",
                DESCRIPTION_LENGTH,
            ),
            "policyType": "Custom",
            "metadata": metadata,
            "parameters": {},
            "policyDefinitions": [
                {
                    "policyDefinitionId": d.id,
                    "policyDefinitionReferenceId": d.name,
                    "parameters": {},
                }
                for d in definitions
            ],
        },
    )
    messages: list[dict[str, str]] = [
        {"message": cut(f"Denied by Brightline (restrictions {shown}).", MESSAGE_LENGTH)}
    ]
    messages.extend(
        {
            "message": cut(f"Denied by Brightline restriction {d.restriction}.", MESSAGE_LENGTH),
            "policyDefinitionReferenceId": d.name,
        }
        for d in definitions
    )
    # Assignment names at management-group scope are limited to 24 characters.
    name = "bl-" + digest[:16]
    assert len(name) <= ASSIGNMENT_NAME_AT_GROUP
    assignment = PolicyAssignment(
        name=name,
        scope=scope,
        restrictions=restrictions,
        properties={
            "displayName": initiative.properties["displayName"],
            "description": initiative.properties["description"],
            "policyDefinitionId": initiative.id,
            "scope": scope,
            "notScopes": list(not_scopes),
            "enforcementMode": "Default",
            "parameters": {},
            "metadata": metadata,
            "nonComplianceMessages": messages,
        },
        notes=tuple(dict.fromkeys(n for r in members for n in r.notes)),
    )
    return initiative, assignment


def _placed(
    reports: list[RestrictionReport],
    initiatives: list[PolicySetDefinition],
    assignments: list[PolicyAssignment],
) -> Iterable[RestrictionReport]:
    """Each report with the names of its definition, initiative and assignment."""
    placed: dict[str, tuple[str, ...]] = {}
    for initiative, assignment in zip(initiatives, assignments, strict=True):
        for definition in initiative.definitions:
            placed[definition.restriction] = (definition.name, initiative.name, assignment.name)
    for r in reports:
        yield RestrictionReport(r.id, r.status, r.targets, placed.get(r.id, ()), r.notes)


_NO_LOCATION: Final = (
    "a child resource type (A.B/parent/child) has no location of its own: a region "
    "condition cannot apply to it, and denying it in every region is too broad"
)


def _located_only(type_map: AzureTypeMap) -> ServiceLookup[AzureCondition]:
    """The map's conditions, with child resource types turned into gaps.

    For a restriction limited to regions: ``location`` is empty on child resources
    (blob containers, databases of a server), so a deny on them would never match.
    """

    def lookup(service: str, operations: tuple[str, ...], *, whole: bool) -> Mapped[AzureCondition]:
        mapped = type_map.conditions(service, operations, whole=whole)
        if not any(_has_child_type(c) for c in mapped.found):
            return mapped
        if whole:
            return Mapped(missing=dict.fromkeys(operations, _NO_LOCATION), note=mapped.note)
        found: list[AzureCondition] = []
        missing = dict(mapped.missing)
        for op in operations:
            for condition in type_map.conditions(service, (op,), whole=False).found:
                if _has_child_type(condition):
                    missing[op] = _NO_LOCATION
                elif condition not in found:
                    found.append(condition)
        return Mapped(tuple(found), missing, mapped.note)

    return lookup


def _has_child_type(condition: AzureCondition) -> bool:
    return any(t.count("/") > 1 for t in condition.types)


def _if(conditions: list[AzureCondition], locations: tuple[str, ...] | None) -> dict[str, Any]:
    plain = sorted({t for c in conditions if not c.kinds for t in c.types})
    parts: list[dict[str, Any]] = []
    if plain:
        parts.append(_type_condition(tuple(plain)))
    kinds: dict[tuple[str, ...], set[str]] = {}
    for condition in conditions:
        if condition.kinds:
            kinds.setdefault(tuple(sorted(condition.types)), set()).update(condition.kinds)
    for types, values in sorted(kinds.items()):
        parts.append({"allOf": [_type_condition(types), {"field": "kind", "in": sorted(values)}]})
    resource = parts[0] if len(parts) == 1 else {"anyOf": parts}
    if locations is None:
        return resource
    return {"allOf": [resource, {"field": "location", "in": list(locations)}]}


def _type_condition(types: tuple[str, ...]) -> dict[str, Any]:
    if len(types) == 1:
        return {"field": "type", "equals": types[0]}
    return {"field": "type", "in": list(types)}
