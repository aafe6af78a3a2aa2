"""Steps 4–7: reports from people, the case, external review, the impact plan."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from brightline import files
from brightline.cases import (
    AccessDeniedError,
    DocumentKind,
    DocumentReference,
    Finding,
    FindingOutcome,
    OutsideReport,
    Reference,
    ReporterIdentity,
    Signal,
    SourceKind,
)
from brightline.demo.live import (
    CASE_ADMIN,
    INVESTIGATOR,
    REVIEWER,
)
from brightline.demo.state import (
    POLICY,
    RESTRICTION,
    RESTRICTION_ID,
    Demo,
    Progress,
    no_progress,
)
from brightline.service.cases import (
    add_evidence,
    assign,
    open_case,
    record_finding,
    start_review,
)
from brightline.service.intake import show_reporter, signal_from_alert, submit_report
from brightline.service.plans import plan_text
from brightline.service.public_reports import intake_queue, reply_to_reporter
from brightline.service.usage import case_usage
from brightline.store.cases import StoredSignal
from brightline.synth.story import ABROAD, MINISTRY, UNIT

# -- 4. reports from people ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalRow:
    ref: str
    source: str
    nodes: tuple[str, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class ReportsResult:
    signals: tuple[SignalRow, ...]
    #: What the case admin sees of the employee's identity, and what the investigator gets.
    admin_sees: str
    investigator_gets: str
    #: What the public reporter reads with their receipt, after the investigator's reply.
    public_status: str


def reports(demo: Demo, progress: Progress = no_progress) -> ReportsResult:
    """A journalist's report and an employee's report arrive (identities stored apart),
    a third through the public form with no account; the investigator answers it and
    turns the alerts into signals."""
    store = demo.store
    # Reports reach the case admin, who alone may later see who sent them.
    intake = demo.principal(CASE_ADMIN)
    journalist = submit_report(
        store,
        Signal(
            SourceKind.JOURNALIST,
            (UNIT,),
            (POLICY,),
            "Our investigation: Signals Intelligence Unit 9900 stores intercepted phone calls "
            "of millions of civilians on the provider's storage in two European regions and "
            "transcribes and translates them with its AI services.",
            references=(Reference("article", url="https://news.example/unit-9900"),),
        ),
        actor=intake,
        identity=ReporterIdentity("Jo Reporter", "jo@news.example", "The Example Times"),
    )
    employee = submit_report(
        store,
        Signal(
            SourceKind.EMPLOYEE,
            (UNIT,),
            (POLICY,),
            "A capacity request from the ministry asks for petabytes of archive and audio "
            "transcription in westeurope and northeurope for 'intercept processing'.",
            references=(
                Reference("capacity ticket", sha256=hashlib.sha256(b"ticket 4711").hexdigest()),
            ),
        ),
        actor=intake,
        identity=ReporterIdentity("A. Engineer", "secure-drop:4711"),
    )
    demo.signals = {"journalist": journalist.ref, "employee": employee.ref}
    rows = [
        SignalRow(journalist.ref, "journalist", journalist.nodes, journalist.summary),
        SignalRow(employee.ref, "employee", employee.nodes, employee.summary),
    ]
    investigator = demo.principal(INVESTIGATOR)
    public, public_status = _public_report(demo)
    demo.signals["public"] = public.ref
    rows.append(SignalRow(public.ref, "public", public.nodes, public.summary))
    for alert in demo.alerts:
        signal = signal_from_alert(store, alert, actor=investigator)
        demo.signals[f"alert {alert['node']}"] = signal.ref
        rows.append(SignalRow(signal.ref, "detector", signal.nodes, signal.summary))
    identity = show_reporter(store, employee.ref, actor=intake)
    admin_sees = "anonymous" if identity is None else f"{identity.name} ({identity.contact})"
    try:
        show_reporter(store, employee.ref, actor=investigator)
        investigator_gets = "the identity (unexpected)"
    except AccessDeniedError as exc:
        investigator_gets = f"refused: {exc}"
    return ReportsResult(tuple(rows), admin_sees, investigator_gets, public_status)


def _public_report(demo: Demo) -> tuple[StoredSignal, str]:
    """Someone with no account files through the public channel over HTTP, keeps the
    receipt, and reads the investigator's reply with it."""
    assert demo.server is not None, "the server starts in the people step"
    report = {
        "policy": POLICY,
        "subject": "the ministry's signals unit",
        "summary": "I worked on the unit's archive: call recordings from the whole "
        "country are uploaded nightly and run through speech-to-text.",
        "references": ["https://forum.example/post/991"],
    }
    with httpx.Client(base_url=demo.server.url, timeout=30) as anyone:
        filed = anyone.post("/v1/public/reports", json=report)
        filed.raise_for_status()
        receipt = filed.json()["receipt"]
        investigator = demo.principal(INVESTIGATOR)
        (queued,) = [q for q in intake_queue(demo.store, actor=investigator) if q.case is None]
        reply_to_reporter(
            demo.store,
            queued.signal.ref,
            "Thank you. We have opened an investigation.",
            actor=investigator,
        )
        status = anyone.post("/v1/public/reports/status", json={"receipt": receipt})
        status.raise_for_status()
    seen = status.json()
    replies = [m["text"] for m in seen["messages"] if m["from"] == "investigator"]
    return queued.signal, f"status {seen['status']}; reply: {' '.join(replies)}"


# -- 5. the case ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseResult:
    case_id: str
    status: str
    nodes: tuple[str, ...]
    signals: tuple[str, ...]
    assigned: tuple[str, ...]


def case(demo: Demo, progress: Progress = no_progress) -> CaseResult:
    """The investigator opens a case from the signals, assigns the external reviewer and
    starts the review (the case's nodes are now under a telemetry hold)."""
    store = demo.store
    investigator = demo.principal(INVESTIGATOR)
    state = open_case(
        store,
        actor=investigator,
        title="Signals Intelligence Unit 9900: mass surveillance of civilians?",
        signals=list(demo.signals.values()),
        nodes=(UNIT,),  # what the public report's subject names
    )
    demo.case_id = state.id
    assign(store, state.id, REVIEWER.name, actor=investigator)
    state = start_review(store, state.id, actor=investigator)
    return CaseResult(
        state.id,
        state.status.value,
        state.nodes,
        tuple(demo.signals.values()),
        tuple(sorted(state.assignees)),
    )


# -- 6. external review --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageRow:
    service: str
    unit: str
    unit_quantity: float
    ministry_quantity: float
    abroad_share: float  # of the unit's quantity, in the two regions abroad


@dataclass(frozen=True, slots=True)
class ReviewResult:
    usage: tuple[UsageRow, ...]
    subscriptions_seen: tuple[str, ...]
    evidence: tuple[str, ...]
    finding: str
    status: str


def review(demo: Demo, progress: Progress = no_progress) -> ReviewResult:
    """The external reviewer pins usage aggregates as evidence, looks per subscription
    (with a stated purpose, itself a ledger entry), adds the article and the contract,
    and records a finding."""
    store, settings, case_id = demo.store, demo.settings, demo.case_id
    reviewer = demo.principal(REVIEWER)
    pinned = case_usage(store, settings, case_id, actor=reviewer, pin=True)
    totals: dict[tuple[str, str, str], float] = {}
    abroad: dict[tuple[str, str], float] = {}
    for row in pinned.aggregate.rows:
        key = (row.node, row.service, row.unit)
        totals[key] = totals.get(key, 0.0) + row.quantity
        if row.node == UNIT and row.region in ABROAD:
            abroad[(row.service, row.unit)] = (
                abroad.get((row.service, row.unit), 0.0) + row.quantity
            )
    usage = []
    for (node, service, unit), quantity in sorted(totals.items()):
        if node != UNIT:
            continue
        usage.append(
            UsageRow(
                service,
                unit,
                quantity,
                totals.get((MINISTRY, service, unit), quantity),
                abroad.get((service, unit), 0.0) / quantity if quantity else 0.0,
            )
        )
    breakdown = case_usage(
        store,
        settings,
        case_id,
        actor=reviewer,
        nodes=[UNIT],
        purpose="which of the unit's subscriptions archive, transcribe and translate",
    )
    add_evidence(
        store,
        case_id,
        OutsideReport(
            "The Example Times: the unit's archive of intercepted calls",
            url="https://news.example/unit-9900",
            signal=demo.signals["journalist"],
        ),
        actor=reviewer,
    )
    add_evidence(
        store,
        case_id,
        DocumentReference(
            DocumentKind.CONTRACT,
            hashlib.sha256(b"framework agreement MoD Freedonia 2024").hexdigest(),
            "Framework agreement with the Ministry of Defence of Freedonia, 2024",
        ),
        actor=reviewer,
    )
    rationale = (
        "Unit 9900 alone transcribes and translates audio at telecom scale and archives "
        "petabytes in westeurope and northeurope, matching the journalist's and the "
        "employee's reports; the ministry's other units and the look-alike customers do not."
    )
    state = record_finding(
        store,
        case_id,
        Finding(POLICY, FindingOutcome.SUBSTANTIATED, rationale, (1, 2, 3)),
        actor=reviewer,
    )
    return ReviewResult(
        usage=tuple(usage),
        subscriptions_seen=tuple(sorted({r.node for r in breakdown.aggregate.rows})),
        evidence=tuple(f"{e.number}: {e.evidence.kind.value}" for e in state.evidence),
        finding=f"{POLICY}: {FindingOutcome.SUBSTANTIATED.value}. {rationale}",
        status=state.status.value,
    )


# -- 7. the impact plan --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanResult:
    restriction: str
    file: Path
    document: dict[str, Any]


def plan(demo: Demo, progress: Progress = no_progress) -> PlanResult:
    """Before anything is proposed: what the restriction would deny, replayed over the last
    30 days of metering, and what it leaves alone."""
    directory = demo.options.directory / "restrictions"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{RESTRICTION_ID}.yaml"
    files.write_file(path, RESTRICTION)
    impact = plan_text(demo.store, demo.settings, RESTRICTION, name=path.name, now=demo.now())
    return PlanResult(RESTRICTION, path, impact.to_json())
