"""``brightline case``: cases, evidence, findings, decisions, appeals and exports
(notifications: :mod:`brightline.cli.notify`). Every command but ``verify`` acts as the
principal of its credential (:mod:`brightline.cli.credentials`); the service checks that
principal's roles again, and an external reviewer's assignment to the case."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from brightline import files
from brightline.access import Action
from brightline.cases import (
    AppealOutcome,
    CaseState,
    CaseStatus,
    DocumentKind,
    DocumentReference,
    Finding,
    FindingOutcome,
    OutsideReport,
)
from brightline.cli.app import app, command, console, settings
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.cli.witness_options import WitnessKeys, WitnessQuorumOption
from brightline.errors import InvalidInputError, LedgerIntegrityError, Problem
from brightline.ledger import read_verifier
from brightline.service.case_export import (
    CaseView,
    case_timeline,
    export_case,
    list_cases,
    read_bundle,
    show_case,
    verify_case_bundle,
)
from brightline.service.cases import (
    add_evidence,
    add_task,
    assign,
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
from brightline.service.intake import show_reporter, signals_from_alerts
from brightline.service.ledger import LedgerKeys, sync
from brightline.service.plans import decide_restrict
from brightline.service.restrictions import approve_restriction
from brightline.service.usage import case_usage
from brightline.service.witnessing import witness_quorum

case_app = typer.Typer(
    help="Cases: signals, review, evidence, findings, decisions, appeals.", no_args_is_help=True
)
evidence_app = typer.Typer(help="Evidence of a case.", no_args_is_help=True)
finding_app = typer.Typer(help="Findings of a case.", no_args_is_help=True)
task_app = typer.Typer(help="Tasks of a case.", no_args_is_help=True)
app.add_typer(case_app, name="case")
case_app.add_typer(evidence_app, name="evidence")
case_app.add_typer(finding_app, name="finding")
case_app.add_typer(task_app, name="task")

CaseId = Annotated[str, typer.Argument(help="Case id (C-<n>).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _json(value: Any) -> None:
    console.print_json(json.dumps(value, ensure_ascii=False))


def _state(state: CaseState, as_json: bool, note: str = "") -> None:
    if as_json:
        _json({"id": state.id, "status": state.status.value, "revision": state.revision})
        return
    console.print(f"[bold]{state.id}[/]: {state.status.value}{note}", highlight=False)


# -- cases ------------------------------------------------------------------------------------


@command(case_app, name="open")
def open_(
    title: Annotated[str, typer.Option("--title", help="What the case is about.")],
    signal: Annotated[list[str] | None, typer.Option("--signal", help="Signal id (S-<n>).")] = None,
    alert: Annotated[list[str] | None, typer.Option("--alert", help="Detection alert id.")] = None,
    alerts: Annotated[Path | None, typer.Option("--alerts", help="Alerts file.")] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Open a case from signals and/or detection alerts."""
    config = settings()
    with acting(Action.OPEN_CASE, key_file, token_file, config=config, record=True) as (
        store,
        actor,
    ):
        refs = list(signal or [])
        refs += signals_from_alerts(store, config, alert or [], actor=actor, alerts_file=alerts)
        state = open_case(store, actor=actor, title=title, signals=refs)
    _state(state, as_json)


@command(case_app, name="show")
def show(
    case_id: CaseId, key_file: KeyFile = None, token_file: TokenFile = None, as_json: AsJson = False
) -> None:
    """A case as you may see it (reporters only for case admins)."""
    with acting(Action.VIEW_CASE, key_file, token_file) as (store, actor):
        view = show_case(store, case_id, actor=actor)
    if as_json:
        _json(view.to_json())
        return
    _summary(view)


def _summary(view: CaseView) -> None:
    data = view.to_json(history=False)
    console.print(f"[bold]{view.id}[/] {data['title']}: {data['status']}", highlight=False)
    for key in ("nodes", "policies", "assignees", "plans"):
        console.print(f"  {key}: {', '.join(map(str, data[key])) or '-'}", highlight=False)
    for group in ("evidence", "findings", "decisions", "appeals", "tasks"):
        for item in data[group]:
            console.print(
                f"  {group} {item['number']}: {_brief(item)}", highlight=False, markup=False
            )


def _brief(item: dict[str, Any]) -> str:
    keys = ("kind", "document", "title", "policy", "outcome", "rationale", "grounds", "due")
    return "; ".join(f"{k}={item[k]}" for k in keys if item.get(k) not in (None, ""))


@command(case_app, name="list")
def list_(
    status: Annotated[CaseStatus | None, typer.Option("--status")] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Cases you may see."""
    with acting(Action.LIST_CASES, key_file, token_file) as (store, actor):
        views = list_cases(store, actor=actor, status=status)
    if as_json:
        _json([v.to_json(history=False) for v in views])
        return
    for view in views:
        console.print(
            f"{view.id}  {view.state.status.value:13} {view.state.title}",
            highlight=False,
            markup=False,
        )


@command(case_app, name="assign")
def assign_(
    case_id: CaseId,
    principal: str,
    remove: Annotated[bool, typer.Option("--remove")] = False,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Assign someone (an external reviewer sees only cases assigned to it)."""
    with acting(Action.ASSIGN, key_file, token_file, record=True) as (store, actor):
        state = assign(store, case_id, principal, actor=actor, remove=remove)
    _state(state, as_json)


@command(case_app, name="review")
def review(
    case_id: CaseId, key_file: KeyFile = None, token_file: TokenFile = None, as_json: AsJson = False
) -> None:
    """Start reviewing an open case."""
    with acting(Action.START_REVIEW, key_file, token_file, record=True) as (store, actor):
        state = start_review(store, case_id, actor=actor)
    _state(state, as_json)


@command(evidence_app, name="add")
def evidence_add(
    case_id: CaseId,
    title: Annotated[str, typer.Option("--title")],
    document: Annotated[DocumentKind | None, typer.Option("--document")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Hash this file.")] = None,
    sha256: Annotated[str | None, typer.Option("--sha256")] = None,
    url: Annotated[str | None, typer.Option("--url")] = None,
    report: Annotated[bool, typer.Option("--report", help="An outside report.")] = False,
    upload: Annotated[bool, typer.Option("--upload", help="Keep a copy (own documents).")] = False,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Add a document reference (contract, order, ticket…) or an outside report, by hash.
    Usage aggregates are pinned with `case usage --pin`."""
    config = settings()
    content = None
    if file is not None:
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise InvalidInputError(Problem(str(file), f"cannot read: {exc}")) from exc
        sha256 = hashlib.sha256(content).hexdigest()
    if report:
        item: DocumentReference | OutsideReport = OutsideReport(title=title, url=url, sha256=sha256)
    else:
        if document is None or sha256 is None:
            raise InvalidInputError(Problem("--document", "give --document and --file or --sha256"))
        item = DocumentReference(document, sha256, title, url, uploaded=upload)
        if upload and content is None:
            raise InvalidInputError(Problem("--upload", "needs --file"))
    with acting(Action.ADD_EVIDENCE, key_file, token_file, config=config, record=True) as (
        store,
        actor,
    ):
        if upload and content is not None and sha256 is not None:
            # Only once the principal is known: no copy is kept for an unknown caller.
            files.write_file(config.data_dir / "case-documents" / sha256, content)
        state = add_evidence(store, case_id, item, actor=actor)
    _state(state, as_json, f", evidence {len(state.evidence)} pinned")


@command(case_app, name="usage")
def usage(
    case_id: CaseId,
    days: Annotated[int, typer.Option("--days")] = 30,
    node: Annotated[list[str] | None, typer.Option("--node")] = None,
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="Per-subscription breakdown: why (logged).")
    ] = None,
    pin: Annotated[bool, typer.Option("--pin", help="Pin the aggregate as evidence.")] = False,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Usage of the case's nodes: aggregates per node; per subscription with a purpose."""
    config = settings()
    action = Action.VIEW_USAGE if purpose is None else Action.VIEW_USAGE_BREAKDOWN
    with acting(action, key_file, token_file, config=config, record=True) as (store, actor):
        view = case_usage(
            store,
            config,
            case_id,
            actor=actor,
            days=days,
            nodes=node or (),
            purpose=purpose,
            pin=pin,
        )
    _json(view.to_json())


@command(task_app, name="add")
def task_add(
    case_id: CaseId,
    title: Annotated[str, typer.Option("--title")],
    due: Annotated[datetime | None, typer.Option("--due")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee")] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Add a task with an optional due date and assignee."""
    from datetime import UTC

    due_at = due.replace(tzinfo=UTC) if due is not None and due.tzinfo is None else due
    with acting(Action.ADD_TASK, key_file, token_file, record=True) as (store, actor):
        state = add_task(store, case_id, actor=actor, title=title, due=due_at, assignee=assignee)
    _state(state, as_json)


@command(task_app, name="done")
def task_done(
    case_id: CaseId,
    number: int,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Mark a task done."""
    with acting(Action.ADD_TASK, key_file, token_file, record=True) as (store, actor):
        state = complete_task(store, case_id, number, actor=actor)
    _state(state, as_json)


@command(finding_app, name="add")
def finding_add(
    case_id: CaseId,
    policy: Annotated[str, typer.Option("--policy")],
    outcome: Annotated[FindingOutcome, typer.Option("--outcome")],
    rationale: Annotated[str, typer.Option("--rationale")],
    evidence: Annotated[
        list[int] | None, typer.Option("--evidence", help="Evidence number.")
    ] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Record a finding on one alleged policy, linking evidence."""
    finding = Finding(policy, outcome, rationale, tuple(evidence or ()))
    with acting(Action.ADD_FINDING, key_file, token_file, record=True) as (store, actor):
        state = record_finding(store, case_id, finding, actor=actor)
    _state(state, as_json)


@command(case_app, name="decide")
def decide(
    case_id: CaseId,
    rationale: Annotated[str, typer.Option("--rationale")],
    restrict: Annotated[Path | None, typer.Option("--restrict", help="Restrictions YAML.")] = None,
    no_restriction: Annotated[bool, typer.Option("--no-restriction")] = False,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Decide: propose restrictions (with their impact plan) or record why none."""
    config = settings()
    if (restrict is None) == (not no_restriction):
        raise InvalidInputError(Problem("--restrict", "give --restrict FILE or --no-restriction"))
    with acting(Action.DECIDE, key_file, token_file, config=config, record=True) as (
        store,
        actor,
    ):
        if restrict is None:
            state = decide_no_restriction(store, case_id, actor=actor, rationale=rationale)
            _state(state, as_json)
            return
        try:
            text = restrict.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(Problem(str(restrict), f"cannot read: {exc}")) from exc
        state, plan = decide_restrict(
            store,
            config,
            case_id,
            text,
            name=restrict.name,
            actor=actor,
            rationale=rationale,
            limits=PlanLimits.of(config),
        )
    if as_json:
        _json({"id": state.id, "status": state.status.value, "plan": plan.to_json()})
        return
    guard = plan.document["blast_radius"]
    _state(state, False, f", proposed {', '.join(plan.restriction_ids)}")
    if guard["exceeds"]:
        console.print("  blast-radius guard: " + "; ".join(guard["reasons"]), highlight=False)


@command(case_app, name="approve")
def approve_(
    restriction_id: str,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Approve a restriction as an approver (a guarded one needs two approvers)."""
    with acting(Action.APPROVE_RESTRICTION, key_file, token_file, record=True) as (store, actor):
        view = approve_restriction(store, restriction_id, actor=actor, settings=settings())
    if as_json:
        _json(view.to_json(history=False))
    elif view.guard_approval:
        console.print(
            f"{restriction_id}: guard approval recorded; a second approver must now approve it",
            highlight=False,
        )
    else:
        console.print(f"{restriction_id}: {view.status.value}", highlight=False)


@command(case_app, name="appeal")
def appeal(
    case_id: CaseId,
    grounds: Annotated[str | None, typer.Option("--grounds", help="Record an appeal.")] = None,
    outcome: Annotated[AppealOutcome | None, typer.Option("--outcome")] = None,
    rationale: Annotated[str | None, typer.Option("--rationale")] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Record the customer's appeal (--grounds), or decide it (--outcome, --rationale)."""
    if grounds is not None:
        with acting(Action.RECORD_APPEAL, key_file, token_file, record=True) as (store, actor):
            state = record_appeal(store, case_id, actor=actor, grounds=grounds)
    elif outcome is not None and rationale is not None:
        with acting(Action.DECIDE_APPEAL, key_file, token_file, record=True) as (store, actor):
            state = decide_appeal(store, case_id, actor=actor, outcome=outcome, rationale=rationale)
    else:
        raise InvalidInputError(
            Problem("--grounds", "give --grounds, or --outcome and --rationale")
        )
    _state(state, as_json)


@command(case_app, name="close")
def close(
    case_id: CaseId,
    why: Annotated[str, typer.Option("--why")],
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Close (refused with a substantiated finding and no decision); releases the hold."""
    with acting(Action.CLOSE, key_file, token_file, record=True) as (store, actor):
        state = close_case(store, case_id, actor=actor, why=why)
    _state(state, as_json)


@command(case_app, name="timeline")
def timeline(
    case_id: CaseId, key_file: KeyFile = None, token_file: TokenFile = None, as_json: AsJson = False
) -> None:
    """Everything that happened to the case and its restrictions."""
    with acting(Action.VIEW_CASE, key_file, token_file) as (store, actor):
        items = case_timeline(store, case_id, actor=actor)
    if as_json:
        _json(items)
        return
    for item in items:
        what = item.get("restriction", "")
        console.print(
            f"{item['at']}  {item['actor']:16} {item['kind']} {what}", highlight=False, markup=False
        )


@command(case_app, name="reporter")
def reporter(signal: str, key_file: KeyFile = None, token_file: TokenFile = None) -> None:
    """Who reported a signal (case admins only)."""
    with acting(Action.VIEW_REPORTER, key_file, token_file, record=True) as (store, actor):
        identity = show_reporter(store, signal, actor=actor)
    _json(identity.to_json() if identity else {"anonymous": True})


@command(case_app, name="export")
def export(
    case_id: CaseId,
    out: Annotated[Path, typer.Option("--out")],
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write a bundle of the case verifiable offline (timeline, evidence hashes, findings,
    decisions, ledger entries with inclusion proofs and their checkpoint)."""
    config = settings()
    keys = LedgerKeys.of(config)
    with acting(Action.EXPORT, key_file, token_file, config=config) as (store, actor):
        sync(config, store)  # first, so that the case's events are in the log
        bundle = export_case(
            store,
            case_id,
            out,
            actor=actor,
            verifier=keys.verifier() if keys.public.is_file() else None,
        )
    pending = bundle["ledger"]["not_yet_logged"]
    console.print(
        f"wrote {out}: {len(bundle['ledger']['entries'])} ledger entries"
        + (f", {len(pending)} not yet under a checkpoint" if pending else ""),
        highlight=False,
    )


@command(case_app, name="verify")
def verify(
    bundle: Path,
    key: Annotated[
        Path, typer.Option("--verifier", "--key", help="The log's public key (log.pub).")
    ],
    witness: WitnessKeys = None,
    witness_quorum_: WitnessQuorumOption = None,
) -> None:
    """Check a case bundle offline against the log's public key (and, with --witness, a
    quorum of those witnesses' cosignatures on its checkpoint), and derive its case,
    restrictions and timeline again from the entries it verified. A bundle that does not
    verify, or says anything else, exits with 5 and every problem found."""
    witnesses = witness_quorum(witness or [], witness_quorum_)
    check = verify_case_bundle(read_bundle(bundle), read_verifier(key), witnesses=witnesses)
    if not check.ok:
        # The problems quote the bundle's own values: fail() prints them as text.
        problems = check.problems
        raise LedgerIntegrityError(
            f"{bundle}: {problems[0]}"
            if len(problems) == 1
            else f"{bundle}: {len(problems)} problems\n  " + "\n  ".join(problems)
        )
    console.print(
        f"{bundle}: {check.entries} entries verified; the case, its restrictions and its "
        "timeline are what they give (signal texts are not in the log)",
        highlight=False,
        markup=False,
    )
