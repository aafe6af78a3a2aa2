"""Alerts and cases: open a case from an alert, review it, record findings, preview a
plan and decide."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from brightline.access import Action, Principal
from brightline.cases import (
    AppealOutcome,
    CaseStatus,
    Finding,
    FindingOutcome,
)
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.server.state import AppState, app_state, store_call
from brightline.service import console as read
from brightline.service.case_export import case_timeline, show_case
from brightline.service.cases import (
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
from brightline.service.intake import signals_from_alerts
from brightline.service.plans import decide_restrict
from brightline.service.usage import case_usage
from brightline.web.common import (
    PREFIX,
    Me,
    Posted,
    back,
    console_state,
    field_value,
    need,
    now,
    page,
    router,
    run,
    say,
)

# -- alerts ---------------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(request: Request, me: Me) -> HTMLResponse:
    need(me, Action.VIEW_ALERTS)
    state = app_state(request)
    items = await run_in_threadpool(lambda: read.top_alerts(state.settings, limit=200))
    views = await store_call(
        state,
        lambda: read.case_views_with_status(state.store, actor=me.principal, status=None),
    )
    return page(
        request,
        me,
        "alerts.html",
        alerts=items,
        open_cases=[v for v in views if v.state.status is not CaseStatus.CLOSED],
        can_open=me.principal.may(Action.OPEN_CASE),
    )


@router.post("/alerts/open")
async def alert_open(request: Request, form: Posted) -> Response:
    me, data = form
    need(me, Action.OPEN_CASE)
    state = app_state(request)
    alert_id = field_value(data, "alert")
    title = field_value(data, "title", required=False) or f"Alert {alert_id}"
    actor = me.principal

    def work() -> str:
        signals = signals_from_alerts(state.store, state.settings, [alert_id], actor=actor)
        return open_case(state.store, actor=actor, title=title, signals=signals).id

    case_id = await run(request, work)
    await say(request, me, "ok", f"Case {case_id} opened from alert {alert_id}.")
    return back(f"{PREFIX}/cases/{case_id}")


@router.post("/alerts/attach")
async def alert_attach(request: Request, form: Posted) -> Response:
    me, data = form
    need(me, Action.OPEN_CASE)
    state = app_state(request)
    alert_id, case_id = field_value(data, "alert"), field_value(data, "case")
    actor = me.principal

    def work() -> None:
        (signal,) = signals_from_alerts(state.store, state.settings, [alert_id], actor=actor)
        attach_signal(state.store, case_id, signal, actor=actor)

    await run(request, work)
    await say(request, me, "ok", f"Alert {alert_id} attached to case {case_id}.")
    return back(f"{PREFIX}/cases/{case_id}")


# -- cases ----------------------------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse)
async def cases(request: Request, me: Me, status: str | None = None) -> HTMLResponse:
    state = app_state(request)
    try:
        chosen = CaseStatus(status) if status else None
    except ValueError as exc:
        raise InvalidInputError(Problem("status", f"no case status {status!r}")) from exc
    views = await store_call(
        state,
        lambda: read.case_views_with_status(state.store, actor=me.principal, status=chosen),
    )
    return page(
        request,
        me,
        "cases.html",
        cases=views,
        chosen_status=status or "",
        statuses=[s.value for s in CaseStatus],
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case(request: Request, case_id: str, me: Me) -> HTMLResponse:
    state = app_state(request)
    actor = me.principal

    def gather() -> dict[str, Any]:
        view = show_case(state.store, case_id, actor=actor)
        can = read.allowed_actions(actor.roles, assigned=view.state.is_assigned(actor.name))
        usage = None
        if Action.VIEW_USAGE in can:
            usage = case_usage(state.store, state.settings, case_id, actor=actor).aggregate
        draft = ""
        if Action.PLAN in can:
            draft = read.draft_restriction(state.store, view.state)
        return {
            "case": view.to_json(history=False),
            "timeline": case_timeline(state.store, case_id, actor=actor),
            "can": {a.value for a in can},
            "usage": usage.to_json() if usage else None,
            "draft": draft,
            "outcomes": [o.value for o in FindingOutcome],
            "appeal_outcomes": [o.value for o in AppealOutcome],
        }

    context = await store_call(state, gather)
    return page(request, me, "case.html", **context)


def _finding(form: FormData) -> Finding:
    raw = field_value(form, "evidence", required=False)
    try:
        evidence = tuple(int(x) for x in raw.replace(",", " ").split())
    except ValueError as exc:
        raise InvalidInputError(Problem("evidence", "evidence numbers, e.g. 1 2")) from exc
    try:
        outcome = FindingOutcome(field_value(form, "outcome"))
    except ValueError as exc:
        raise InvalidInputError(Problem("outcome", str(exc))) from exc
    return Finding(field_value(form, "policy"), outcome, field_value(form, "rationale"), evidence)


CaseAction = Callable[[AppState, str, FormData, Principal, PlanLimits], Any]

#: Each form of the case page: its message, the action of the permission table that gates
#: it, and the service call.
CASE_ACTIONS: Final[Mapping[str, tuple[str, Action, CaseAction]]] = {
    "assign": (
        "Reviewer assigned.",
        Action.ASSIGN,
        lambda s, c, f, a, _: assign(s.store, c, field_value(f, "principal"), actor=a),
    ),
    "unassign": (
        "Reviewer removed.",
        Action.ASSIGN,
        lambda s, c, f, a, _: assign(s.store, c, field_value(f, "principal"), actor=a, remove=True),
    ),
    "start-review": (
        "Review started.",
        Action.START_REVIEW,
        lambda s, c, f, a, _: start_review(s.store, c, actor=a),
    ),
    "task": (
        "Task added.",
        Action.ADD_TASK,
        lambda s, c, f, a, _: add_task(
            s.store,
            c,
            actor=a,
            title=field_value(f, "title"),
            assignee=field_value(f, "assignee", required=False) or None,
        ),
    ),
    "task-done": (
        "Task done.",
        Action.ADD_TASK,
        lambda s, c, f, a, _: complete_task(s.store, c, _int(f, "number"), actor=a),
    ),
    "finding": (
        "Finding recorded.",
        Action.ADD_FINDING,
        lambda s, c, f, a, _: record_finding(s.store, c, _finding(f), actor=a),
    ),
    "pin-usage": (
        "Usage over the last 30 days added as evidence.",
        Action.ADD_EVIDENCE,
        lambda s, c, f, a, _: case_usage(s.store, s.settings, c, actor=a, pin=True),
    ),
    "decide-none": (
        "Decided: no restriction.",
        Action.DECIDE,
        lambda s, c, f, a, _: decide_no_restriction(
            s.store, c, actor=a, rationale=field_value(f, "rationale")
        ),
    ),
    "decide-restrict": (
        "Decided to restrict; the proposal awaits a second person's approval.",
        Action.DECIDE,
        lambda s, c, f, a, limits: decide_restrict(
            s.store,
            s.settings,
            c,
            field_value(f, "restrictions"),
            name="restriction",
            actor=a,
            rationale=field_value(f, "rationale"),
            limits=limits,
        ),
    ),
    "appeal": (
        "Appeal recorded.",
        Action.RECORD_APPEAL,
        lambda s, c, f, a, _: record_appeal(s.store, c, actor=a, grounds=field_value(f, "grounds")),
    ),
    "appeal-decide": (
        "Appeal decided.",
        Action.DECIDE_APPEAL,
        lambda s, c, f, a, _: decide_appeal(
            s.store, c, actor=a, outcome=_appeal_outcome(f), rationale=field_value(f, "rationale")
        ),
    ),
    "close": (
        "Case closed.",
        Action.CLOSE,
        lambda s, c, f, a, _: close_case(s.store, c, actor=a, why=field_value(f, "why")),
    ),
}


def _int(form: FormData, name: str) -> int:
    try:
        return int(field_value(form, name))
    except ValueError as exc:
        raise InvalidInputError(Problem(name, "a number")) from exc


def _appeal_outcome(form: FormData) -> AppealOutcome:
    try:
        return AppealOutcome(field_value(form, "outcome"))
    except ValueError as exc:
        raise InvalidInputError(Problem("outcome", str(exc))) from exc


@router.post("/cases/{case_id}/plan", response_class=HTMLResponse)
async def case_plan(request: Request, case_id: str, form: Posted) -> HTMLResponse:
    """Preview a drafted restriction's impact; nothing is proposed."""
    me, data = form
    need(me, Action.PLAN)
    state = app_state(request)
    text = field_value(data, "restrictions")
    limits = console_state(request).limits
    plan = await store_call(
        state,
        lambda: read.preview_plan(
            state.store,
            state.settings,
            case_id,
            text,
            actor=me.principal,
            limits=limits,
            now=now(),
            keeper=state.keeper,
        ),
    )
    return page(
        request,
        me,
        "plan_preview.html",
        case_id=case_id,
        plan=plan.to_json(),
        restrictions=text,
        rationale=field_value(data, "rationale", required=False),
    )


@router.post("/cases/{case_id}/{action}")
async def case_action(request: Request, case_id: str, action: str, form: Posted) -> Response:
    me, data = form
    if action not in CASE_ACTIONS:
        raise NotFoundError(f"no case action {action!r}")
    message, gate, do = CASE_ACTIONS[action]
    need(me, gate)
    state, limits = app_state(request), console_state(request).limits
    result = await run(request, lambda: do(state, case_id, data, me.principal, limits))
    await say(request, me, "ok", message)
    if action == "decide-restrict":
        _, plan = result
        return back(f"{PREFIX}/restrictions/{plan.restriction_ids[0]}")
    return back(f"{PREFIX}/cases/{case_id}")
