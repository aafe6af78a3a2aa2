"""Reports and cases over HTTP. The route requires a review role; the service then applies
the permission table to the caller's principal (an external reviewer sees only its own
cases, an auditor changes nothing), exactly as for the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from brightline.access import Action, Principal
from brightline.api.auth import require
from brightline.cases import CaseStatus, Finding, FindingOutcome, Signal, SourceKind
from brightline.server.state import notify_change, store_call
from brightline.service.case_export import case_timeline, list_cases, show_case
from brightline.service.cases import close_case, open_case, record_appeal, record_finding
from brightline.service.intake import submit_report

router = APIRouter(prefix="/v1", tags=["cases"])

Lister = Annotated[Principal, Depends(require(Action.LIST_CASES))]
Viewer = Annotated[Principal, Depends(require(Action.VIEW_CASE))]
Opener = Annotated[Principal, Depends(require(Action.OPEN_CASE))]
FindingAdder = Annotated[Principal, Depends(require(Action.ADD_FINDING))]
AppealRecorder = Annotated[Principal, Depends(require(Action.RECORD_APPEAL))]
Closer = Annotated[Principal, Depends(require(Action.CLOSE))]
Intake = Annotated[Principal, Depends(require(Action.SUBMIT_REPORT))]
CaseId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:\-]{1,128}$")]
_IDS = r"^[A-Za-z0-9._:\-]{1,128}$"


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: SourceKind = Field(description="who reported (detector signals come from alerts)")
    nodes: list[Annotated[str, Field(pattern=_IDS)]] = Field(min_length=1, max_length=100)
    policies: list[Annotated[str, Field(pattern=_IDS)]] = Field(min_length=1, max_length=20)
    summary: str = Field(min_length=1, max_length=10_000)


class SignalOut(BaseModel):
    ref: str


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    signals: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=100)


class FindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: str = Field(pattern=_IDS)
    outcome: FindingOutcome
    rationale: str = Field(min_length=1, max_length=20_000)
    evidence: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list, max_length=100)


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)


class CaseOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: str


def _case(view: Any) -> dict[str, Any]:
    data: dict[str, Any] = view.to_json()
    return data


@router.post("/reports", response_model=SignalOut, summary="Record a report from a person")
async def report(body: ReportIn, request: Request, who: Intake) -> SignalOut:
    state = request.app.state.brightline
    signal = Signal(body.source, tuple(body.nodes), tuple(body.policies), body.summary)
    stored = await store_call(state, lambda: submit_report(state.store, signal, actor=who))
    await notify_change(state)
    return SignalOut(ref=stored.ref)


@router.get("/cases", response_model=list[CaseOut], summary="Cases the caller may see")
async def cases(
    request: Request,
    who: Lister,
    status: Annotated[CaseStatus | None, Query()] = None,
) -> list[dict[str, Any]]:
    state = request.app.state.brightline
    views = await store_call(state, lambda: list_cases(state.store, actor=who, status=status))
    return [_case(v) for v in views]


@router.get("/cases/{case_id}", response_model=CaseOut, summary="One case")
async def case(case_id: CaseId, request: Request, who: Viewer) -> dict[str, Any]:
    state = request.app.state.brightline
    return _case(await store_call(state, lambda: show_case(state.store, case_id, actor=who)))


@router.get("/cases/{case_id}/timeline", summary="Everything that happened to a case")
async def timeline(case_id: CaseId, request: Request, who: Viewer) -> list[dict[str, Any]]:
    state = request.app.state.brightline
    return await store_call(state, lambda: case_timeline(state.store, case_id, actor=who))


@router.post("/cases", response_model=CaseOut, summary="Open a case from signals")
async def open_(body: CaseIn, request: Request, who: Opener) -> dict[str, Any]:
    state = request.app.state.brightline
    opened = await store_call(
        state, lambda: open_case(state.store, actor=who, title=body.title, signals=body.signals)
    )
    await notify_change(state)
    return _case(await store_call(state, lambda: show_case(state.store, opened.id, actor=who)))


@router.post("/cases/{case_id}/findings", response_model=CaseOut, summary="Record a finding")
async def finding(
    case_id: CaseId, body: FindingIn, request: Request, who: FindingAdder
) -> dict[str, Any]:
    state = request.app.state.brightline
    value = Finding(body.policy, body.outcome, body.rationale, tuple(body.evidence))
    await store_call(state, lambda: record_finding(state.store, case_id, value, actor=who))
    await notify_change(state)
    return _case(await store_call(state, lambda: show_case(state.store, case_id, actor=who)))


@router.post("/cases/{case_id}/appeals", response_model=CaseOut, summary="Record an appeal")
async def appeal(
    case_id: CaseId, body: TextIn, request: Request, who: AppealRecorder
) -> dict[str, Any]:
    state = request.app.state.brightline
    await store_call(
        state, lambda: record_appeal(state.store, case_id, actor=who, grounds=body.text)
    )
    await notify_change(state)
    return _case(await store_call(state, lambda: show_case(state.store, case_id, actor=who)))


@router.post("/cases/{case_id}/close", response_model=CaseOut, summary="Close a case")
async def close(case_id: CaseId, body: TextIn, request: Request, who: Closer) -> dict[str, Any]:
    state = request.app.state.brightline
    await store_call(state, lambda: close_case(state.store, case_id, actor=who, why=body.text))
    await notify_change(state)
    return _case(await store_call(state, lambda: show_case(state.store, case_id, actor=who)))
