"""Principals, their role grants and API keys over HTTP: the same service functions and
the same rules as ``brightline principal`` and ``brightline apikey`` (admins manage keys;
admins and case admins manage grants; no one changes their own roles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from brightline.access import KEY_PRINCIPAL, Action, Principal, Role
from brightline.api.auth import require
from brightline.policy import format_time
from brightline.server.state import notify_change, store_call
from brightline.service.apikeys import ApiKeyInfo, create_key, list_keys, revoke_key
from brightline.service.intake import grant_role, list_principals, revoke_role

router = APIRouter(prefix="/v1", tags=["principals"])

PrincipalName = Annotated[
    str, Path(pattern=r"^([A-Za-z0-9._@+\-]{1,128}|oidc:[A-Za-z0-9._\-]{1,24}:[!-~]{1,96})$")
]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principal: str = Field(pattern=f"^{KEY_PRINCIPAL}$")
    roles: list[Role] = Field(min_length=1, max_length=len(Role))


class RolesOut(BaseModel):
    principal: str
    roles: list[str]
    node: str | None = Field(default=None, description="customer: the node it is bound to")


def _key_json(info: ApiKeyInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "principal": info.principal,
        "roles": list(info.roles),
        "created_at": format_time(info.created_at),
        "created_by": info.created_by,
        "revoked_at": format_time(info.revoked_at),
    }


@router.get("/principals", response_model=list[RolesOut], summary="Principals and their grants")
async def principals(
    request: Request, who: Annotated[Principal, Depends(require(Action.LIST_PRINCIPALS))]
) -> list[RolesOut]:
    state = request.app.state.brightline
    holders = await store_call(state, lambda: list_principals(state.store, actor=who))
    return [
        RolesOut(principal=h.principal, roles=sorted(r.value for r in h.roles), node=h.node)
        for h in holders
    ]


@router.put("/principals/{principal}/roles/{role}", response_model=RolesOut, summary="Grant a role")
async def grant(
    principal: PrincipalName,
    role: Role,
    request: Request,
    who: Annotated[Principal, Depends(require(Action.GRANT_ROLES))],
    node: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9._:\-]{1,128}$", description="customer: the node it binds to"),
    ] = None,
) -> RolesOut:
    state = request.app.state.brightline
    held = await store_call(
        state, lambda: grant_role(state.store, principal, role, actor=who, node=node)
    )
    await notify_change(state)
    return RolesOut(principal=principal, roles=sorted(r.value for r in held))


@router.delete(
    "/principals/{principal}/roles/{role}", response_model=RolesOut, summary="Revoke a role"
)
async def revoke(
    principal: PrincipalName,
    role: Role,
    request: Request,
    who: Annotated[Principal, Depends(require(Action.REVOKE_ROLES))],
) -> RolesOut:
    state = request.app.state.brightline
    held = await store_call(state, lambda: revoke_role(state.store, principal, role, actor=who))
    await notify_change(state)
    return RolesOut(principal=principal, roles=sorted(r.value for r in held))


@router.get("/keys", summary="API keys (never their secrets)")
async def keys(
    request: Request, who: Annotated[Principal, Depends(require(Action.LIST_KEYS))]
) -> list[dict[str, Any]]:
    state = request.app.state.brightline
    return [
        _key_json(k) for k in await store_call(state, lambda: list_keys(state.store, actor=who))
    ]


@router.post("/keys", summary="Create an API key (shown once in the answer)")
async def create(
    body: KeyIn,
    request: Request,
    who: Annotated[Principal, Depends(require(Action.CREATE_KEY))],
) -> dict[str, Any]:
    state = request.app.state.brightline
    info, key = await store_call(
        state,
        lambda: create_key(
            state.store, principal=body.principal, roles=[r.value for r in body.roles], actor=who
        ),
    )
    await notify_change(state)
    return {**_key_json(info), "key": key}


@router.post("/keys/{key_id}/revoke", summary="Revoke an API key (refused from the next request)")
async def revoke_one(
    key_id: KeyId,
    request: Request,
    who: Annotated[Principal, Depends(require(Action.REVOKE_KEY))],
) -> dict[str, str]:
    state = request.app.state.brightline
    await store_call(state, lambda: revoke_key(state.store, key_id, actor=who))
    await notify_change(state)
    return {"revoked": key_id}
