"""The intake queue: reports filed through the public channel, for investigators to read,
link to nodes, open a case from or attach to one, and answer."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from brightline.access import Action
from brightline.cases import CaseStatus
from brightline.server.state import app_state, store_call
from brightline.service import console as read
from brightline.service.cases import attach_signal, open_case
from brightline.service.public_reports import intake_queue, reply_to_reporter, report_document
from brightline.web.common import (
    PREFIX,
    Me,
    Posted,
    back,
    field_value,
    need,
    page,
    router,
    run,
    say,
)


def _nodes(text: str) -> list[str]:
    return [n for n in text.replace(",", " ").split() if n]


@router.get("/intake", response_class=HTMLResponse)
async def intake(request: Request, me: Me) -> HTMLResponse:
    need(me, Action.TRIAGE_REPORTS)
    state = app_state(request)
    actor = me.principal
    queue = await store_call(state, lambda: intake_queue(state.store, actor=actor))
    views = await store_call(
        state, lambda: read.case_views_with_status(state.store, actor=actor, status=None)
    )
    return page(
        request,
        me,
        "intake.html",
        reports=queue,
        open_cases=[v for v in views if v.state.status is not CaseStatus.CLOSED],
        can_open=actor.may(Action.OPEN_CASE),
        sees_contact=actor.may(Action.VIEW_REPORTER),
    )


@router.get("/intake/{signal}/document")
async def intake_document(request: Request, signal: str, me: Me) -> Response:
    need(me, Action.TRIAGE_REPORTS)
    state = app_state(request)
    stored, content = await store_call(
        state, lambda: report_document(state.store, signal, actor=me.principal)
    )
    # Served as an opaque download, never rendered here: it came from anyone.
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "content-disposition": f'attachment; filename="{signal}-{stored.sha256[:12]}.bin"'
        },
    )


@router.post("/intake/{signal}/open")
async def intake_open(request: Request, signal: str, form: Posted) -> Response:
    me, data = form
    need(me, Action.OPEN_CASE)
    state = app_state(request)
    title, nodes = field_value(data, "title"), _nodes(field_value(data, "nodes"))
    opened = await run(
        request,
        lambda: open_case(
            state.store, actor=me.principal, title=title, signals=[signal], nodes=nodes
        ),
    )
    await say(request, me, "ok", f"Case {opened.id} opened from report {signal}.")
    return back(f"{PREFIX}/cases/{opened.id}")


@router.post("/intake/{signal}/attach")
async def intake_attach(request: Request, signal: str, form: Posted) -> Response:
    me, data = form
    need(me, Action.OPEN_CASE)
    state = app_state(request)
    case_id, nodes = field_value(data, "case"), _nodes(field_value(data, "nodes"))
    await run(
        request,
        lambda: attach_signal(state.store, case_id, signal, actor=me.principal, nodes=nodes),
    )
    await say(request, me, "ok", f"Report {signal} attached to case {case_id}.")
    return back(f"{PREFIX}/cases/{case_id}")


@router.post("/intake/{signal}/reply")
async def intake_reply(request: Request, signal: str, form: Posted) -> Response:
    me, data = form
    need(me, Action.TRIAGE_REPORTS)
    state = app_state(request)
    text = field_value(data, "text")
    await store_call(
        state, lambda: reply_to_reporter(state.store, signal, text, actor=me.principal)
    )
    await say(
        request, me, "ok", f"Reply to report {signal} sent; the reporter reads it by receipt."
    )
    return back(f"{PREFIX}/intake#report-{signal}")
