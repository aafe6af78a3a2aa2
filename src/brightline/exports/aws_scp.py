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
- statements for the same set of targets share policies, packed first-fit so that no
  policy exceeds :data:`SCP_SIZE_LIMIT` characters of minified JSON; a statement too
  large for one policy is cut into several (Sids ``…P1``, ``…P2``);
- dry-run restrictions are not exported: an SCP cannot report without denying.

What an SCP cannot say (unmapped services and regions, the management account, nodes
not imported from AWS) is reported as a :class:`Gap` in the manifest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

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
from brightline.policy import Restriction, Snapshot
from brightline.world import Directory, Node

#: AWS Organizations' maximum size of one SCP, in characters (whitespace counts).
SCP_SIZE_LIMIT: Final = 5120
#: AWS Organizations attaches at most this many SCPs to one root, OU or account
#: (FullAWSAccess, or whatever allow-list the organization uses, takes one of them).
SCPS_PER_TARGET: Final = 5
FORMAT: Final = "brightline-aws-scp/1"

_EMPTY_POLICY: Final = minified({"Version": "2012-10-17", "Statement": []})
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
    f"AWS attaches at most {SCPS_PER_TARGET} SCPs to one root, OU or account, "
    "counting FullAWSAccess.",
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
class ScpStatement:
    sid: str
    restriction: str
    document: Mapping[str, Any]

    @property
    def size(self) -> int:
        return len(minified(self.document))


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
        return tuple(dict.fromkeys(s.restriction for s in self.statements))

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
            "statements": [{"sid": s.sid, "restriction": s.restriction} for s in self.statements],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class ScpExport:
    snapshot: str
    policies: tuple[Scp, ...]
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
            "size_limit": SCP_SIZE_LIMIT,
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
) -> ScpExport:
    """The SCPs for a snapshot's enforcing restrictions, with a report on each restriction."""
    action_map = action_map or load_aws_map()
    reports: dict[str, RestrictionReport] = {}
    gaps: list[Gap] = []
    groups: dict[tuple[ScpTarget, ...], list[ScpStatement]] = {}
    sids: set[str] = set()
    for restriction in snapshot.restrictions:
        if not restriction.enforcing:
            reports[restriction.id] = RestrictionReport(restriction.id, Status.DRY_RUN)
            continue
        targets, statements, own_gaps, notes = _render(
            restriction, snapshot, action_map, sids, size_limit
        )
        gaps.extend(own_gaps)
        if statements and targets:
            groups.setdefault(targets, []).extend(statements)
        reports[restriction.id] = RestrictionReport(
            restriction.id,
            status_of(bool(statements), own_gaps),
            targets=tuple(t.target_id for t in targets),
            notes=notes,
        )
    policies = _pack(groups, size_limit)
    placed: dict[str, list[str]] = {}
    for policy in policies:
        for restriction_id in policy.restrictions:
            placed.setdefault(restriction_id, []).append(policy.name)
    final = tuple(
        RestrictionReport(r.id, r.status, r.targets, tuple(placed.get(r.id, ())), r.notes)
        for r in reports.values()
    )
    return ScpExport(snapshot.version, policies, final, tuple(sorted(gaps)))


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
    found = tuple(sorted(actions.found))
    clean = re.sub(r"[^A-Za-z0-9]", "", rid) or "R"
    # Sids are alphanumeric and must be unique in a policy: keep them unique in the export.
    for n in itertools.count(1):
        sid = clean if n == 1 else f"{clean}N{n}"
        statements = _statements(restriction, found, regions, sid, size_limit)
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


def _statements(
    restriction: Restriction,
    actions: tuple[str, ...],
    regions: tuple[str, ...] | None,
    sid: str,
    size_limit: int,
) -> list[ScpStatement] | None:
    """The restriction's statement, or several when one would not fit in a policy."""
    condition = _condition(restriction, regions)
    whole = _statement(sid, actions, condition)
    room = size_limit - len(_EMPTY_POLICY)
    if len(minified(whole)) <= room:
        return [ScpStatement(sid, restriction.id, whole)]
    chunks: list[list[str]] = []
    for action in actions:
        part_sid = f"{sid}P{len(chunks) or 1}"
        if chunks and len(minified(_statement(part_sid, (*chunks[-1], action), condition))) <= room:
            chunks[-1].append(action)
            continue
        chunks.append([action])
        if len(minified(_statement(f"{sid}P{len(chunks)}", (action,), condition))) > room:
            return None
    return [
        ScpStatement(
            f"{sid}P{i}", restriction.id, _statement(f"{sid}P{i}", tuple(chunk), condition)
        )
        for i, chunk in enumerate(chunks, start=1)
    ]


def _statement(sid: str, actions: tuple[str, ...], condition: Mapping[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Action": list(actions)}
    statement["Resource"] = "*"
    if condition:
        statement["Condition"] = dict(condition)
    return statement


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


def _pack(
    groups: dict[tuple[ScpTarget, ...], list[ScpStatement]], size_limit: int
) -> tuple[Scp, ...]:
    """First-fit: each statement goes into the first policy of its target set with room."""
    policies: list[Scp] = []
    per_target: dict[str, int] = {}
    base = len(_EMPTY_POLICY)
    for targets, statements in sorted(groups.items()):
        bins: list[list[ScpStatement]] = []
        sizes: list[int] = []
        for statement in statements:
            size = statement.size
            for i, used in enumerate(sizes):
                if used + 1 + size <= size_limit:
                    bins[i].append(statement)
                    sizes[i] = used + 1 + size
                    break
            else:
                bins.append([statement])
                sizes.append(base + size)
        digest = hashlib.sha256("\n".join(t.target_id for t in targets).encode()).hexdigest()[:12]
        for i, chosen in enumerate(bins, start=1):
            policies.append(Scp(f"brightline-scp-{digest}-{i}", targets, tuple(chosen)))
        for target in targets:
            per_target[target.target_id] = per_target.get(target.target_id, 0) + len(bins)
    crowded = {t: n for t, n in per_target.items() if n >= SCPS_PER_TARGET}
    out = []
    for policy in policies:
        notes = [_window_note(s) for s in policy.statements if "Condition" in s.document]
        notes = [n for n in dict.fromkeys(notes) if n]
        for target in policy.targets:
            if target.target_id in crowded:
                notes.append(
                    f"{target.target_id} would hold {crowded[target.target_id]} Brightline SCPs; "
                    f"AWS allows {SCPS_PER_TARGET} per target, FullAWSAccess included"
                )
        out.append(Scp(policy.name, policy.targets, policy.statements, tuple(notes)))
    return tuple(out)


def _window_note(statement: ScpStatement) -> str:
    condition = statement.document.get("Condition", {})
    start = condition.get("DateGreaterThanEquals", {}).get("aws:CurrentTime")
    end = condition.get("DateLessThan", {}).get("aws:CurrentTime")
    if start is None and end is None:
        return ""
    window = f"from {start or 'always'} until {end or 'lifted'}"
    return f"{statement.restriction}: denies only {window} (aws:CurrentTime)"
