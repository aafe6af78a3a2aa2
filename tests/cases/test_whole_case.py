"""A whole case on both databases: an anonymous report and a detection alert, external
review, findings, impact plan, two-person (plus guard) approval, enforcement, an appeal
that lifts the restriction, closing, and an export verified offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brightline.cases import (
    AccessDeniedError,
    AppealOutcome,
    CaseStatus,
    DocumentKind,
    DocumentReference,
    Finding,
    FindingOutcome,
    SourceKind,
)
from brightline.config import Settings
from brightline.disclosure import PUBLIC_FIELDS
from brightline.errors import ConflictError
from brightline.ledger import generate_key
from brightline.policy import Request
from brightline.service import Status, approve_restriction, compile_snapshot_at, show_restriction
from brightline.service.case_export import export_case, show_case, verify_case_bundle
from brightline.service.cases import (
    CaseHolds,
    add_evidence,
    assign,
    close_case,
    decide_appeal,
    open_case,
    record_appeal,
    record_finding,
    start_review,
)
from brightline.service.guard import PlanLimits
from brightline.service.intake import show_reporter, signal_from_alert
from brightline.service.ledger import sync_ledger
from brightline.service.plans import decide_restrict
from brightline.service.usage import case_usage
from brightline.store import Store, read_outbox
from brightline.store.ledger import iter_public
from cases.case_scenarios import POLICY, People, at, report, september_usage

RESTRICTION = """\
id: r-9900
scope: unit-9900
actions: ["storage.*:*", "ai.speech:transcribe"]
regions: [westeurope]
exempt: [sub-9900-rescue]
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


def _deny(store: Store, node: str, when_hours: float) -> bool:
    snapshot = compile_snapshot_at(store, at(when_hours)).snapshot
    request = Request(node, "storage.blob", "write", "westeurope", at(when_hours))
    return snapshot.decide(request).denied


def test_whole_case_from_reports_to_lifted_restriction(
    store: Store, people: People, tmp_path: Path
) -> None:
    investigator, reviewer, auditor = people["investigator"], people["reviewer"], people["auditor"]
    approver1, approver2, admin = people["approver1"], people["approver2"], people["admin"]
    settings = Settings(data_dir=tmp_path / "data")
    september_usage(settings)

    anonymous = report(store, actor=admin)
    named = report(store, actor=admin, name="Jo Whistle", source=SourceKind.EMPLOYEE)
    alert = signal_from_alert(store, ALERT, actor=investigator, now=at(0)).ref
    assert signal_from_alert(store, ALERT, actor=investigator, now=at(0)).ref == alert
    state = open_case(
        store,
        actor=investigator,
        title="Unit 9900",
        signals=[anonymous, named, alert],
        now=at(1),
    )
    case = state.id
    assert state.status is CaseStatus.OPEN
    assert CaseHolds(store).held_nodes(at(1)) == {"unit-9900", "unit-9900-analysis"}

    # The reporter is visible to the case admin only.
    assert show_reporter(store, named, actor=admin) is not None
    assert show_reporter(store, anonymous, actor=admin) is None
    with pytest.raises(AccessDeniedError):
        show_reporter(store, named, actor=investigator)
    assert "reporters" not in show_case(store, case, actor=investigator).to_json()
    assert "Jo Whistle" in json.dumps(show_case(store, case, actor=admin).to_json())

    # External review: only once assigned.
    with pytest.raises(AccessDeniedError, match="not assigned"):
        show_case(store, case, actor=reviewer)
    assign(store, case, "reviewer", actor=investigator, now=at(2))
    start_review(store, case, actor=investigator, now=at(3))
    pinned = case_usage(store, settings, case, actor=reviewer, pin=True, now=at(4))
    assert {r.node for r in pinned.aggregate.rows} == {"unit-9900", "unit-9900-analysis"}
    breakdown = case_usage(
        store,
        settings,
        case,
        actor=reviewer,
        purpose="which subscription transcribes",
        now=at(4),
    )
    assert "sub-9900-transcribe" in {r.node for r in breakdown.aggregate.rows}
    add_evidence(
        store,
        case,
        DocumentReference(DocumentKind.CONTRACT, "ab" * 32, "Framework agreement 2024"),
        actor=reviewer,
        now=at(5),
    )
    record_finding(
        store,
        case,
        Finding(POLICY, FindingOutcome.SUBSTANTIATED, "telecom-scale speech", (1,)),
        actor=reviewer,
        now=at(6),
    )
    with pytest.raises(ConflictError, match="substantiated"):
        close_case(store, case, actor=investigator, why="done", now=at(7))
    with pytest.raises(AccessDeniedError):
        decide_restrict(
            store,
            settings,
            case,
            RESTRICTION,
            name="r.yaml",
            actor=reviewer,
            rationale="x",
            now=at(7),
        )

    # Decision with its impact plan; the guard trips on one subscription.
    state, plan = decide_restrict(
        store,
        settings,
        case,
        RESTRICTION,
        name="r.yaml",
        actor=investigator,
        rationale="substantiated mass surveillance",
        limits=PlanLimits(max_subscriptions=1),
        now=at(8),
    )
    assert state.status is CaseStatus.DECIDED
    assert plan.exceeds_limits
    assert plan.document["subscriptions_affected"] == 4
    assert plan.document["phases"][0]["replay"]["denied"] == 40  # ingest + transcribe, westeurope

    with pytest.raises(AccessDeniedError):
        approve_restriction(store, "r-9900", actor=reviewer, settings=settings, now=at(9))
    with pytest.raises(AccessDeniedError, match="needs one of: approver"):
        approve_restriction(store, "r-9900", actor=investigator, settings=settings, now=at(9))
    first = approve_restriction(store, "r-9900", actor=approver1, settings=settings, now=at(9))
    assert first.guard_approval
    assert first.status is Status.PROPOSED
    with pytest.raises(ConflictError, match="blast-radius"):
        approve_restriction(store, "r-9900", actor=approver1, settings=settings, now=at(9))
    assert not _deny(store, "sub-9900-ingest", 10)
    second = approve_restriction(store, "r-9900", actor=approver2, settings=settings, now=at(10))
    assert second.status is Status.IN_FORCE
    assert _deny(store, "sub-9900-ingest", 11)
    assert not _deny(store, "sub-9900-rescue", 11)

    # The customer appeals; the re-review lifts it, with a second person's approval.
    record_appeal(store, case, actor=investigator, grounds="unit repurposed", now=at(12))
    state = decide_appeal(
        store,
        case,
        actor=approver1,
        outcome=AppealOutcome.LIFT,
        rationale="verified",
        now=at(13),
    )
    assert state.status is CaseStatus.RE_REVIEWED
    approve_restriction(store, "r-9900", actor=approver2, settings=settings, now=at(14))
    assert show_restriction(store, "r-9900", now=at(15)).status is Status.LIFTED
    assert not _deny(store, "sub-9900-ingest", 15)
    state = close_case(store, case, actor=investigator, why="lifted on appeal", now=at(16))
    assert state.status is CaseStatus.CLOSED
    assert CaseHolds(store).held_nodes(at(16)) == set()

    _check_outbox_is_safe(store)

    # Export, verified offline against the log's key.
    signer = generate_key("brightline.test/log")
    sync_ledger(store, signer=signer, now=at(17))
    _check_public_forms(store)
    out = tmp_path / "case.json"
    bundle = export_case(store, case, out, actor=auditor, verifier=signer.verifier(), now=at(18))
    assert bundle["ledger"]["not_yet_logged"] == []
    assert len(bundle["ledger"]["entries"]) >= len(bundle["case"]["events"]) + 4
    check = verify_case_bundle(json.loads(out.read_text()), signer.verifier())
    assert check.ok, check.problems
    assert "Jo Whistle" not in out.read_text()
    assert "secure-drop" not in out.read_text()
    tampered = json.loads(out.read_text())
    tampered["case"]["events"][0]["actor"] = "someone-else"
    assert not verify_case_bundle(tampered, signer.verifier()).ok


def _check_outbox_is_safe(store: Store) -> None:
    """No reporter, summary or name in any payload, and no public part decided by its
    writer: brightline.disclosure decides what the ledger publishes, at sync."""
    with store.read() as session:
        entries = read_outbox(session, limit=100_000)
    for entry in entries:
        assert "Jo Whistle" not in entry.payload
        assert "secure-drop" not in entry.payload
        assert "anonymous" not in entry.payload
        assert "public" not in entry.data(), entry.event_type


def _check_public_forms(store: Store) -> None:
    with store.read() as session:
        forms = [json.loads(public) for _, public in iter_public(session)]
    for form in forms:
        assert set(form["public"]) <= PUBLIC_FIELDS[form["type"]], form["type"]
        assert "intercepts" not in json.dumps(form)
        for node in form["public"].get("nodes", []):
            assert set(node) <= {"kind", "sector", "country"}
