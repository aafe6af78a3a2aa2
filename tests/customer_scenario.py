"""A restricted customer, through the real services (``tests`` is on sys.path): a case on
the intelligence unit, decided with a restriction now in force and approved, and one
more restriction approved for a window that has not begun; nothing on its sibling.

The internal words (the decision's rationale, the finding, the report's summary, the
restrictions' case reason) are marked so that a test can look for them in what a
customer is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from brightline.access import Principal
from brightline.cases import Finding, FindingOutcome, Signal, SourceKind
from brightline.config import Settings
from brightline.service.cases import open_case, record_finding, start_review
from brightline.service.guard import PlanLimits
from brightline.service.intake import submit_report
from brightline.service.plans import decide_restrict
from brightline.service.restrictions import approve_restriction, propose_restrictions
from brightline.store import Store

#: Where the customer of the scenario is bound, and its sibling (same ministry).
CUSTOMER_NODE = "unit-9900"
SIBLING_NODE = "mod-medical"
IN_FORCE = "r-cust-now"
SCHEDULED = "r-cust-later"
SIBLING = "r-sibling"
POLICY = "mass-surveillance"
#: Words only staff may read: none of them may reach a customer.
INTERNAL = ("INTERNAL-RATIONALE", "INTERNAL-FINDING", "INTERNAL-SUMMARY", "INTERNAL-NOTE")


@dataclass(frozen=True)
class Restricted:
    case: str


def restricted_customer(
    store: Store,
    settings: Settings,
    *,
    investigator: Principal,
    approver: Principal,
    now: datetime | None = None,
) -> Restricted:
    """The case, the decision and the three restrictions (the sibling's without a case)."""
    now = now or datetime.now(UTC)
    signal = Signal(
        SourceKind.JOURNALIST, (CUSTOMER_NODE,), (POLICY,), "INTERNAL-SUMMARY from a reporter"
    )
    ref = submit_report(store, signal, actor=investigator).ref
    case = open_case(store, actor=investigator, title="Unit 9900", signals=[ref]).id
    start_review(store, case, actor=investigator)
    finding = Finding(POLICY, FindingOutcome.SUBSTANTIATED, "INTERNAL-FINDING")
    record_finding(store, case, finding, actor=investigator)
    later = (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (
        f"- id: {IN_FORCE}\n  scope: {CUSTOMER_NODE}\n  actions: ['ai.speech:*']\n"
        "  regions: [westeurope]\n  exempt: [sub-9900-rescue]\n"
        f"  reason: {{policy: {POLICY}, note: INTERNAL-NOTE}}\n"
        f"- id: {SCHEDULED}\n  scope: unit-9900-analysis\n  actions: ['ai.translator:*']\n"
        f"  not_before: '{later}'\n  reason: {{policy: {POLICY}}}\n"
    )
    decide_restrict(
        store,
        settings,
        case,
        text,
        name="customer.yaml",
        actor=investigator,
        rationale="INTERNAL-RATIONALE",
        limits=PlanLimits(max_subscriptions=1000, max_usage_share=1.0),
    )
    sibling = f"id: {SIBLING}\nscope: {SIBLING_NODE}\nactions: ['storage.*:*']\n"
    propose_restrictions(store, sibling, name="sibling.yaml", actor=investigator)
    for rid in (IN_FORCE, SCHEDULED, SIBLING):
        approve_restriction(store, rid, actor=approver, settings=settings)
    return Restricted(case)
