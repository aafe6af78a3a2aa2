"""A seed-like case through the real services, for the transparency tests (``tests`` is on
sys.path): reports, a case, a finding, a decision that restricts, two-person approval, an
appeal upheld; plus a restriction without a case, a dry-run one and one lifted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from brightline.cases import AppealOutcome, Finding, FindingOutcome, SourceKind
from brightline.config import Settings
from brightline.service import approve_restriction, lift_restriction, propose_restrictions
from brightline.service.cases import (
    decide_appeal,
    open_case,
    record_appeal,
    record_finding,
    start_review,
)
from brightline.service.guard import PlanLimits
from brightline.service.intake import signal_from_alert
from brightline.service.ledger import keygen
from brightline.service.plans import decide_restrict
from brightline.store import Store
from cases.case_scenarios import POLICY, at, report, september_usage, with_people

PERIOD = (date(2025, 10, 1), date(2025, 10, 31))
NOW = at(24 * 40)  # well after the period

CASE_RESTRICTION = """\
id: r-9900
scope: unit-9900
actions: ["storage.*:*", "ai.speech:transcribe"]
regions: [westeurope]
exempt: [sub-9900-rescue]
reason: {policy: mass-surveillance}
"""
OTHER = """\
- id: r-hq
  scope: mod-hq
  actions: ["ai.speech:*"]
  reason: {policy: mass-surveillance}
- id: r-dry
  scope: mod-medical
  actions: ["ai.speech:*"]
  mode: dry-run
  reason: {policy: mass-surveillance}
- id: r-lifted
  scope: unit-9900-analysis
  actions: ["ai.translator:*"]
  reason: {policy: mass-surveillance}
"""
ALERT = {
    "id": "a1b2c3",
    "pack": "mass-surveillance",
    "policy": POLICY,
    "node": "unit-9900-analysis",
    "node_kind": "unit",
    "score": 7.5,
    "threshold": 5.0,
    "rules": ["speech-telecom-scale"],
    "window_start": "2025-09-01",
    "window_end": "2025-09-30",
}


def settings_for(tmp_path: Path, *, k: int = 1) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", transparency_k=k)
    keygen(settings, name="brightline.test/log")
    return settings


def seed(store: Store, settings: Settings) -> str:
    """Everything happens on 1–3 October 2025; returns the case id."""
    people = with_people(store)
    investigator, admin = people["investigator"], people["admin"]
    approver1, approver2 = people["approver1"], people["approver2"]
    september_usage(settings)
    anonymous = report(store, actor=admin)
    named = report(store, actor=admin, name="Jo Whistle", source=SourceKind.EMPLOYEE)
    alert = signal_from_alert(store, ALERT, actor=investigator, now=at(0)).ref
    case = open_case(
        store, actor=investigator, title="Unit 9900", signals=[anonymous, named, alert], now=at(1)
    ).id
    start_review(store, case, actor=investigator, now=at(3))
    record_finding(
        store,
        case,
        Finding(POLICY, FindingOutcome.SUBSTANTIATED, "telecom-scale speech"),
        actor=investigator,
        now=at(6),
    )
    decide_restrict(
        store,
        settings,
        case,
        CASE_RESTRICTION,
        name="r.yaml",
        actor=investigator,
        rationale="substantiated mass surveillance",
        limits=PlanLimits(max_subscriptions=100, max_usage_share=1.0),
        now=at(8),
    )
    approve_restriction(store, "r-9900", actor=approver1, settings=settings, now=at(12))
    record_appeal(store, case, actor=investigator, grounds="unit repurposed", now=at(20))
    decide_appeal(
        store, case, actor=approver1, outcome=AppealOutcome.UPHELD, rationale="no", now=at(30)
    )
    propose_restrictions(store, OTHER, name="o.yaml", actor=investigator, now=at(40))
    for rid in ("r-hq", "r-dry", "r-lifted"):
        approve_restriction(store, rid, actor=approver2, settings=settings, now=at(41))
    lift_restriction(store, "r-lifted", actor=investigator, why="mistake", now=at(50))
    approve_restriction(store, "r-lifted", actor=approver2, settings=settings, now=at(51))
    return case
