"""Rendering a snapshot as AWS Service Control Policies (SCPs).

The mapping (also in docs/exports.md):

- every enforcing restriction becomes one ``Deny`` statement (``Resource: "*"``) whose
  ``Action`` lists the IAM actions of its services (through an :class:`AwsActionMap`),
  with ``StringEquals aws:RequestedRegion`` on its regions (none = every region) and
  ``DateGreaterThanEquals`` / ``DateLessThan`` on ``aws:CurrentTime`` for its window;
- its statement goes into SCPs attached to the restriction's scope: the root, OU or
  account whose AWS id the node carries (as imported from AWS Organizations). An SCP
  applies to everything below its target and has no "unless", so an exempt subtree is
  expressed by attaching instead to those children of the scope that hold no exempt
  node, and splitting further down around exempt nodes;
- each target receives exactly the statements of the restrictions attached to it; targets
  that receive the same statements share policies, packed so that no policy exceeds
  :data:`SCP_SIZE_LIMIT` characters of minified JSON and no target holds more than its
  budget of SCPs (:mod:`brightline.exports.scp_packing`); a statement too large for one
  policy is cut into several (Sids ``…P1``, ``…P2``). An export that cannot fit a target's
  budget raises :class:`InvalidInputError` naming the target and the count;
- dry-run restrictions are not exported: an SCP cannot report without denying.

What an SCP cannot say (unmapped services and regions, actions outside the SCP grammar,
the management account, nodes not imported from AWS) is reported as a :class:`Gap` in
the manifest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from brightline.errors import InvalidInputError, Problem
from brightline.exports.cloud import (
    Gap,
    RestrictionReport,
    Status,
    map_actions,
    map_regions,
    minified,
    remove_stale,
    status_of,
    write_text,
)
from brightline.exports.maps import AwsActionMap, load_aws_map
from brightline.exports.scp_packing import (
    RESERVED_PER_TARGET,
    SCP_ACTION,
    SCP_SIZE_LIMIT,
    SCPS_PER_ORGANIZATION,
    SCPS_PER_TARGET,
    Packed,
    ScpStatement,
    grammar_problems,
    pack_targets,
    statements_for,
)
from brightline.policy import Restriction, Snapshot
from brightline.world import Directory, Node

FORMAT: Final = "brightline-aws-scp/2"

_TARGET_TYPES: Final = {
    "root": ("ROOT", re.compile(r"r-[0-9a-z]{4,32}")),
    "organizational-unit": ("ORGANIZATIONAL_UNIT", re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")),
    "account": ("ACCOUNT", re.compile(r"\d{12}")),
}
GLOBAL_NOTES: Final = (
    "SCPs are evaluated on every AWS API call made by IAM users, roles and the root user "
    "of member accounts.",
    "SCPs never restrict the management account, service-linked roles, or principals "
    "outside the organization (e.g. another account reaching a restricted account's "
    "resources through a resource policy): the decision API must cover these.",
    "Dry-run restrictions are not exported: an SCP can only deny. Their would-deny "
    "reports come from the decision API.",
    "Requests to global services (IAM, Organizations, CloudFront, Route 53…) carry "
    "aws:RequestedRegion us-east-1.",
    "Targets below a scope with exemptions are listed one by one: accounts or OUs "
    "created later under such a scope are not covered until the export is run again.",
    f"AWS attaches at most {SCPS_PER_TARGET} SCPs to one root, OU or account, counting "
    "FullAWSAccess: the export leaves room for the SCPs it is told stay attached "
    "(reserved_per_target), and fails rather than write more.",
)


@dataclass(frozen=True, slots=True, order=True)
class ScpTarget:
    """A root, OU or account to attach a policy to: its AWS id and type, and its node."""

    target_id: str
    type: str
    node: str
    name: str = ""

    def as_json(self) -> dict[str, str]:
        return {"id": self.target_id, "type": self.type, "node": self.node, "name": self.name}


@dataclass(frozen=True, slots=True)
class Scp:
    """One SCP: its statements and the targets it must be attached to."""

    name: str
    targets: tuple[ScpTarget, ...]
    statements: tuple[ScpStatement, ...]
    notes: tuple[str, ...] = ()

    @property
    def document(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [dict(s.document) for s in self.statements]}

    @property
    def text(self) -> str:
        """The policy as AWS measures and stores it: minified JSON."""
        return minified(self.document)

    @property
    def restrictions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for s in self.statements for r in s.restrictions))

    @property
    def file_name(self) -> str:
        return f"{self.name}.json"

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file_name,
            "size": len(self.text),
            "targets": [t.as_json() for t in self.targets],
            "restrictions": list(self.restrictions),
            "statements": [
                {"sid": s.sid, "restrictions": list(s.restrictions)} for s in self.statements
            ],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class ScpExport:
    snapshot: str
    policies: tuple[Scp, ...]
    restrictions: tuple[RestrictionReport, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...] = field(default=GLOBAL_NOTES)
    size_limit: int = SCP_SIZE_LIMIT
    reserved_per_target: int = RESERVED_PER_TARGET

    @property
    def dry_run(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.restrictions if r.status is Status.DRY_RUN)

    def per_target(self) -> dict[str, int]:
        """Target id → the number of Brightline SCPs attached to it."""
        counts: dict[str, int] = {}
        for policy in self.policies:
            for target in policy.targets:
                counts[target.target_id] = counts.get(target.target_id, 0) + 1
        return counts

    def manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "snapshot": self.snapshot,
            "size_limit": self.size_limit,
            "limits": {
                "characters_per_scp": self.size_limit,
                "scps_per_target": SCPS_PER_TARGET,
                "reserved_per_target": self.reserved_per_target,
                "brightline_scps_per_target": SCPS_PER_TARGET - self.reserved_per_target,
                "scps_per_organization": SCPS_PER_ORGANIZATION,
            },
            "scps_per_target": self.per_target(),
            "policies": [p.manifest_entry() for p in self.policies],
            "restrictions": [r.as_json() for r in self.restrictions],
            "not_exportable": [g.as_json() for g in self.gaps],
            "dry_run_not_exported": list(self.dry_run),
            "notes": list(self.notes),
        }

    def as_json(self) -> dict[str, Any]:
        """The manifest and every policy document, e.g. for an HTTP answer."""
        return {
            "manifest": self.manifest(),
            "policies": {p.name: p.document for p in self.policies},
        }

    def write(self, out: Path) -> list[Path]:
        """One ``<name>.json`` (minified, as measured) per policy, then ``manifest.json``.

        Policy files of an earlier export in ``out`` (``brightline-scp-*.json``) that this
        export does not write are removed, so that none is deployed by mistake.
        """
        written = [write_text(out / p.file_name, p.text) for p in self.policies]
        remove_stale(out, "brightline-scp-*.json", written)
        manifest = json.dumps(self.manifest(), indent=2, ensure_ascii=False) + "\n"
        written.append(write_text(out / "manifest.json", manifest))
        return written


def attachment_nodes(directory: Directory, scope: str, exempt: tuple[str, ...]) -> tuple[str, ...]:
    """The nodes to attach a policy to so that it covers ``scope`` minus exempt subtrees.

    The scope itself when nothing below it is exempt; otherwise, recursively, each child
    that is not exempt. Sorted; empty when every node below the scope is exempt.
    """
    exempt_set = set(exempt)
    # Every node on the path from an exempt node up to the scope must be split.
    split: set[str] = set()
    for node in exempt:
        for ancestor in directory.ancestors(node)[1:]:
            split.add(ancestor)
            if ancestor == scope:
                break
    out: list[str] = []
    stack = [scope]
    while stack:
        current = stack.pop()
        if current in exempt_set:
            continue
        if current in split:
            stack.extend(directory.children(current))
        else:
            out.append(current)
    return tuple(sorted(out))


def scp_target(node: Node) -> ScpTarget | None:
    """The AWS target a node stands for, or None when it was not imported from AWS.

    The AWS id comes from the node's ARN (so that ``--id-prefix`` does not matter), else
    from its id.
    """
    aws_type = node.attrs.get("aws_type")
    if not isinstance(aws_type, str) or aws_type not in _TARGET_TYPES:
        return None
    kind, pattern = _TARGET_TYPES[aws_type]
    arn = node.attrs.get("arn")
    candidates = [arn.rsplit("/", 1)[-1]] if isinstance(arn, str) and arn else []
    for candidate in [*candidates, node.id]:
        if pattern.fullmatch(candidate):
            return ScpTarget(candidate, kind, node.id, node.name)
    return None


def export_aws_scp(
    snapshot: Snapshot,
    action_map: AwsActionMap | None = None,
    *,
    size_limit: int = SCP_SIZE_LIMIT,
    reserved_per_target: int = RESERVED_PER_TARGET,
) -> ScpExport:
    """The SCPs for a snapshot's enforcing restrictions, with a report on each restriction.

    ``reserved_per_target``: SCPs that stay attached to every target besides Brightline's
    (FullAWSAccess: 1). Raises InvalidInputError naming each target that would need more
    than the ``SCPS_PER_TARGET - reserved_per_target`` SCPs left to Brightline, with the
    count and the restrictions attached there, or when the organization would hold more
    than :data:`SCPS_PER_ORGANIZATION`; nothing is exported then.
    """
    if not 0 <= reserved_per_target < SCPS_PER_TARGET:
        raise InvalidInputError(
            Problem(
                "reserved_per_target",
                f"{reserved_per_target}: between 0 and {SCPS_PER_TARGET - 1} "
                f"(AWS attaches at most {SCPS_PER_TARGET} SCPs to a target)",
            )
        )
    budget = SCPS_PER_TARGET - reserved_per_target
    action_map = action_map or load_aws_map()
    reports: dict[str, RestrictionReport] = {}
    gaps: list[Gap] = []
    per_target: dict[ScpTarget, list[ScpStatement]] = {}
    sids: set[str] = set()
    for restriction in snapshot.restrictions:
        if not restriction.enforcing:
            reports[restriction.id] = RestrictionReport(restriction.id, Status.DRY_RUN)
            continue
        targets, statements, own_gaps, notes = _render(
            restriction, snapshot, action_map, sids, size_limit
        )
        gaps.extend(own_gaps)
        if statements:
            for target in targets:
                per_target.setdefault(target, []).extend(statements)
        reports[restriction.id] = RestrictionReport(
            restriction.id,
            status_of(bool(statements), own_gaps),
            targets=tuple(t.target_id for t in targets),
            notes=notes,
        )
    packed, over = pack_targets(per_target, size_limit=size_limit, budget=budget)
    if over:
        raise InvalidInputError(
            [
                _crowded(target, count, per_target[target], reserved_per_target)
                for target, count in sorted(over.items())
            ]
        )
    policies = _policies(packed, budget)
    if len(policies) > SCPS_PER_ORGANIZATION:
        raise InvalidInputError(
            Problem(
                "organization",
                f"{len(policies)} SCPs; AWS Organizations stores at most "
                f"{SCPS_PER_ORGANIZATION} per organization: merge restrictions or narrow the map",
            )
        )
    for policy in policies:
        # An invariant: the rendering only writes what the SCP grammar accepts.
        problems = grammar_problems(policy.text, size_limit)
        if problems:
            raise InvalidInputError([Problem(policy.name, p) for p in problems])
    placed: dict[str, list[str]] = {}
    for policy in policies:
        for restriction_id in policy.restrictions:
            placed.setdefault(restriction_id, []).append(policy.name)
    final = tuple(
        RestrictionReport(r.id, r.status, r.targets, tuple(placed.get(r.id, ())), r.notes)
        for r in reports.values()
    )
    return ScpExport(
        snapshot.version,
        policies,
        final,
        tuple(sorted(gaps)),
        size_limit=size_limit,
        reserved_per_target=reserved_per_target,
    )


def _crowded(
    target: ScpTarget, count: int, statements: list[ScpStatement], reserved: int
) -> Problem:
    restrictions = list(dict.fromkeys(r for s in statements for r in s.restrictions))
    shown = ", ".join(restrictions[:10]) + (
        f" and {len(restrictions) - 10} more" if len(restrictions) > 10 else ""
    )
    name = f" {target.name!r}" if target.name else ""
    return Problem(
        f"{target.type.lower().replace('_', ' ')} {target.target_id}{name} (node {target.node})",
        f"needs {count} Brightline SCPs but AWS attaches at most {SCPS_PER_TARGET} SCPs to "
        f"a target, {reserved} kept for FullAWSAccess, leaving {SCPS_PER_TARGET - reserved}; "
        f"statements of identical conditions were merged and it still does not fit. "
        f"Restrictions attached here: {shown}. Merge or narrow these restrictions, or map "
        f"their services to shorter IAM action lists",
    )


def _render(
    restriction: Restriction,
    snapshot: Snapshot,
    action_map: AwsActionMap,
    sids: set[str],
    size_limit: int,
) -> tuple[tuple[ScpTarget, ...], list[ScpStatement], list[Gap], tuple[str, ...]]:
    """Targets, statements, gaps and notes for one enforcing restriction."""
    directory = snapshot.world.directory
    rid = restriction.id
    nodes = attachment_nodes(directory, restriction.scope, restriction.exempt)
    targets: list[ScpTarget] = []
    for item, node_id in [("scope", restriction.scope), *(("target", n) for n in nodes)]:
        target = scp_target(directory[node_id])
        if target is None:
            reason = "not imported from AWS Organizations: no root, OU or account to attach to"
            return (), [], [Gap(rid, f"{item} {node_id}", reason)], ()
        if item == "target":
            targets.append(target)
    notes: list[str] = []
    gaps: list[Gap] = []
    if not nodes:
        notes.append("every node below the scope is exempt: nothing to attach")
    elif nodes != (restriction.scope,):
        notes.append(
            "exemptions expressed by attaching to the scope's non-exempt descendants: "
            + ", ".join(t.target_id for t in targets)
        )
    gaps.extend(_management_gaps(restriction, directory, nodes))
    actions = map_actions(restriction, snapshot.world.catalog, action_map.iam_actions)
    regions, region_gaps = map_regions(restriction, action_map.region, "an AWS")
    gaps.extend(actions.gaps)
    gaps.extend(region_gaps)
    notes.extend(actions.notes)
    if restriction.not_before or restriction.not_after:
        notes.append("time window expressed with aws:CurrentTime conditions")
    if not actions.found or regions == ():
        return tuple(sorted(targets)), [], gaps, tuple(notes)
    found = tuple(a for a in sorted(actions.found) if SCP_ACTION.fullmatch(a))
    gaps.extend(
        Gap(rid, f"action {a}", "not in the SCP grammar: a wildcard may only end an action")
        for a in sorted(actions.found)
        if not SCP_ACTION.fullmatch(a)
    )
    if not found:
        return tuple(sorted(targets)), [], gaps, tuple(notes)
    condition = _condition(restriction, regions)
    clean = re.sub(r"[^A-Za-z0-9]", "", rid) or "R"
    # Sids are alphanumeric and must be unique in a policy: keep them unique in the export.
    for n in itertools.count(1):
        sid = clean if n == 1 else f"{clean}N{n}"
        statements = statements_for(sid, (rid,), found, condition, size_limit)
        if statements is None or not any(s.sid in sids for s in statements):
            break
    if statements is None:
        gaps.append(Gap(rid, "statement", f"one action with its conditions exceeds {size_limit}"))
        return tuple(sorted(targets)), [], gaps, tuple(notes)
    sids.update(s.sid for s in statements)
    if len(statements) > 1:
        notes.append(f"actions split over {len(statements)} statements to fit the size limit")
    return tuple(sorted(targets)), statements, gaps, tuple(notes)


def _management_gaps(
    restriction: Restriction, directory: Directory, nodes: tuple[str, ...]
) -> list[Gap]:
    """A gap when the organization's management account is covered: SCPs skip it."""
    root = directory[directory.root(restriction.scope)]
    management = root.attrs.get("management_account_id")
    if not isinstance(management, str):
        return []
    for node_id in nodes:
        for member in directory.subtree(node_id):
            target = scp_target(directory[member])
            if target is not None and target.type == "ACCOUNT" and target.target_id == management:
                return [
                    Gap(
                        restriction.id,
                        f"account {management}",
                        "the management account: SCPs never restrict it",
                    )
                ]
    return []


def _condition(restriction: Restriction, regions: tuple[str, ...] | None) -> dict[str, Any]:
    condition: dict[str, Any] = {}
    if regions is not None:
        condition["StringEquals"] = {"aws:RequestedRegion": list(regions)}
    # Whole seconds, inside the window: the SCP never denies outside it.
    if restriction.not_before is not None:
        condition["DateGreaterThanEquals"] = {
            "aws:CurrentTime": _time(restriction.not_before, up=True)
        }
    if restriction.not_after is not None:
        condition["DateLessThan"] = {"aws:CurrentTime": _time(restriction.not_after, up=False)}
    return condition


def _time(moment: datetime, *, up: bool) -> str:
    moment = moment.astimezone(UTC)
    seconds = moment.replace(microsecond=0)
    if up and moment.microsecond:
        seconds += timedelta(seconds=1)
    return seconds.strftime("%Y-%m-%dT%H:%M:%SZ")


def _policies(packed: list[Packed[ScpTarget]], budget: int) -> tuple[Scp, ...]:
    """Named policies from the packed bins, with notes on windows and merging."""
    policies: list[Scp] = []
    for group in packed:
        digest = hashlib.sha256("\n".join(t.target_id for t in group.targets).encode())
        for i, statements in enumerate(group.bins, start=1):
            notes = [_window_note(s) for s in statements if "Condition" in s.document]
            notes = [n for n in dict.fromkeys(notes) if n]
            if group.merged:
                notes.append(
                    "statements with identical conditions merged so that each target holds "
                    f"at most {budget} Brightline SCPs"
                )
            name = f"brightline-scp-{digest.hexdigest()[:12]}-{i}"
            policies.append(Scp(name, group.targets, statements, tuple(notes)))
    return tuple(sorted(policies, key=lambda p: (p.targets, p.name)))


def _window_note(statement: ScpStatement) -> str:
    condition = statement.document.get("Condition", {})
    start = condition.get("DateGreaterThanEquals", {}).get("aws:CurrentTime")
    end = condition.get("DateLessThan", {}).get("aws:CurrentTime")
    if start is None and end is None:
        return ""
    window = f"from {start or 'always'} until {end or 'lifted'}"
    return f"{', '.join(statement.restrictions)}: denies only {window} (aws:CurrentTime)"
