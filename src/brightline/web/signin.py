"""Signing in to the console (an API key, an OIDC token, or the identity provider's
authorization code flow) and out."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from brightline.errors import AccessDeniedError, AuthenticationError, NotFoundError
from brightline.server.state import app_state, store_call
from brightline.service.access import CheckedCredential
from brightline.web import oidc
from brightline.web.common import (
    PREFIX,
    Posted,
    back,
    console_state,
    field_value,
    may_sign_in,
    page,
    router,
    same_origin,
    secure,
)
from brightline.web.session import COOKIE, LOGIN_COOKIE, ConsoleSession

# -- sign in and out ------------------------------------------------------------------------


def _safe_next(value: str | None) -> str:
    if value and value.startswith(f"{PREFIX}/") and not value.startswith("//"):
        return value
    return f"{PREFIX}/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    import secrets

    token = secrets.token_urlsafe(32)
    response = page(
        request,
        None,
        "login.html",
        login_token=token,
        next=_safe_next(next),
        oidc=bool(app_state(request).settings.oidc_issuer),
        oidc_redirect=oidc.configured(app_state(request).settings),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path=PREFIX,
        max_age=3600,
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    import hmac

    same_origin(request)
    form = await request.form()
    presented = form.get("login_token")
    expected = request.cookies.get(LOGIN_COOKIE)
    if not (
        isinstance(presented, str)
        and expected
        and hmac.compare_digest(presented.encode(), expected.encode())
    ):
        raise AccessDeniedError("the sign-in form expired; reload the page and try again")
    credential = field_value(form, "credential")
    state = app_state(request)
    try:
        checked = await store_call(state, state.authenticator.check, credential)
    except AuthenticationError as exc:
        return page(
            request,
            None,
            "login.html",
            status=401,
            login_token=presented,
            next=_safe_next(field_value(form, "next", required=False)),
            oidc=bool(state.settings.oidc_issuer),
            oidc_redirect=oidc.configured(state.settings),
            failed=str(exc),
        )
    return await _open_session(request, checked, field_value(form, "next", required=False))


async def _open_session(request: Request, checked: CheckedCredential, next: str) -> Response:
    may_sign_in(checked.principal)
    sessions = console_state(request).sessions
    old = request.cookies.get(COOKIE)

    def reopen() -> ConsoleSession:
        sessions.close(old)  # signing in again ends the old session
        return sessions.open(checked)

    session = await store_call(app_state(request), reopen)
    response: Response = back(_safe_next(next))
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path=PREFIX,
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    response.delete_cookie(oidc.STATE_COOKIE, path=PREFIX)
    return response


@router.get("/login/oidc")
async def login_oidc(request: Request, next: str | None = None) -> Response:
    """Send the browser to the identity provider (authorization code flow with PKCE)."""
    settings = app_state(request).settings
    if not oidc.configured(settings):
        raise NotFoundError("sign-in through an identity provider is not configured")
    redirect_uri = str(request.url_for("login_oidc_callback"))
    cookie, target = console_state(request).sign_ins.start(
        settings, redirect_uri=redirect_uri, next=_safe_next(next)
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        oidc.STATE_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path=PREFIX,
        max_age=int(oidc.PENDING_SECONDS),
    )
    return response


@router.get("/login/oidc/callback", name="login_oidc_callback")
async def login_oidc_callback(
    request: Request,
    state: str = "",
    code: str = "",
    error: str = "",
    error_description: str = "",
) -> Response:
    """The identity provider sends the browser back here with a code (or an error)."""
    settings = app_state(request).settings
    if error:
        raise AuthenticationError(
            f"the identity provider refused the sign-in: {error} {error_description}".strip()
        )
    pending = console_state(request).sign_ins.finish(state, request.cookies.get(oidc.STATE_COOKIE))
    if not code:
        raise AuthenticationError("the identity provider returned no code")
    token = await run_in_threadpool(oidc.redeem, settings, pending, code)
    server = app_state(request)
    checked = await store_call(
        server, lambda: server.authenticator.check(token, nonce=pending.nonce)
    )
    return await _open_session(request, checked, pending.next)


@router.post("/logout")
async def logout(request: Request, form: Posted) -> Response:
    session, _ = form
    await store_call(app_state(request), console_state(request).sessions.close, session.id)
    response = back(f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
