"""A customer's own view over HTTP: the restrictions in force and scheduled on its
subtree, and its appeals (:mod:`brightline.service.customer`). Every route needs an
action only the ``customer`` role holds; a restriction or node outside the caller's
subtree answers 404, as an unknown one does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from brightline.access import Action, Principal
from brightline.api.auth import require
from brightline.policy import format_time
from brightline.server.state import notify_change, store_call
from brightline.service.customer import (
    customer_restriction,
    customer_restrictions,
    file_appeal,
    phases_of,
)
from brightline.service.notices import notice_of

router = APIRouter(prefix="/v1/customer", tags=["customer"])

Customer = Annotated[Principal, Depends(require(Action.VIEW_OWN_RESTRICTIONS))]
Appellant = Annotated[Principal, Depends(require(Action.FILE_APPEAL))]
_ID = r"^[A-Za-z0-9._:\-]{1,128}$"
RestrictionId = Annotated[str, Path(pattern=_ID)]


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grounds: str = Field(min_length=1, max_length=10_000, description="why the customer appeals")


@router.get("/restrictions", summary="The restrictions in force and scheduled on my subtree")
async def restrictions(
    request: Request,
    who: Customer,
    node: Annotated[str | None, Query(pattern=_ID, description="a node of my subtree")] = None,
) -> dict[str, Any]:
    state = request.app.state.brightline
    notice = notice_of(state.settings)
    shown = await store_call(
        state,
        lambda: customer_restrictions(state.store, actor=who, notice=notice, node=node),
    )
    return {
        "node": who.node,
        "phases": [p.to_json() for p in phases_of(shown)],
        "restrictions": [r.to_json() for r in shown],
    }


@router.get("/restrictions/{restriction_id}", summary="One restriction on my subtree")
async def restriction(
    restriction_id: RestrictionId, request: Request, who: Customer
) -> dict[str, Any]:
    state = request.app.state.brightline
    notice = notice_of(state.settings)
    shown = await store_call(
        state,
        lambda: customer_restriction(state.store, restriction_id, actor=who, notice=notice),
    )
    return shown.to_json()


@router.post(
    "/restrictions/{restriction_id}/appeals",
    status_code=201,
    summary="Appeal a restriction on my subtree (an appeal on the case that decided it)",
)
async def appeal(
    restriction_id: RestrictionId, body: AppealIn, request: Request, who: Appellant
) -> dict[str, Any]:
    state = request.app.state.brightline
    notice = notice_of(state.settings)
    filed = await store_call(
        state,
        lambda: file_appeal(
            state.store, restriction_id, actor=who, grounds=body.grounds, notice=notice
        ),
    )
    await notify_change(state)
    return {"restriction": restriction_id, "appeal": filed.number, "at": format_time(filed.at)}
