"""Steps 8–9: proposal and four-eyes approval; enforcement in process, by the client
and over HTTP."""

from __future__ import annotations

import time
from dataclasses import dataclass

from brightline.demo.calls import Decided, decide_calls
from brightline.demo.live import (
    APPROVER,
    GATEWAY,
    INVESTIGATOR,
    SECOND_APPROVER,
)
from brightline.demo.state import (
    PICKUP_SECONDS,
    RESTRICTION,
    RESTRICTION_ID,
    Demo,
    Progress,
    no_progress,
)
from brightline.errors import AccessDeniedError, BrightlineError, ConflictError
from brightline.service import compile_snapshot_at, show_restriction
from brightline.service.decision_logs import decision_totals
from brightline.service.plans import decide_restrict

# -- 8. proposal and approval --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    restriction_id: str
    proposed_by: str
    self_approval: str
    guard_by: str | None
    approved_by: str
    status: str
    case_status: str


def approval(demo: Demo, progress: Progress = no_progress) -> ApprovalResult:
    """The investigator decides to restrict (storing the plan, proposing the restriction);
    the proposer's own approval is refused; an approver approves over the HTTP API."""
    from brightline.service import approve_restriction

    store = demo.store
    investigator = demo.principal(INVESTIGATOR)
    state, impact = decide_restrict(
        store,
        demo.settings,
        demo.case_id,
        RESTRICTION,
        name=f"{RESTRICTION_ID}.yaml",
        actor=investigator,
        rationale="Substantiated: restrict storage and AI for unit 9900 in the two regions.",
    )
    try:
        approve_restriction(store, RESTRICTION_ID, actor=investigator, settings=demo.settings)
        refused = "accepted (unexpected)"
    except (AccessDeniedError, ConflictError) as exc:
        # The investigator holds no approver role; were it granted, four eyes would refuse.
        refused = f"refused: {exc}"
    guard_by = None
    final = APPROVER
    if impact.exceeds_limits:  # the blast-radius guard wants one more approver first
        guard = approve_restriction(
            store, RESTRICTION_ID, actor=demo.principal(APPROVER), settings=demo.settings
        )
        assert guard.guard_approval
        guard_by, final = APPROVER.name, SECOND_APPROVER
    demo.approved_at = time.monotonic()
    response = demo.http(final.name).post(f"/v1/restrictions/{RESTRICTION_ID}/approve")
    if response.status_code != 200:
        raise BrightlineError(f"approval over HTTP failed: {response.status_code} {response.text}")
    view = show_restriction(store, RESTRICTION_ID, now=demo.now())
    return ApprovalResult(
        RESTRICTION_ID,
        INVESTIGATOR.name,
        refused,
        guard_by,
        final.name,
        view.status.value,
        state.status.value,
    )


# -- 9. enforcement ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnforcementResult:
    bundle_before: str
    bundle_after: str
    serial_after: int
    pickup_seconds: float
    before: tuple[Decided, ...]
    after: tuple[Decided, ...]
    reported: dict[str, int]


def enforcement(demo: Demo, progress: Progress = no_progress) -> EnforcementResult:
    """The enforcement point, long-polling, installs the new signed bundle; the calls are
    decided again in process, by the client and over HTTP; the client reports its
    decision log."""
    assert demo.client is not None
    client = demo.client
    wanted = compile_snapshot_at(demo.store, demo.now()).snapshot.version
    deadline = time.monotonic() + PICKUP_SECONDS
    while client.version != wanted:
        progress("waiting for the enforcement point", time.monotonic() - demo.approved_at, 1)
        if time.monotonic() > deadline:
            raise BrightlineError(
                f"the enforcement point did not pick up bundle {wanted[:12]} in "
                f"{PICKUP_SECONDS:.0f} s ({client.last_error or 'no error'})"
            )
        time.sleep(0.05)
    pickup = time.monotonic() - demo.approved_at
    after = decide_calls(demo.store, client, demo.http(GATEWAY.name), demo.now())
    client.report()
    totals = decision_totals(demo.store)
    reported = {f"{r} {effect}": n for (r, effect), n in sorted(totals.by_restriction.items())}
    return EnforcementResult(
        bundle_before=demo.bundle_before,
        bundle_after=client.version or "",
        serial_after=client.serial or 0,
        pickup_seconds=pickup,
        before=tuple(demo.before),
        after=tuple(after),
        reported=reported,
    )
