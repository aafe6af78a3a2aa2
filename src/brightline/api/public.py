"""The public report channel over HTTP: file a report without signing in, and follow it up
by receipt. No credential is asked for or read; each route counts the attempt by client
address in memory (``server.public_forms.count_attempt``) and logs nothing of the client
or the text (the request log holds method, path, status and time only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from brightline.server.public_forms import (
    PUBLIC_BODY_BYTES,
    PublicReportIn,
    count_attempt,
    read_report,
)
from brightline.server.state import notify_change, store_call
from brightline.service.intake import file_public_report
from brightline.service.public_reports import report_status, write_as_reporter

router = APIRouter(prefix="/v1/public", tags=["public reports"])

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": PublicReportIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["policy", "subject", "summary"],
                    "properties": {
                        "policy": {"type": "string"},
                        "subject": {"type": "string"},
                        "summary": {"type": "string"},
                        "references": {
                            "type": "string",
                            "description": "one URL or SHA-256 per line",
                        },
                        "contact": {"type": "string"},
                        "document": {
                            "type": "string",
                            "format": "binary",
                            "description": "at most 10 MiB; stored encrypted",
                        },
                    },
                }
            },
        },
    }
}


class ReceiptOut(BaseModel):
    receipt: str = Field(description="shown once: keep it to follow up; it is not stored")


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not checked for form: every receipt, well-formed or not, gets the same answer.
    receipt: str = Field(max_length=1000)


class MessageIn(ReceiptIn):
    text: str = Field(max_length=20_000)


class MessageOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="reporter or investigator")
    text: str
    at: str


class StatusOut(BaseModel):
    status: str = Field(description="received, under-review or closed")
    received: str
    messages: list[MessageOut]


@router.post(
    "/reports",
    status_code=201,
    response_model=ReceiptOut,
    summary="File a report (no sign-in); the answer is your receipt",
    openapi_extra=_BODY,
    max_body_size=PUBLIC_BODY_BYTES,
    responses={413: {"description": "the document is over 10 MiB"}},
)
async def file_report(request: Request) -> JSONResponse:
    await count_attempt(request, "file")
    report, document = await read_report(request)
    state = request.app.state.brightline
    receipt = await store_call(
        state, lambda: file_public_report(state.store, state.settings, report, document=document)
    )
    await notify_change(state)
    return JSONResponse({"receipt": receipt}, status_code=201)


@router.post(
    "/reports/status",
    response_model=StatusOut,
    summary="A report's status and messages, by receipt",
    responses={404: {"description": "no report with this receipt (the same for every one)"}},
)
async def status(body: ReceiptIn, request: Request) -> dict[str, Any]:
    await count_attempt(request, "status")
    state = request.app.state.brightline
    view = await store_call(state, lambda: report_status(state.store, body.receipt))
    return view.to_json()


@router.post(
    "/reports/messages",
    response_model=StatusOut,
    summary="Write to the investigators, by receipt",
    responses={404: {"description": "no report with this receipt (the same for every one)"}},
)
async def message(body: MessageIn, request: Request) -> dict[str, Any]:
    await count_attempt(request, "status")
    state = request.app.state.brightline
    view = await store_call(state, lambda: write_as_reporter(state.store, body.receipt, body.text))
    return view.to_json()
