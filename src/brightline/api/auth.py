"""Who is calling and what they may do: a credential (``Authorization: Bearer …`` or
``X-API-Key``) becomes a principal through the one authenticator
(:mod:`brightline.service.access`), and each route's gate is one action of the permission
table (:mod:`brightline.access`). No route names roles of its own."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request

from brightline.access import Action, Principal, authorize
from brightline.errors import AuthenticationError, StoreUnavailableError
from brightline.server.state import AppState, app_state, store_call


def credential(request: Request) -> str:
    """The API key or bearer token the request carries; AuthenticationError if none."""
    token = token_of(request.headers.get("x-api-key"), request.headers.get("authorization"))
    if token is None:
        raise AuthenticationError("credentials required: an API key or an OIDC bearer token")
    return token


def token_of(api_key: str | None, authorization: str | None) -> str | None:
    """The credential named by an ``X-API-Key`` header, else by ``Authorization: Bearer``
    (the first of each header); None if neither names one."""
    token = api_key
    if token is None:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and value:
            token = value.strip()
    return token or None


def require(
    action: Action, *, limited: bool = True, hot: bool = False
) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates and requires ``action`` of the permission table.

    ``limited`` applies the per-credential rate limit. ``hot`` marks the decision and
    bundle routes: they take a known credential's principal from memory, without the
    database, so that they answer while it is away (the server's refresh loop checks
    known credentials again when grants or revocations change, and at once for changes
    made through this server); every other route checks the store's access version
    first, so a revocation applies to the next request.
    """

    async def dependency(request: Request) -> Principal:
        state = app_state(request)
        token = credential(request)
        if hot:
            principal = state.authenticator.known(token) or await _check_new(state, token)
        else:
            principal = await store_call(state, state.authenticator.principal_for, token)
        request.state.principal = principal
        authorize(principal, action)
        if limited:
            # Per key, and per subject of an OIDC issuer (whose tokens share a credential name).
            counted = f"{principal.credential} {principal.name}"
            await store_call(state, state.limiter.take, counted)
        return principal

    dependency.__name__ = f"require_{action.value.replace('-', '_')}"
    return dependency


async def _check_new(state: AppState, token: str) -> Principal:
    """A credential the hot routes have not seen: checked against the store, unless the
    database is known not to answer — then refused at once, never allowed."""
    if not state.database_answering:
        raise StoreUnavailableError(
            "the database does not answer: only credentials already checked are served"
        )
    return await store_call(state, lambda: state.authenticator.principal_for(token, fresh=False))
