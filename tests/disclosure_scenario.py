"""Every kind of ledger event, through the real services (``tests`` is on sys.path).

The transparency seed's story (reports, a case, a restricting decision, an appeal,
restrictions without a case) told at greater length, so that every event type the code
can write happens at least once: signals attached, assignment, usage accessed and pinned,
tasks, the blast-radius guard, a decision without a restriction, rejections, promotions,
a second world import, a role and a key revoked.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from brightline.cases import (
    AppealOutcome,
    DocumentKind,
    DocumentReference,
    Finding,
    FindingOutcome,
    Role,
    SourceKind,
)
from brightline.config import Settings
from brightline.service import (
    approve_restriction,
    import_world,
    lift_restriction,
    propose_restrictions,
    reject_restriction,
)
from brightline.service.apikeys import revoke_key
from brightline.service.bundles import BundleKeeper
from brightline.service.cases import (
    add_evidence,
    add_task,
    assign,
    attach_signal,
    close_case,
    complete_task,
    decide_appeal,
    decide_no_restriction,
    open_case,
    record_appeal,
    record_finding,
    start_review,
)
from brightline.service.guard import PlanLimits
from brightline.service.intake import revoke_role, signal_from_alert
from brightline.service.ledger import LedgerKeys, keygen, sync
from brightline.service.plans import decide_restrict
from brightline.service.private_figures import release_private_figures
from brightline.service.transparency import report_parameters
from brightline.service.usage import case_usage
from brightline.store import Store
from cases.case_scenarios import EXAMPLE, POLICY, at, report, september_usage, with_people
from transparency.scenario import ALERT, CASE_RESTRICTION, OTHER

DRY_RUNS = """\
- id: r-dry-kept
  scope: sub-acme-calls
  actions: ["ai.speech:transcribe"]
  mode: dry-run
  reason: {policy: mass-surveillance}
- id: r-refused
  scope: northwind
  actions: ["ai.translator:*"]
  regions: [northeurope]
  reason: {policy: mass-surveillance}
"""


def _promotion(text: str, restriction_id: str) -> str:
    """The YAML re-proposing a dry-run restriction of ``text`` as enforce."""
    import yaml

    (body,) = [r for r in yaml.safe_load(text) if r["id"] == restriction_id]
    return yaml.safe_dump({**body, "mode": "enforce"})


def _changed_world(directory: Path) -> Path:
    """The example world with headquarters moved to another sector and a country for the
    intelligence unit: entries logged after its import publish these."""
    shutil.copytree(EXAMPLE, directory)
    path = directory / "directory.jsonl"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        '"name": "Headquarters", "attrs": {"sector": "defense"}',
        '"name": "Headquarters", "attrs": {"sector": "administration"}',
    ).replace(
        '"attrs": {"sector": "intelligence"}',
        '"attrs": {"sector": "intelligence", "country": "XG"}',
    )
    path.write_text(text, encoding="utf-8")
    return directory


def key_id(key: str) -> str:
    """The public id of an API key ``bl_<id>_<secret>``."""
    return key.split("_")[1]


def every_event(store: Store, settings: Settings, scratch: Path) -> Iterator[str]:
    """Run the story, yielding after each step (its name) so that a caller may sync the
    ledger in between, as the command line does, or not, as a lagging server does."""
    people = with_people(store)
    september_usage(settings)
    yield "people"
    anonymous = report(store, actor=people["casey"])
    named = report(store, actor=people["casey"], name="Jo Whistle", source=SourceKind.EMPLOYEE)
    alert = signal_from_alert(store, ALERT, actor=people["investigator"], now=at(0)).ref
    yield "signals"
    case = open_case(
        store,
        actor=people["investigator"],
        title="Unit 9900",
        signals=[anonymous, named],
        now=at(1),
    ).id
    yield "opened"
    attach_signal(store, case, alert, actor=people["investigator"], now=at(1.5))
    assign(store, case, "reviewer", actor=people["investigator"], now=at(2))
    start_review(store, case, actor=people["investigator"], now=at(3))
    yield "review"
    case_usage(store, settings, case, actor=people["reviewer"], pin=True, now=at(4))
    case_usage(
        store, settings, case, actor=people["reviewer"], purpose="which subscription", now=at(4)
    )
    add_evidence(
        store,
        case,
        DocumentReference(DocumentKind.CONTRACT, "ab" * 32, "Framework agreement 2024"),
        actor=people["reviewer"],
        now=at(5),
    )
    add_task(
        store, case, actor=people["investigator"], title="ask sales", assignee="reviewer", now=at(5)
    )
    complete_task(store, case, 1, actor=people["investigator"], now=at(5.5))
    yield "evidence"
    record_finding(
        store,
        case,
        Finding(POLICY, FindingOutcome.SUBSTANTIATED, "telecom-scale speech", (1,)),
        actor=people["reviewer"],
        now=at(6),
    )
    assign(store, case, "reviewer", actor=people["investigator"], remove=True, now=at(6.5))
    yield "finding"
    decide_restrict(
        store,
        settings,
        case,
        CASE_RESTRICTION,
        name="r.yaml",
        actor=people["investigator"],
        rationale="substantiated mass surveillance",
        limits=PlanLimits(max_subscriptions=1),
        now=at(8),
    )
    yield "decided"
    # The guard's approval:
    approve_restriction(store, "r-9900", actor=people["approver1"], settings=settings, now=at(9))
    yield "guard"
    approve_restriction(store, "r-9900", actor=people["approver2"], settings=settings, now=at(10))
    yield "approved"
    record_appeal(store, case, actor=people["investigator"], grounds="unit repurposed", now=at(20))
    decide_appeal(
        store,
        case,
        actor=people["approver1"],
        outcome=AppealOutcome.LIFT,
        rationale="ok",
        now=at(30),
    )
    approve_restriction(store, "r-9900", actor=people["approver2"], settings=settings, now=at(31))
    close_case(store, case, actor=people["investigator"], why="lifted on appeal", now=at(32))
    yield "appeal"
    other = report(store, actor=people["casey"], node="acme-voice")
    second = open_case(
        store, actor=people["investigator"], title="Acme", signals=[other], now=at(33)
    ).id
    start_review(store, second, actor=people["investigator"], now=at(34))
    record_finding(
        store,
        second,
        Finding(POLICY, FindingOutcome.NOT_SUBSTANTIATED, "a call centre"),
        actor=people["investigator"],
        now=at(34.5),
    )
    decide_no_restriction(
        store, second, actor=people["investigator"], rationale="a call centre", now=at(35)
    )
    close_case(store, second, actor=people["investigator"], why="no misuse", now=at(36))
    yield "second case"
    propose_restrictions(store, OTHER, name="o.yaml", actor=people["investigator"], now=at(40))
    propose_restrictions(store, DRY_RUNS, name="d.yaml", actor=people["investigator"], now=at(40))
    for rid in ("r-hq", "r-dry", "r-lifted", "r-dry-kept"):
        approve_restriction(store, rid, actor=people["approver1"], settings=settings, now=at(41))
    reject_restriction(store, "r-refused", actor=people["approver1"], why="too broad", now=at(41))
    yield "restrictions"
    lift_restriction(store, "r-lifted", actor=people["investigator"], why="mistake", now=at(50))
    approve_restriction(store, "r-lifted", actor=people["approver1"], settings=settings, now=at(51))
    lift_restriction(store, "r-hq", actor=people["investigator"], why="maybe", now=at(52))
    reject_restriction(store, "r-hq", actor=people["approver1"], why="keep it", now=at(53))
    yield "lifts"
    propose_restrictions(
        store, _promotion(OTHER, "r-dry"), name="p.yaml", actor=people["investigator"], now=at(54)
    )
    approve_restriction(store, "r-dry", actor=people["approver1"], settings=settings, now=at(55))
    promote = _promotion(DRY_RUNS, "r-dry-kept")
    propose_restrictions(store, promote, name="p.yaml", actor=people["investigator"], now=at(56))
    reject_restriction(store, "r-dry-kept", actor=people["approver1"], why="not yet", now=at(57))
    yield "promotions"
    import_world(store, _changed_world(scratch / "world-2"), actor=people["admin"], now=at(60))
    yield "second world"
    lift_restriction(store, "r-hq", actor=people["investigator"], why="reorganised", now=at(61))
    approve_restriction(store, "r-hq", actor=people["approver1"], settings=settings, now=at(62))
    revoke_role(store, "auditor", Role.AUDITOR, actor=people["admin"], now=at(63))
    revoke_key(store, key_id(people.keys["auditor"]), actor=people["admin"], now=at(63))
    # The server issues the bundle of the policy in force to the enforcement points.
    if LedgerKeys.of(settings).signer() is None:
        keygen(settings)
    signer = LedgerKeys.of(settings).signer()
    assert signer is not None
    BundleKeeper(store, signer).refresh(now=at(64))
    yield "after"
    # A transparency report's release of figures with differential privacy: it needs the
    # log's key and a signed checkpoint.
    sync(settings, store)
    october = report_parameters(
        settings, period_from=date(2025, 10, 1), period_to=date(2025, 10, 31), now=at(70)
    )
    release_private_figures(store, settings=settings, parameters=october, now=at(70))
    yield "released"
