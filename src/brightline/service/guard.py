"""The blast-radius guard: a restriction whose impact plan exceeds the limits needs a
guard approval from one approver before a second approver can approve it.

Here rather than in ``plans`` so that ``approve_restriction`` can call it without
importing the plan's data libraries (pyarrow) on every approval.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from brightline.errors import ConflictError
from brightline.service.lifecycle import EventKind, RestrictionState, same_principal
from brightline.store.cases import StoredPlan, guard_approvers, plans_for_restriction


def guarding_plan(session: Session, state: RestrictionState) -> StoredPlan | None:
    """The plan that puts ``state`` under the guard, if it awaits its first approval."""
    # Plans are stored only by a case's decision, which proposes with the case's id:
    # a restriction without a case has no plan, and costs its approval no query.
    if state.pending is not EventKind.APPROVED or state.case_id is None:
        return None
    plans = plans_for_restriction(session, state.id)
    return plans[-1] if plans and plans[-1].exceeds_limits else None


def check_blast_radius(session: Session, state: RestrictionState, actor: str) -> None:
    """Called by ``approve_restriction`` before an approval: refuses it when the
    restriction's plan exceeds the limits and no *other* approver gave the guard approval."""
    if guarding_plan(session, state) is None:
        return
    others = [a for a in guard_approvers(session, state.id) if not same_principal(a, actor)]
    if not others:
        raise ConflictError(
            f"restriction {state.id!r} exceeds the blast-radius limits of its plan: it needs "
            "a guard approval from one approver and then the approval of a second one "
            "(`brightline case approve`)"
        )
