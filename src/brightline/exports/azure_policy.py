"""Rendering a snapshot as Azure Policy definitions (effect ``deny``) and assignments.

The mapping (also in docs/exports.md):

- every enforcing restriction becomes one custom policy definition, saved at the
  restriction's scope, whose ``policyRule.if`` matches the resource types (and ``kind``
  values) of its services, through an :class:`AzureTypeMap`, and, when it lists regions,
  ``location in [...]``; ``then.effect`` is ``deny``;
- and one assignment of that definition at the scope: the management group
  (``/providers/Microsoft.Management/managementGroups/<id>``) or subscription
  (``/subscriptions/<id>``) that the node stands for, as imported from Azure management
  groups; exempt nodes become the assignment's ``notScopes``.

Azure Policy ``deny`` acts when a resource is created or updated through Azure Resource
Manager: existing resources and data-plane calls are not stopped, and there is no time
condition. A restriction's window is therefore a :class:`Gap`; given ``at``, restrictions
not in force then are left out (status ``out-of-window``) rather than denying early or
late. Dry-run restrictions are not exported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

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

FORMAT: Final = "brightline-azure-policy/1"
GROUP_PREFIX: Final = "/providers/Microsoft.Management/managementGroups/"
SUBSCRIPTION_PREFIX: Final = "/subscriptions/"
_AUTHORIZATION: Final = "/providers/Microsoft.Authorization"
GLOBAL_NOTES: Final = (
    "Azure Policy deny is evaluated only when a resource is created or updated through "
    "Azure Resource Manager: existing resources keep working and data-plane calls "
    "(reading a blob, transcribing with an existing Speech account) are not stopped. "
    "The decision API must cover them.",
    "Azure Policy has no time condition: a restriction's window is not expressed. Deploy "
    "an assignment at its not_before and delete it at its not_after.",
    "Dry-run restrictions are not exported; their would-deny reports come from the decision API.",
    "Each definition is saved at its assignment's scope: create the definition, then the "
    "assignment.",
)


@dataclass(frozen=True, slots=True)
class PolicyDefinition:
    name: str
    location: str  # the management group or subscription it is saved at
    restriction: str
    properties: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"{self.location}{_AUTHORIZATION}/policyDefinitions/{self.name}"

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
class PolicyAssignment:
    name: str
    scope: str
    restriction: str
    properties: Mapping[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.scope}{_AUTHORIZATION}/policyAssignments/{self.name}"

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


@dataclass(frozen=True, slots=True)
class AzurePolicyExport:
    snapshot: str
    definitions: tuple[PolicyDefinition, ...]
    assignments: tuple[PolicyAssignment, ...]
    restrictions: tuple[RestrictionReport, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...] = field(default=GLOBAL_NOTES)

    @property
    def dry_run(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.restrictions if r.status is Status.DRY_RUN)

    def manifest(self) -> dict[str, Any]:
        definitions = {d.restriction: d for d in self.definitions}
        return {
            "format": FORMAT,
            "snapshot": self.snapshot,
            "policies": [
                {
                    "restriction": a.restriction,
                    "definition": {
                        "name": definitions[a.restriction].name,
                        "id": definitions[a.restriction].id,
                        "file": definitions[a.restriction].file_name,
                    },
                    "assignment": {"name": a.name, "id": a.id, "file": a.file_name},
                    "targets": [a.scope],
                    "not_scopes": list(a.properties.get("notScopes", [])),
                    "restrictions": [a.restriction],
                    "notes": list(a.notes),
                }
                for a in self.assignments
            ],
            "restrictions": [r.as_json() for r in self.restrictions],
            "not_exportable": [g.as_json() for g in self.gaps],
            "dry_run_not_exported": list(self.dry_run),
            "notes": list(self.notes),
        }

    def as_json(self) -> dict[str, Any]:
        """The manifest, every definition and every assignment, e.g. for an HTTP answer."""
        return {
            "manifest": self.manifest(),
            "definitions": {d.name: d.document for d in self.definitions},
            "assignments": {a.name: a.document for a in self.assignments},
        }

    def write(self, out: Path) -> list[Path]:
        """``definitions/*.json``, ``assignments/*.json`` and ``manifest.json``.

        Files of an earlier export in those folders that this export does not write are
        removed, so that none is deployed by mistake.
        """
        items: list[PolicyDefinition | PolicyAssignment] = [*self.definitions, *self.assignments]
        written: list[Path] = []
        for item in items:
            text = json.dumps(item.document, indent=2, ensure_ascii=False) + "\n"
            written.append(write_text(out / item.file_name, text))
        remove_stale(out / "definitions", "brightline-*.json", written)
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
    """Definitions and assignments for a snapshot's enforcing restrictions.

    With ``at``, a restriction whose window does not contain ``at`` is left out (it
    would deny at the wrong time, since Azure Policy cannot tell the time).
    """
    type_map = type_map or load_azure_map()
    definitions: list[PolicyDefinition] = []
    assignments: list[PolicyAssignment] = []
    reports: list[RestrictionReport] = []
    gaps: list[Gap] = []
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
        if rendered.definition is not None and rendered.assignment is not None:
            definitions.append(rendered.definition)
            assignments.append(rendered.assignment)
            reports.append(
                RestrictionReport(
                    restriction.id,
                    status_of(True, rendered.gaps),
                    targets=(rendered.assignment.scope,),
                    policies=(rendered.definition.name, rendered.assignment.name),
                    notes=rendered.notes,
                )
            )
        else:
            reports.append(
                RestrictionReport(restriction.id, Status.NOT_EXPORTED, notes=rendered.notes)
            )
    return AzurePolicyExport(
        snapshot.version,
        tuple(definitions),
        tuple(assignments),
        tuple(reports),
        tuple(sorted(gaps)),
    )


@dataclass(frozen=True, slots=True)
class _Rendered:
    definition: PolicyDefinition | None
    assignment: PolicyAssignment | None
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...] = ()


def _render(restriction: Restriction, snapshot: Snapshot, type_map: AzureTypeMap) -> _Rendered:
    directory = snapshot.world.directory
    rid = restriction.id
    scope = azure_scope(directory[restriction.scope])
    if scope is None:
        reason = "not imported from Azure management groups: no scope to assign at"
        return _Rendered(None, None, (Gap(rid, f"scope {restriction.scope}", reason),))
    not_scopes: list[str] = []
    for node_id in restriction.exempt:
        exempt = azure_scope(directory[node_id])
        if exempt is None:
            reason = "not imported from Azure: cannot be a notScope, and denying it is wrong"
            return _Rendered(None, None, (Gap(rid, f"exempt {node_id}", reason),))
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
                f"Azure Policy has no time condition: deploy the assignment for {window} only",
            )
        )
    if not conditions or locations == ():
        return _Rendered(None, None, tuple(gaps), tuple(notes))
    policy_rule = {"if": _if(conditions, locations), "then": {"effect": "deny"}}
    digest = hashlib.sha256(rid.encode()).hexdigest()
    # No snapshot version here: a definition changes only when its restriction does.
    metadata = {
        "category": "Brightline",
        "brightline": {"restriction": rid, "reason": dict(restriction.reason)},
    }
    definition = PolicyDefinition(
        name=f"brightline-{digest[:20]}",
        location=scope,
        restriction=rid,
        properties={
            "displayName": _cut(f"Brightline restriction {rid}", 128),
            "description": _cut(_description(restriction), 512),
            "policyType": "Custom",
            "mode": "All",
            "metadata": metadata,
            "parameters": {},
            "policyRule": policy_rule,
        },
    )
    # Assignment names at management-group scope are limited to 24 characters.
    name = "bl-" + hashlib.sha256(f"{rid}\n{scope}".encode()).hexdigest()[:16]
    assignment = PolicyAssignment(
        name=name,
        scope=scope,
        restriction=rid,
        properties={
            "displayName": _cut(f"Brightline restriction {rid}", 128),
            "description": _cut(_description(restriction), 512),
            "policyDefinitionId": definition.id,
            "scope": scope,
            "notScopes": sorted(not_scopes),
            "enforcementMode": "Default",
            "parameters": {},
            "metadata": metadata,
            "nonComplianceMessages": [
                {"message": _cut(f"Denied by Brightline restriction {rid}.", 1024)}
            ],
        },
        notes=tuple(notes),
    )
    return _Rendered(definition, assignment, tuple(gaps), tuple(notes))


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


def _description(restriction: Restriction) -> str:
    actions = ", ".join(str(a) for a in restriction.actions)
    regions = ", ".join(sorted(restriction.regions)) if restriction.regions else "every region"
    return f"Exported from Brightline. Denies {actions} in {regions}."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
