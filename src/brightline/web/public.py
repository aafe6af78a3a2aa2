"""The public report form: ``/report`` to file, ``/report/status`` to follow up by receipt.

No sign-in, no cookie, no script; the console's stylesheet only. Forms post to the same
origin (``same_origin``); the receipt travels in form bodies, never in a URL, so that it
reaches no log, history or referrer. Each post calls the same service function as the
API (``POST /v1/public/reports`` and its ``/status`` and ``/messages``).
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from brightline.cases import ReporterView, ReportStatus
from brightline.errors import NotFoundError
from brightline.server.public_forms import PUBLIC_BODY_BYTES, count_attempt, read_report
from brightline.server.state import app_state, notify_change, store_call
from brightline.service.intake import file_public_report
from brightline.service.notices import notice_of
from brightline.service.public_reports import (
    policy_choices,
    report_status,
    write_as_reporter,
)
from brightline.web.common import field_value, page, same_origin

router = APIRouter(prefix="/report", include_in_schema=False)

STATUS_TEXT: Final = {
    ReportStatus.RECEIVED: "Received: waiting for an investigator to read it.",
    ReportStatus.UNDER_REVIEW: "Under review: investigators are looking into it.",
    ReportStatus.CLOSED: "Closed: the investigation has ended.",
}


def _blank() -> dict[str, str]:
    return {"policy": "", "subject": "", "summary": "", "references": "", "contact": ""}


@router.get("", response_class=HTMLResponse)
async def report_form(request: Request) -> HTMLResponse:
    names = notice_of(app_state(request).settings).policy_names
    return page(
        request, None, "report.html", public=True, policies=policy_choices(names), chosen=_blank()
    )


@router.post("", response_class=HTMLResponse, max_body_size=PUBLIC_BODY_BYTES)
async def report_filed(request: Request) -> HTMLResponse:
    same_origin(request)
    await count_attempt(request, "file")
    report, document = await read_report(request)
    state = app_state(request)
    receipt = await store_call(
        state, lambda: file_public_report(state.store, state.settings, report, document=document)
    )
    await notify_change(state)
    return page(request, None, "report_receipt.html", public=True, receipt=receipt)


@router.get("/status", response_class=HTMLResponse)
async def status_form(request: Request) -> HTMLResponse:
    return page(request, None, "report_status.html", public=True, view=None)


def _status_page(request: Request, view: ReporterView, receipt: str) -> HTMLResponse:
    return page(
        request,
        None,
        "report_status.html",
        public=True,
        view=view,
        status_text=STATUS_TEXT[view.status],
        receipt=receipt,
    )


@router.post("/status", response_class=HTMLResponse)
async def status(request: Request) -> HTMLResponse:
    same_origin(request)
    await count_attempt(request, "status")
    form = await request.form()
    receipt = field_value(form, "receipt", required=False)
    state = app_state(request)
    try:
        view = await store_call(state, lambda: report_status(state.store, receipt))
    except NotFoundError as exc:
        return page(
            request, None, "report_status.html", public=True, view=None, error=str(exc), status=404
        )
    return _status_page(request, view, receipt)


@router.post("/status/message", response_class=HTMLResponse)
async def message(request: Request) -> HTMLResponse:
    same_origin(request)
    await count_attempt(request, "status")
    form = await request.form()
    receipt = field_value(form, "receipt", required=False)
    text = field_value(form, "text")
    state = app_state(request)
    try:
        view = await store_call(state, lambda: write_as_reporter(state.store, receipt, text))
    except NotFoundError as exc:
        return page(
            request, None, "report_status.html", public=True, view=None, error=str(exc), status=404
        )
    return _status_page(request, view, receipt)
