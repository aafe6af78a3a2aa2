"""Rendering a snapshot as Google Cloud Organization Policy (API v2).

The mapping (also in docs/exports.md):

- a restriction of whole services in every region denies their Google service names
  (``compute.googleapis.com``, through a :class:`GcpServiceMap`) with the list constraint
  ``gcp.restrictServiceUsage``: a policy ``<resource>/policies/gcp.restrictServiceUsage``
  whose rule lists them in ``values.deniedValues``, ``inheritFromParent: true`` so that
  what is denied higher up still holds;
- a restriction of every service of the catalog in some regions denies those locations
  with ``gcp.resourceLocations`` (``deniedValues``), the only constraint with a region;
- an operation the map ties to a resource type (``compute.vm: create``) becomes a custom
  constraint (``organizations/<org>/customConstraints/custom.bl…``: ``resourceTypes``,
  ``methodTypes``, a CEL ``condition``, ``actionType: DENY``), defined once in the
  organization and enforced by a policy ``<resource>/policies/custom.bl…`` with
  ``rules: [{enforce: true}]``;
- the policies go on the organization, folder or project each node stands for: its
  ``gcp_name`` attribute (``folders/123``, ``projects/415104041262``; a project without
  one: ``projects/<node id>``), with ``gcp_type`` ``organization``, ``folder`` or
  ``project``, as the Google Cloud importer writes them. A policy applies to everything
  below its resource and has no "unless", so exempt subtrees are left out by putting the
  policies on the scope's children that hold no exempt node, recursively (as for SCPs).
  All restrictions on one resource and constraint share one policy (Google allows one).

What Organization Policy cannot say is a :class:`Gap`: single operations of a service
without a resource type, per-service regions (``gcp.restrictServiceUsage`` has no
region; ``gcp.resourceLocations`` applies to every service), time windows (given ``at``,
restrictions not in force then are left out), services not mapped or not on Google's
list of services ``gcp.restrictServiceUsage`` supports, nodes not imported from Google
Cloud. Dry-run restrictions are not exported.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import yaml

from brightline.exports.aws_scp import attachment_nodes
from brightline.exports.cloud import (
    Gap,
    RestrictionReport,
    ServiceLookup,
    Status,
    map_actions,
    map_regions,
    operations_by_service,
    remove_stale,
    status_of,
    write_text,
)
from brightline.exports.maps import GcpRule, GcpServiceMap, Mapped, load_gcp_map
from brightline.policy import Restriction, Snapshot, format_time
from brightline.world import Node

FORMAT: Final = "brightline-gcp-org-policy/1"
SERVICE_USAGE: Final = "gcp.restrictServiceUsage"
RESOURCE_LOCATIONS: Final = "gcp.resourceLocations"
# organizations.customConstraints (REST v2): name at most 70 characters after the
# `organizations/<id>/customConstraints/` prefix, displayName 200, description 2000.
CONSTRAINT_NAME_LENGTH: Final = 70
DISPLAY_NAME_LENGTH: Final = 200
DESCRIPTION_LENGTH: Final = 2000

_TYPES: Final = {"organization": "organizations", "folder": "folders", "project": "projects"}
_RESOURCE: Final = re.compile(r"(organizations|folders|projects)/[A-Za-z0-9-]{1,64}")
_PROJECT_ID: Final = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
GLOBAL_NOTES: Final = (
    "gcp.restrictServiceUsage denies the use of a service's resources in the projects "
    "below the policy, existing ones included; it supports only the services on Google's "
    "list 'Restricting resource usage supported services'.",
    "gcp.resourceLocations and custom constraints are evaluated when resources are "
    "created (or updated): existing resources keep working, and calls that create no "
    "resource are not stopped. The decision API must cover them.",
    "Organization Policy has no time condition: a restriction's window is not expressed; "
    "the CLI exports what is in force now. Deploy at not_before, delete at not_after.",
    "Dry-run restrictions are not exported; their would-deny reports come from the decision API.",
    "Resources below a scope with exemptions get their own policies: folders or projects "
    "created later under such a scope are not covered until the export is run again.",
    "Create the custom constraints first (gcloud org-policies set-custom-constraint), then "
    "the policies (gcloud org-policies set-policy).",
)


def gcp_resource(node: Node) -> str | None:
    """The Google Cloud resource name a node stands for, or None when not imported."""
    gcp_type = node.attrs.get("gcp_type")
    if not isinstance(gcp_type, str) or gcp_type not in _TYPES:
        return None
    prefix = _TYPES[gcp_type] + "/"
    name = node.attrs.get("gcp_name")
    if isinstance(name, str) and name.startswith(prefix) and _RESOURCE.fullmatch(name):
        return name
    if gcp_type == "project" and _PROJECT_ID.fullmatch(node.id):
        return prefix + node.id
    return None


@dataclass(frozen=True, slots=True)
class CustomConstraint:
    """A custom constraint, defined in an organization and enforced by policies."""

    name: str
    rule: GcpRule
    document: Mapping[str, Any]

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def file_name(self) -> str:
        org = self.name.split("/")[1]
        return f"custom-constraints/{org}-{self.short_name}.yaml"


@dataclass(frozen=True, slots=True)
class OrgPolicy:
    """One policy: a constraint set on one organization, folder or project."""

    resource: str
    node: str
    constraint: str
    restrictions: tuple[str, ...]
    document: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.resource}/policies/{self.constraint}"

    @property
    def file_name(self) -> str:
        return f"policies/{self.resource.replace('/', '-')}-{self.constraint}.yaml"


@dataclass(frozen=True, slots=True)
class OrgPolicyExport:
    snapshot: str
    constraints: tuple[CustomConstraint, ...]
    policies: tuple[OrgPolicy, ...]
    restrictions: tuple[RestrictionReport, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...] = field(default=GLOBAL_NOTES)

    @property
    def dry_run(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.restrictions if r.status is Status.DRY_RUN)

    def manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "snapshot": self.snapshot,
            "custom_constraints": [
                {"name": c.name, "file": c.file_name, "resource_type": c.rule.resource_type}
                for c in self.constraints
            ],
            "policies": [
                {
                    "name": p.name,
                    "file": p.file_name,
                    "constraint": p.constraint,
                    "targets": [p.resource],
                    "node": p.node,
                    "restrictions": list(p.restrictions),
                }
                for p in self.policies
            ],
            "restrictions": [r.as_json() for r in self.restrictions],
            "not_exportable": [g.as_json() for g in self.gaps],
            "dry_run_not_exported": list(self.dry_run),
            "notes": list(self.notes),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest(),
            "custom_constraints": {c.name: dict(c.document) for c in self.constraints},
            "policies": {p.name: dict(p.document) for p in self.policies},
        }

    def write(self, out: Path) -> list[Path]:
        """``custom-constraints/*.yaml``, ``policies/*.yaml`` (as gcloud reads them) and
        ``manifest.json``; files of an earlier export there that this one does not write
        are removed."""
        written: list[Path] = []
        items: list[CustomConstraint | OrgPolicy] = [*self.constraints, *self.policies]
        for item in items:
            text = yaml.safe_dump(dict(item.document), sort_keys=False, allow_unicode=True)
            written.append(write_text(out / item.file_name, text))
        remove_stale(out / "custom-constraints", "*.yaml", written)
        remove_stale(out / "policies", "*.yaml", written)
        manifest = json.dumps(self.manifest(), indent=2, ensure_ascii=False) + "\n"
        written.append(write_text(out / "manifest.json", manifest))
        return written


@dataclass
class _Collected:
    """Per (resource, constraint): the node, denied values or enforcement, restrictions."""

    node: str
    values: set[str] = field(default_factory=set)
    restrictions: list[str] = field(default_factory=list)


def export_gcp_org_policy(
    snapshot: Snapshot, service_map: GcpServiceMap | None = None, *, at: datetime | None = None
) -> OrgPolicyExport:
    """Custom constraints and policies for a snapshot's enforcing restrictions."""
    service_map = service_map or load_gcp_map()
    reports: list[RestrictionReport] = []
    gaps: list[Gap] = []
    collected: dict[tuple[str, str], _Collected] = {}
    constraints: dict[str, CustomConstraint] = {}
    for restriction in snapshot.restrictions:
        if not restriction.enforcing:
            reports.append(RestrictionReport(restriction.id, Status.DRY_RUN))
            continue
        if at is not None and not restriction.in_window(at):
            note = f"not in force at {format_time(at)}: export again when it is"
            reports.append(RestrictionReport(restriction.id, Status.OUT_OF_WINDOW, notes=(note,)))
            continue
        rendered = _render(restriction, snapshot, service_map)
        gaps.extend(rendered.gaps)
        for constraint in rendered.constraints:
            constraints.setdefault(constraint.name, constraint)
        for (resource, node), values in rendered.placed.items():
            for constraint_name, denied in values.items():
                entry = collected.setdefault((resource, constraint_name), _Collected(node))
                entry.values.update(denied)
                entry.restrictions.append(restriction.id)
        exported = bool(rendered.placed)
        reports.append(
            RestrictionReport(
                restriction.id,
                status_of(exported, rendered.gaps),
                targets=tuple(sorted({r for r, _ in rendered.placed})),
                policies=tuple(
                    sorted(
                        {f"{r}/policies/{c}" for (r, _), v in rendered.placed.items() for c in v}
                    )
                ),
                notes=rendered.notes,
            )
        )
    policies = tuple(
        OrgPolicy(
            resource,
            entry.node,
            constraint,
            tuple(dict.fromkeys(entry.restrictions)),
            _policy_document(resource, constraint, entry.values),
        )
        for (resource, constraint), entry in sorted(collected.items())
    )
    return OrgPolicyExport(
        snapshot.version,
        tuple(sorted(constraints.values(), key=lambda c: c.name)),
        policies,
        tuple(reports),
        tuple(sorted(gaps)),
    )


def _policy_document(resource: str, constraint: str, values: set[str]) -> dict[str, Any]:
    name = f"{resource}/policies/{constraint}"
    if constraint.startswith("custom."):
        return {"name": name, "spec": {"rules": [{"enforce": True}]}}
    # A list constraint: deny these values here, and keep what the parents deny.
    return {
        "name": name,
        "spec": {
            "inheritFromParent": True,
            "rules": [{"values": {"deniedValues": sorted(values)}}],
        },
    }


@dataclass(frozen=True, slots=True)
class _Rendered:
    # (resource name, node id) → constraint → denied values (empty for custom constraints)
    placed: Mapping[tuple[str, str], Mapping[str, frozenset[str]]]
    constraints: tuple[CustomConstraint, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...] = ()


_PER_SERVICE_REGIONS: Final = (
    "per-service regions: gcp.restrictServiceUsage has no region and gcp.resourceLocations "
    "applies to every service"
)


def _render(restriction: Restriction, snapshot: Snapshot, service_map: GcpServiceMap) -> _Rendered:
    directory = snapshot.world.directory
    rid = restriction.id
    nodes = attachment_nodes(directory, restriction.scope, restriction.exempt)
    resources: list[tuple[str, str]] = []
    for item, node_id in [("scope", restriction.scope), *(("target", n) for n in nodes)]:
        resource = gcp_resource(directory[node_id])
        if resource is None:
            reason = "not imported from Google Cloud: no organization, folder or project"
            return _Rendered({}, (), (Gap(rid, f"{item} {node_id}", reason),))
        if item == "target":
            resources.append((resource, node_id))
    gaps: list[Gap] = []
    notes: list[str] = []
    if not nodes:
        notes.append("every node below the scope is exempt: nothing to set")
    elif nodes != (restriction.scope,):
        notes.append(
            "exemptions expressed by setting the policies on the scope's non-exempt "
            "descendants: " + ", ".join(r for r, _ in resources)
        )
    if restriction.not_before or restriction.not_after:
        gaps.append(
            Gap(
                rid,
                "time window",
                "Organization Policy has no time condition: deploy it "
                f"from {format_time(restriction.not_before) or 'now'} until "
                f"{format_time(restriction.not_after) or 'lifted'} only",
            )
        )
    covered = operations_by_service(restriction, snapshot.world.catalog)
    every_service = len(covered) == len(snapshot.world.catalog.services) and all(
        whole for _, whole in covered.values()
    )
    per_constraint: dict[str, frozenset[str]] = {}
    found_constraints: list[CustomConstraint] = []
    if restriction.regions is not None and every_service:
        locations, region_gaps = map_regions(restriction, service_map.region, "a Google Cloud")
        gaps.extend(region_gaps)
        if locations:
            per_constraint[RESOURCE_LOCATIONS] = frozenset(locations)
            notes.append("every service in some regions: gcp.resourceLocations deniedValues")
    else:
        lookup = service_map.rules if restriction.regions is None else _regionless(service_map)
        mapped = map_actions(restriction, snapshot.world.catalog, lookup)
        gaps.extend(mapped.gaps)
        notes.extend(mapped.notes)
        services = frozenset(r.service for r in mapped.found if r.service)
        if services:
            per_constraint[SERVICE_USAGE] = services
        rules = [r for r in mapped.found if not r.service]
        organization = gcp_resource(directory[directory.root(restriction.scope)])
        if rules and (organization is None or not organization.startswith("organizations/")):
            gaps.extend(
                Gap(
                    rid,
                    f"resource type {r.resource_type}",
                    "custom constraints are defined "
                    "in an organization: the scope's root is not a Google Cloud organization",
                )
                for r in rules
            )
        elif rules and organization is not None:
            for rule in rules:
                constraint = _constraint(organization, rule)
                found_constraints.append(constraint)
                per_constraint[constraint.short_name] = frozenset()
    placed = dict.fromkeys(resources, per_constraint) if per_constraint else {}
    return _Rendered(placed, tuple(found_constraints), tuple(gaps), tuple(notes))


def _regionless(service_map: GcpServiceMap) -> ServiceLookup[GcpRule]:
    """For a restriction limited to regions but not to every service: nothing expresses it."""

    def lookup(service: str, operations: tuple[str, ...], *, whole: bool) -> Mapped[GcpRule]:
        mapped = service_map.rules(service, operations, whole=whole)
        if not mapped.found:
            return mapped
        return Mapped(missing=dict.fromkeys(operations, _PER_SERVICE_REGIONS))

    return lookup


def _constraint(organization: str, rule: GcpRule) -> CustomConstraint:
    """The custom constraint for one rule, named from the rule (shared by restrictions)."""
    key = "\n".join([rule.resource_type, *rule.method_types, rule.condition])
    short = "custom.brightline" + hashlib.sha256(key.encode()).hexdigest()[:16]
    assert len(short) <= CONSTRAINT_NAME_LENGTH
    methods = " and ".join(rule.method_types)
    description = (
        f"Brightline: denies {methods} of {rule.resource_type} where {rule.condition}. "
        "Policies enforcing it name the Brightline restrictions they carry in the export "
        "manifest."
    )
    return CustomConstraint(
        name=f"{organization}/customConstraints/{short}",
        rule=rule,
        document={
            "name": f"{organization}/customConstraints/{short}",
            "resourceTypes": [rule.resource_type],
            "methodTypes": list(rule.method_types),
            "condition": rule.condition,
            "actionType": "DENY",
            "displayName": f"Brightline: deny {methods} {rule.resource_type}"[:DISPLAY_NAME_LENGTH],
            "description": description[:DESCRIPTION_LENGTH],
        },
    )
