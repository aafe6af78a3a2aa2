"""Fitting SCP statements into the policies AWS Organizations accepts.

The limits, from the AWS Organizations User Guide ("Quotas and service limits for AWS
Organizations" and "SCP syntax"):

- an SCP is at most :data:`SCP_SIZE_LIMIT` characters; AWS counts the characters of the
  document as stored, so policies are written as whitespace-free JSON;
- at most :data:`SCPS_PER_TARGET` SCPs are attached to one root, OU or account,
  *including* FullAWSAccess (attached everywhere by default, and needed there unless the
  organization runs an allow list): Brightline's budget per target is what is left;
- an organization stores at most :data:`SCPS_PER_ORGANIZATION` SCPs;
- the grammar: ``Version`` ``2012-10-17``; statements with ``Sid`` (letters and digits),
  ``Effect``, ``Action``, ``Resource`` and ``Condition``, never ``Principal``; an action is
  ``prefix:name`` where ``*`` may only end the name (the SCP grammar AWS documented for
  years; a newer, wider grammar is not relied on, so that the policies also work on
  organizations and tools that still check the older one).

Packing (:func:`pack_targets`): each target receives exactly the statements of the
restrictions attached to it. Targets that receive the same statements share policies;
the statements are packed first-fit decreasing. When a target would still need more
policies than its budget, statements with identical conditions are merged into one
statement (their actions united), which is equivalent, and packed again. What still does
not fit is returned, so that the export fails naming the target and the count.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from brightline.exports.cloud import minified

#: AWS Organizations' maximum size of one SCP, in characters (whitespace counts).
SCP_SIZE_LIMIT: Final = 5120
#: AWS Organizations attaches at most this many SCPs to one root, OU or account,
#: FullAWSAccess included.
SCPS_PER_TARGET: Final = 5
#: SCPs kept free on every target for FullAWSAccess (by default: it stays attached).
RESERVED_PER_TARGET: Final = 1
#: AWS Organizations stores at most this many policies of one type in an organization.
SCPS_PER_ORGANIZATION: Final = 1000

EMPTY_POLICY: Final = minified({"Version": "2012-10-17", "Statement": []})
#: ``s3:GetObject``, ``s3:Get*``, ``s3:*``: a wildcard only at the end (SCP syntax).
SCP_ACTION: Final = re.compile(r"[a-z0-9][a-z0-9-]*:[A-Za-z0-9]*\*?")
_SID: Final = re.compile(r"[A-Za-z0-9]+")
_STATEMENT_KEYS: Final = frozenset({"Sid", "Effect", "Action", "Resource", "Condition"})
# The operators and keys Brightline writes; each is allowed in SCPs (global condition keys).
_CONDITIONS: Final = {
    "StringEquals": {"aws:RequestedRegion"},
    "DateGreaterThanEquals": {"aws:CurrentTime"},
    "DateLessThan": {"aws:CurrentTime"},
}

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ScpStatement:
    """One Deny statement and the restrictions it carries (several once merged)."""

    sid: str
    restrictions: tuple[str, ...]
    document: Mapping[str, Any]

    @property
    def size(self) -> int:
        return len(minified(self.document))


@dataclass(frozen=True, slots=True)
class Packed(Generic[_T]):
    """Policies (as statement bins) shared by targets that receive the same statements."""

    targets: tuple[_T, ...]
    bins: tuple[tuple[ScpStatement, ...], ...]
    merged: bool = False


def deny_statement(
    sid: str, actions: Sequence[str], condition: Mapping[str, Any]
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Action": list(actions)}
    statement["Resource"] = "*"
    if condition:
        statement["Condition"] = dict(condition)
    return statement


def statements_for(
    sid: str,
    restrictions: tuple[str, ...],
    actions: Sequence[str],
    condition: Mapping[str, Any],
    size_limit: int,
) -> list[ScpStatement] | None:
    """One statement, or several (``…P1``, ``…P2``) when one would not fit in a policy.

    None when a single action with its conditions does not fit.
    """
    whole = deny_statement(sid, actions, condition)
    room = size_limit - len(EMPTY_POLICY)
    if len(minified(whole)) <= room:
        return [ScpStatement(sid, restrictions, whole)]
    chunks: list[list[str]] = []
    for action in actions:
        part = f"{sid}P{len(chunks) or 1}"
        if chunks and len(minified(deny_statement(part, (*chunks[-1], action), condition))) <= room:
            chunks[-1].append(action)
            continue
        chunks.append([action])
        if len(minified(deny_statement(f"{sid}P{len(chunks)}", (action,), condition))) > room:
            return None
    return [
        ScpStatement(
            f"{sid}P{i}", restrictions, deny_statement(f"{sid}P{i}", tuple(chunk), condition)
        )
        for i, chunk in enumerate(chunks, start=1)
    ]


def first_fit(
    statements: Sequence[ScpStatement], size_limit: int
) -> tuple[tuple[ScpStatement, ...], ...]:
    """First-fit decreasing; each policy keeps its statements in their given order."""
    order = sorted(range(len(statements)), key=lambda i: (-statements[i].size, i))
    bins: list[list[int]] = []
    sizes: list[int] = []
    for i in order:
        size = statements[i].size
        for b, used in enumerate(sizes):
            # A statement after the first adds a comma.
            if used + 1 + size <= size_limit:
                bins[b].append(i)
                sizes[b] = used + 1 + size
                break
        else:
            bins.append([i])
            sizes.append(len(EMPTY_POLICY) + size)
    ordered = sorted(sorted(b) for b in bins)
    return tuple(tuple(statements[i] for i in b) for b in ordered)


def merge_statements(
    statements: Sequence[ScpStatement], size_limit: int
) -> list[ScpStatement] | None:
    """Statements with identical conditions united into one (then cut to fit again).

    Equivalent: a Deny of A with condition C and a Deny of B with C deny exactly what a
    Deny of A ∪ B with C denies. Actions under a prefix denied whole (``s3:*``) are
    dropped. None when a merged statement cannot be cut to fit.
    """
    groups: dict[str, list[ScpStatement]] = {}
    for statement in statements:
        key = json.dumps(statement.document.get("Condition", {}), sort_keys=True)
        groups.setdefault(key, []).append(statement)
    out: list[ScpStatement] = []
    for key, members in groups.items():
        if len(members) == 1:
            out.extend(members)
            continue
        actions = sorted({a for s in members for a in s.document["Action"]})
        whole = {a.split(":", 1)[0] for a in actions if a.endswith(":*")}
        actions = [a for a in actions if a.endswith(":*") or a.split(":", 1)[0] not in whole]
        restrictions = tuple(dict.fromkeys(r for s in members for r in s.restrictions))
        digest = hashlib.sha256("\n".join(s.sid for s in members).encode()).hexdigest()[:10]
        merged = statements_for(
            f"Merged{digest}", restrictions, actions, json.loads(key), size_limit
        )
        if merged is None:
            return None
        out.extend(merged)
    return out


def pack_targets(
    per_target: Mapping[_T, Sequence[ScpStatement]], *, size_limit: int, budget: int
) -> tuple[list[Packed[_T]], dict[_T, int]]:
    """Policies for every target, and the targets that would need more than ``budget``.

    ``per_target`` must list each target's statements in a stable order; targets must be
    orderable (for a deterministic result).
    """
    groups: dict[tuple[str, ...], tuple[list[_T], Sequence[ScpStatement]]] = {}
    for target in sorted(per_target):  # type: ignore[type-var]
        statements = per_target[target]
        if statements:
            key = tuple(s.sid for s in statements)
            groups.setdefault(key, ([], statements))[0].append(target)
    packed: list[Packed[_T]] = []
    over: dict[_T, int] = {}
    for targets, statements in groups.values():
        bins = first_fit(statements, size_limit)
        merged = False
        if len(bins) > budget:
            fewer = merge_statements(statements, size_limit)
            if fewer is not None and len(fewer) < len(statements):
                merged_bins = first_fit(fewer, size_limit)
                if len(merged_bins) < len(bins):
                    bins, merged = merged_bins, True
        if len(bins) > budget:
            over.update(dict.fromkeys(targets, len(bins)))
        packed.append(Packed(tuple(targets), bins, merged))
    return packed, over


def grammar_problems(text: str, size_limit: int = SCP_SIZE_LIMIT) -> list[str]:
    """What in an SCP's text breaks the documented SCP grammar or size (empty: none)."""
    problems: list[str] = []
    if len(text) > size_limit:
        problems.append(f"{len(text)} characters, over {size_limit}")
    document = json.loads(text)
    if set(document) != {"Version", "Statement"} or document["Version"] != "2012-10-17":
        problems.append("an SCP has exactly Version 2012-10-17 and Statement")
    sids: set[str] = set()
    for statement in document.get("Statement", []):
        sid = statement.get("Sid", "")
        if not _SID.fullmatch(sid) or sid in sids:
            problems.append(f"Sid {sid!r}: letters and digits, unique in the policy")
        sids.add(sid)
        if not set(statement) <= _STATEMENT_KEYS:
            problems.append(f"{sid}: elements {sorted(set(statement) - _STATEMENT_KEYS)}")
        if statement.get("Effect") != "Deny" or statement.get("Resource") != "*":
            problems.append(f"{sid}: Brightline writes Deny statements on Resource *")
        actions = statement.get("Action", [])
        if not actions:
            problems.append(f"{sid}: no Action")
        problems.extend(
            f"{sid}: action {a!r}: a wildcard may only end it"
            for a in actions
            if not SCP_ACTION.fullmatch(a)
        )
        for operator, keys in statement.get("Condition", {}).items():
            if not set(keys) <= _CONDITIONS.get(operator, set()):
                problems.append(f"{sid}: condition {operator} {sorted(keys)}")
    return problems
