"""A case as its events leave it: replayed through the transition table, never stored.

Case events are append-only; evidence pinned by an event is therefore immutable, and
a later finding on the same policy supersedes an earlier one without erasing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from brightline.cases.evidence import Evidence, evidence_from_json
from brightline.cases.lifecycle import CaseMove, CaseStatus, case_transition, check_close
from brightline.cases.model import (
    AppealOutcome,
    CaseDecision,
    DecisionKind,
    Finding,
    FindingOutcome,
)
from brightline.errors import ConflictError, InvalidInputError, Problem


class CaseEvent(NamedTuple):
    """One step in a case's life; ``data`` is the move's canonical JSON payload. A
    NamedTuple, not a frozen dataclass: the store audit reads a million of them, and a
    tuple is made several times faster."""

    seq: int
    case_id: str
    revision: int
    move: CaseMove
    actor: str
    at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Pinned:
    """Something added to a case, numbered within it, with who added it and when."""

    number: int
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class EvidenceItem(Pinned):
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class FindingItem(Pinned):
    finding: Finding


@dataclass(frozen=True, slots=True)
class TaskItem(Pinned):
    title: str
    due: str | None
    assignee: str | None
    done: bool = False


@dataclass(frozen=True, slots=True)
class AppealItem(Pinned):
    grounds: str
    outcome: AppealOutcome | None = None
    rationale: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionItem(Pinned):
    decision: CaseDecision


@dataclass(frozen=True, slots=True)
class CaseState:
    id: str
    status: CaseStatus
    revision: int
    title: str
    opened_by: str
    opened_at: datetime
    nodes: tuple[str, ...]
    policies: tuple[str, ...]
    signals: tuple[str, ...] = ()
    assignees: frozenset[str] = frozenset()
    evidence: tuple[EvidenceItem, ...] = ()
    findings: tuple[FindingItem, ...] = ()
    tasks: tuple[TaskItem, ...] = ()
    plans: tuple[int, ...] = ()
    decisions: tuple[DecisionItem, ...] = ()
    appeals: tuple[AppealItem, ...] = ()
    closed_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def is_assigned(self, principal: str) -> bool:
        return principal.casefold() in {a.casefold() for a in self.assignees}

    def latest_findings(self) -> dict[str, FindingItem]:
        """The current finding per policy (later findings supersede earlier ones)."""
        out: dict[str, FindingItem] = {}
        for item in self.findings:
            out[item.finding.policy] = item
        return out

    def substantiated(self) -> list[str]:
        return sorted(
            policy
            for policy, item in self.latest_findings().items()
            if item.finding.outcome is FindingOutcome.SUBSTANTIATED
        )

    @property
    def decided(self) -> bool:
        return bool(self.decisions)

    def restrictions(self) -> tuple[str, ...]:
        """Every restriction id a decision of this case proposed."""
        out: list[str] = []
        for item in self.decisions:
            out.extend(r for r in item.decision.restrictions if r not in out)
        return tuple(out)

    @property
    def holds_telemetry(self) -> bool:
        """An open case keeps the usage records of its nodes past normal retention."""
        return self.status is not CaseStatus.CLOSED

    def next_number(self, kind: str) -> int:
        items: Sequence[Pinned] = {
            "evidence": self.evidence,
            "finding": self.findings,
            "task": self.tasks,
            "appeal": self.appeals,
            "decision": self.decisions,
        }[kind]
        return len(items) + 1

    def check_evidence_numbers(self, numbers: Sequence[int]) -> None:
        known = {item.number for item in self.evidence}
        missing = sorted(set(numbers) - known)
        if missing:
            raise InvalidInputError(
                Problem("evidence", f"case {self.id} has no evidence {missing}")
            )


def derive_case(events: Sequence[CaseEvent]) -> CaseState:
    """Replay a case's events (in revision order); ConflictError if the history is broken."""
    state: CaseState | None = None
    for expected, event in enumerate(events, start=1):
        if event.revision != expected:
            raise ConflictError(
                f"case {event.case_id}: revision {event.revision} where {expected} was expected"
            )
        state = apply_case_event(state, event)
    if state is None:
        raise ConflictError("a case needs at least one event")
    return state


def apply_case_event(state: CaseState | None, event: CaseEvent) -> CaseState:
    status = case_transition(None if state is None else state.status, event.move)
    d = event.data
    if state is None:
        return CaseState(
            id=event.case_id,
            status=status,
            revision=event.revision,
            title=str(d["title"]),
            opened_by=event.actor,
            opened_at=event.at,
            nodes=tuple(d["nodes"]),
            policies=tuple(d["policies"]),
            signals=tuple(d.get("signals", ())),
        )
    s = replace(state, status=status, revision=event.revision)
    move, by, at = event.move, event.actor, event.at
    if move is CaseMove.SIGNAL_ATTACHED:
        s = replace(
            s,
            signals=(*s.signals, str(d["signal"])),
            nodes=tuple(dict.fromkeys((*s.nodes, *d["nodes"]))),
            policies=tuple(dict.fromkeys((*s.policies, *d["policies"]))),
        )
    elif move is CaseMove.ASSIGNED:
        s = replace(s, assignees=s.assignees | {str(d["principal"])})
    elif move is CaseMove.UNASSIGNED:
        gone = str(d["principal"]).casefold()
        s = replace(s, assignees=frozenset(a for a in s.assignees if a.casefold() != gone))
    elif move is CaseMove.EVIDENCE_ADDED:
        item = EvidenceItem(d["number"], by, at, evidence_from_json(d["evidence"]))
        s = replace(s, evidence=(*s.evidence, item))
    elif move is CaseMove.FINDING_RECORDED:
        finding = Finding(
            policy=d["policy"],
            outcome=FindingOutcome(d["outcome"]),
            rationale=d["rationale"],
            evidence=tuple(d["evidence"]),
        )
        s = replace(s, findings=(*s.findings, FindingItem(d["number"], by, at, finding)))
    elif move is CaseMove.TASK_ADDED:
        task = TaskItem(d["number"], by, at, d["title"], d.get("due"), d.get("assignee"))
        s = replace(s, tasks=(*s.tasks, task))
    elif move is CaseMove.TASK_DONE:
        s = replace(
            s, tasks=tuple(replace(t, done=True) if t.number == d["number"] else t for t in s.tasks)
        )
    elif move is CaseMove.PLAN_ATTACHED:
        s = replace(s, plans=(*s.plans, int(d["plan"])))
    elif move is CaseMove.DECIDED:
        decision = CaseDecision(
            kind=DecisionKind(d["kind"]),
            rationale=d["rationale"],
            restrictions=tuple(d["restrictions"]),
            plans=tuple(d.get("plans", ())),
        )
        s = replace(s, decisions=(*s.decisions, DecisionItem(d["number"], by, at, decision)))
    elif move is CaseMove.APPEALED:
        s = replace(s, appeals=(*s.appeals, AppealItem(d["number"], by, at, d["grounds"])))
    elif move is CaseMove.APPEAL_DECIDED:
        outcome = AppealOutcome(d["outcome"])
        s = replace(
            s,
            appeals=tuple(
                replace(a, outcome=outcome, rationale=d["rationale"])
                if a.number == d["appeal"]
                else a
                for a in s.appeals
            ),
        )
    elif move is CaseMove.CLOSED:
        check_close(substantiated=s.substantiated(), decided=s.decided)
        s = replace(s, closed_at=at)
    return s
