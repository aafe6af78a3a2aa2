"""Restrictions, the ledger and exports over HTTP. Each route authenticates, calls one
service function and renders its result; four eyes and every other rule live in the
service, so the API obeys them exactly as the CLI does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from brightline.access import Action, Principal
from brightline.api.auth import require
from brightline.exports import (
    export_aws_scp,
    export_azure_policy,
    export_cedar,
    export_gcp_org_policy,
)
from brightline.server.state import notify_change, store_call
from brightline.service import (
    Status,
    approve_restriction,
    lift_restriction,
    list_restrictions,
    propose_restrictions,
    reject_restriction,
    show_restriction,
)
from brightline.service.ledger import disclose, ledger_status, prove_inclusion

router = APIRouter(prefix="/v1")

Proposer = Annotated[Principal, Depends(require(Action.PROPOSE_RESTRICTION))]
Approver = Annotated[Principal, Depends(require(Action.APPROVE_RESTRICTION))]
Rejecter = Annotated[Principal, Depends(require(Action.REJECT_RESTRICTION))]
Lifter = Annotated[Principal, Depends(require(Action.LIFT_RESTRICTION))]
Reader = Annotated[Principal, Depends(require(Action.LIST_RESTRICTIONS))]
LedgerReader = Annotated[Principal, Depends(require(Action.VIEW_LEDGER))]
Discloser = Annotated[Principal, Depends(require(Action.DISCLOSE))]
Exporter = Annotated[Principal, Depends(require(Action.EXPORT_POLICY))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        max_length=200,
        description="A retry with the same key changes nothing",
    ),
]
RestrictionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:\-]{1,128}$")]


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    restrictions: str = Field(
        min_length=1, max_length=1_000_000, description="restrictions.yaml text: one or a list"
    )
    case: str | None = Field(default=None, max_length=128)


class WhyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    why: str = Field(min_length=1, max_length=10_000)


class RestrictionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    phase: str


@router.post(
    "/restrictions", response_model=list[RestrictionOut], tags=["restrictions"], summary="Propose"
)
async def propose(
    body: ProposalIn, request: Request, who: Proposer, key: IdempotencyKey = None
) -> list[dict[str, Any]]:
    state = request.app.state.brightline
    views = await store_call(
        state,
        lambda: propose_restrictions(
            state.store,
            body.restrictions,
            name="restrictions",
            actor=who,
            case_id=body.case,
            key=key,
        ),
    )
    await notify_change(state)
    return [v.to_json() for v in views]


@router.post(
    "/restrictions/{restriction_id}/approve",
    response_model=RestrictionOut,
    tags=["restrictions"],
    summary="Approve a proposal, lift or promotion (never your own); over the blast-radius "
    "limits, the first approval is the guard's (guard_approval: true)",
)
async def approve(
    restriction_id: RestrictionId, request: Request, who: Approver, key: IdempotencyKey = None
) -> dict[str, Any]:
    state = request.app.state.brightline
    view = await store_call(
        state,
        lambda: approve_restriction(
            state.store, restriction_id, actor=who, settings=state.settings, key=key
        ),
    )
    await notify_change(state)
    return view.to_json()


@router.post(
    "/restrictions/{restriction_id}/reject",
    response_model=RestrictionOut,
    tags=["restrictions"],
    summary="Reject a proposal, lift or promotion",
)
async def reject(
    restriction_id: RestrictionId,
    body: WhyIn,
    request: Request,
    who: Rejecter,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    state = request.app.state.brightline
    view = await store_call(
        state,
        lambda: reject_restriction(state.store, restriction_id, actor=who, why=body.why, key=key),
    )
    await notify_change(state)
    return view.to_json()


@router.post(
    "/restrictions/{restriction_id}/lift",
    response_model=RestrictionOut,
    tags=["restrictions"],
    summary="Propose lifting a restriction in force",
)
async def lift(
    restriction_id: RestrictionId,
    body: WhyIn,
    request: Request,
    who: Lifter,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    state = request.app.state.brightline
    view = await store_call(
        state,
        lambda: lift_restriction(state.store, restriction_id, actor=who, why=body.why, key=key),
    )
    await notify_change(state)
    return view.to_json()


@router.get("/restrictions", response_model=list[RestrictionOut], tags=["restrictions"])
async def list_all(
    request: Request,
    _: Reader,
    status: Annotated[Status | None, Query(description="Only this status")] = None,
) -> list[dict[str, Any]]:
    state = request.app.state.brightline
    views = await store_call(state, lambda: list_restrictions(state.store, status=status))
    return [v.to_json(history=False) for v in views]


@router.get("/restrictions/{restriction_id}", response_model=RestrictionOut, tags=["restrictions"])
async def show(restriction_id: RestrictionId, request: Request, _: Reader) -> dict[str, Any]:
    state = request.app.state.brightline
    view = await store_call(state, lambda: show_restriction(state.store, restriction_id))
    return view.to_json()


class LedgerStatusOut(BaseModel):
    size: int
    root: str
    checkpoint: str | None


@router.get(
    "/ledger", response_model=LedgerStatusOut, tags=["ledger"], summary="Size, root, checkpoint"
)
async def ledger(request: Request, _: LedgerReader) -> LedgerStatusOut:
    state = request.app.state.brightline
    status = await store_call(state, ledger_status, state.store)
    note = status.checkpoint.note if status.checkpoint else None
    return LedgerStatusOut(size=status.size, root=status.root.hex(), checkpoint=note)


@router.get("/ledger/entries/{index}/proof", tags=["ledger"], summary="Inclusion proof")
async def proof(
    request: Request,
    _: LedgerReader,
    index: Annotated[int, Path(ge=0)],
    size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    state = request.app.state.brightline
    return (
        await store_call(state, lambda: prove_inclusion(state.store, index, size=size))
    ).to_json()


@router.get(
    "/ledger/entries/{index}/disclosure",
    tags=["ledger"],
    summary="An entry's private record and salt (auditors only)",
)
async def disclosure(
    request: Request, _: Discloser, index: Annotated[int, Path(ge=0)]
) -> dict[str, Any]:
    state = request.app.state.brightline
    return (await store_call(state, lambda: disclose(state.store, index))).to_json()


@router.get(
    "/exports/{target}", tags=["exports"], summary="The bundle in force in another language"
)
async def export(
    request: Request,
    _: Exporter,
    target: Annotated[str, Path(pattern="^(cedar|aws-scp|azure-policy|gcp-org-policy)$")],
) -> dict[str, Any]:
    state = request.app.state.brightline
    snapshot = state.keeper.current.snapshot
    if target == "cedar":
        rendered = export_cedar(snapshot)
        return {
            "schema.cedarschema": rendered.schema,
            "policies.cedar": rendered.policies,
            "dry-run.cedar": rendered.dry_run_policies,
            "entities.json": rendered.entities,
        }
    return _cloud_export(target, snapshot)


def _cloud_export(target: str, snapshot: Any) -> dict[str, Any]:
    if target == "aws-scp":
        return export_aws_scp(snapshot).as_json()
    if target == "gcp-org-policy":
        return export_gcp_org_policy(snapshot, at=datetime.now(UTC)).as_json()
    return export_azure_policy(snapshot, at=datetime.now(UTC)).as_json()
