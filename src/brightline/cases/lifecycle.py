"""A case's life: one transition table over every move, so an illegal move raises.

Pure: the service replays a case's events through :func:`case_transition`.

::

    (none) ─opened─▶ OPEN ─review-started─▶ UNDER_REVIEW ─finding-recorded─▶ FINDINGS
                                                                              │ decided
         CLOSED ◀─closed─ DECIDED ◀────────────────────────────────────────────┘
           ▲                │ appealed
           │                ▼
           └─closed── RE_REVIEWED ◀─appeal-decided─ APPEALED

Moves that add to a case (evidence, assignment, tasks…) keep its status and are listed
as self-loops, so that they too are refused once a case is closed. Closing before a
decision is allowed (an unfounded report), but never with a substantiated finding
and no decision: see :func:`check_close`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from brightline.errors import ConflictError


class CaseStatus(StrEnum):
    OPEN = "open"
    UNDER_REVIEW = "under-review"
    FINDINGS = "findings"
    DECIDED = "decided"
    APPEALED = "appealed"
    RE_REVIEWED = "re-reviewed"
    CLOSED = "closed"


class CaseMove(StrEnum):
    """Every kind of case event."""

    OPENED = "opened"
    SIGNAL_ATTACHED = "signal-attached"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    REVIEW_STARTED = "review-started"
    EVIDENCE_ADDED = "evidence-added"
    USAGE_ACCESSED = "usage-accessed"
    TASK_ADDED = "task-added"
    TASK_DONE = "task-done"
    FINDING_RECORDED = "finding-recorded"
    PLAN_ATTACHED = "plan-attached"
    DECIDED = "decided"
    APPEALED = "appealed"
    APPEAL_DECIDED = "appeal-decided"
    CLOSED = "closed"


S = CaseStatus
M = CaseMove
_WORKING: Final = (S.OPEN, S.UNDER_REVIEW, S.FINDINGS, S.DECIDED, S.APPEALED, S.RE_REVIEWED)
_REVIEWING: Final = (S.OPEN, S.UNDER_REVIEW, S.FINDINGS, S.APPEALED)


def _loops(
    moves: Iterable[CaseMove], statuses: Iterable[CaseStatus]
) -> dict[tuple[CaseStatus | None, CaseMove], CaseStatus]:
    statuses = tuple(statuses)
    return {(status, move): status for move in moves for status in statuses}


#: The only legal moves: (status before, move) → status after. Anything else raises.
CASE_TRANSITIONS: Final[Mapping[tuple[CaseStatus | None, CaseMove], CaseStatus]] = MappingProxyType(
    {
        (None, M.OPENED): S.OPEN,
        (S.OPEN, M.REVIEW_STARTED): S.UNDER_REVIEW,
        (S.UNDER_REVIEW, M.FINDING_RECORDED): S.FINDINGS,
        (S.FINDINGS, M.FINDING_RECORDED): S.FINDINGS,
        (S.APPEALED, M.FINDING_RECORDED): S.APPEALED,
        (S.FINDINGS, M.DECIDED): S.DECIDED,
        (S.DECIDED, M.APPEALED): S.APPEALED,
        (S.APPEALED, M.APPEAL_DECIDED): S.RE_REVIEWED,
        (S.RE_REVIEWED, M.APPEALED): S.APPEALED,
        **_loops([M.SIGNAL_ATTACHED, M.EVIDENCE_ADDED, M.PLAN_ATTACHED], _REVIEWING),
        **_loops([M.ASSIGNED, M.UNASSIGNED, M.TASK_ADDED, M.TASK_DONE, M.USAGE_ACCESSED], _WORKING),
        **{
            (status, M.CLOSED): S.CLOSED
            for status in (S.OPEN, S.UNDER_REVIEW, S.FINDINGS, S.DECIDED, S.RE_REVIEWED)
        },
    }
)


def case_transition(status: CaseStatus | None, move: CaseMove) -> CaseStatus:
    """The status after ``move`` in ``status``; ConflictError naming what is allowed."""
    after = CASE_TRANSITIONS.get((status, move))
    if after is None:
        if status is None:
            raise ConflictError(f"{move} is not allowed on a case that does not exist")
        allowed = sorted(m.value for (s, m) in CASE_TRANSITIONS if s is status)
        raise ConflictError(
            f"{move} is not allowed on a case that is {status}"
            + (f" (allowed: {', '.join(allowed)})" if allowed else " (it is closed)")
        )
    return after


def check_close(*, substantiated: Iterable[str], decided: bool) -> None:
    """Refuse closing a case with a substantiated finding and no decision."""
    policies = sorted(set(substantiated))
    if policies and not decided:
        raise ConflictError(
            "the case has a substantiated finding ("
            + ", ".join(policies)
            + ") and no decision: decide (restrict, or record why not) before closing"
        )
