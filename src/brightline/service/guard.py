"""The blast-radius guard, on the one approval path (``approve_restriction``).

A proposal or a promotion whose impact plan — computed on what *enforcing* it would deny,
so that a dry-run proposal and a dry-run → enforce promotion are guarded alike — exceeds
:class:`PlanLimits` needs an extra approval: the first approver's approval is recorded as
the guard's, and the approval itself must then come from a second approver. The plan is
the one a case's decision stored, or, for a proposal made without one (the API, the CLI),
one computed and stored at its first approval.

Here rather than in ``plans`` so that an approval that needs no plan does not import the
plan's data libraries (pyarrow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from brightline.access import Action, Principal, authorize
from brightline.config import Settings
from brightline.errors import ConflictError, InvalidInputError, Problem
from brightline.service.lifecycle import EventKind, RestrictionState, same_principal
from brightline.service.records import guard_record
from brightline.store import Store, events_for, latest_world_version
from brightline.store.cases import (
    StoredPlan,
    add_guard_approval,
    add_plan,
    guard_approvers,
    guard_approvers_of_plan,
    plans_for_restriction,
)
from brightline.store.outbox import append_record

#: Pending approvals the guard applies to: a proposal and a promotion to enforce.
GUARDED: Final = frozenset({EventKind.APPROVED, EventKind.PROMOTION_APPROVED})


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Above either limit, a proposal needs one more approval (the blast-radius guard).

    ``max_usage_share`` is the share of the customers' metered hours of the replay
    window that enforcing the proposal would have denied (metered hours, because
    quantities in different units cannot be added).
    """

    max_subscriptions: int = 25
    max_usage_share: float = 0.5

    @classmethod
    def of(cls, settings: Settings) -> PlanLimits:
        """The deployment's limits (``BRIGHTLINE_PLAN_MAX_*``)."""
        if settings.plan_max_subscriptions < 0 or not 0 <= settings.plan_max_usage_share <= 1:
            raise InvalidInputError(
                Problem("plan limits", "subscriptions ≥ 0 and a usage share between 0 and 1")
            )
        return cls(settings.plan_max_subscriptions, settings.plan_max_usage_share)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_subscriptions": self.max_subscriptions,
            "max_usage_share": self.max_usage_share,
        }


def guarded_body(state: RestrictionState) -> dict[str, Any] | None:
    """The body whose enforce effect the guard weighs, if the restriction awaits an
    approval the guard applies to."""
    if state.pending not in GUARDED:
        return None
    promotion = state.pending is EventKind.PROMOTION_APPROVED
    body = state.pending_body if promotion and state.pending_body else state.body
    return {**body, "mode": "enforce"}


def pending_plan(session: Session, state: RestrictionState) -> StoredPlan | None:
    """The plan made for the request the restriction awaits: the latest plan covering
    it stored at or after that request (a case's decision stores it just before
    proposing, at the same time)."""
    if state.pending not in GUARDED:
        return None
    since = events_for(session, state.id)[-1].at
    plans = [p for p in plans_for_restriction(session, state.id) if p.created_at >= since]
    return plans[-1] if plans else None


def compute_plan(
    store: Store, settings: Settings, state: RestrictionState, *, now: datetime
) -> tuple[dict[str, Any], bool, str]:
    """The impact plan of enforcing what ``state`` awaits: (document, exceeds, digest)."""
    from brightline.service.plans import plan_text  # pyarrow, only when a plan is needed

    body = guarded_body(state)
    assert body is not None
    plan = plan_text(
        store,
        settings,
        json.dumps([body]),
        name=f"restriction {state.id}",
        now=now,
        limits=PlanLimits.of(settings),
    )
    return plan.to_json(), plan.exceeds_limits, plan.digest


def store_plan(
    session: Session,
    state: RestrictionState,
    computed: tuple[dict[str, Any], bool, str],
    *,
    actor: Principal,
    at: datetime,
) -> StoredPlan:
    document, exceeds, digest = computed
    return add_plan(
        session,
        at=at,
        actor=actor.name,
        case_id=state.case_id,
        restrictions=[state.id],
        exceeds_limits=exceeds,
        body=document,
        digest=digest,
    )


def guard_step(
    session: Session, state: RestrictionState, plan: StoredPlan, actor: Principal, at: datetime
) -> bool:
    """Apply the guard to an approval by ``actor``. False: the approval may proceed (the
    plan is within the limits, or another approver gave the guard approval). True: this
    approval was recorded as the guard's; a second approver must now approve. Refuses the
    proposer, and the guard's approver approving twice."""
    if not plan.exceeds_limits:
        return False
    given = guard_approvers_of_plan(session, state.id, plan.id)
    if any(not same_principal(a, actor.name) for a in given):
        return False
    if given:
        raise ConflictError(
            f"{actor.name} gave the guard approval of {state.id!r}: its plan exceeds the "
            "blast-radius limits, so the approval must come from a second approver"
        )
    authorize(actor, Action.GUARD_APPROVE)
    if any(same_principal(a, actor.name) for a in guard_approvers(session, state.id)):
        raise ConflictError(
            f"{actor.name} gave an earlier guard approval of {state.id!r}; this one must come "
            "from another approver"
        )
    if state.pending_by is not None and same_principal(actor.name, state.pending_by):
        raise ConflictError(
            f"{actor.name} proposed {state.id!r} and cannot give its guard approval either"
        )
    approval = add_guard_approval(
        session, restriction_id=state.id, plan_id=plan.id, approver=actor.name, at=at
    )
    append_record(
        session, guard_record(approval, plan, world_version=latest_world_version(session))
    )
    return True
