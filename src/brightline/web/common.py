"""What every console page shares: the router, templates, roles, the session check,
CSRF on posted forms, rendering and the error page."""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.datastructures import FormData

from brightline.access import Action, Principal, authorize
from brightline.charts import bar_chart, line_chart
from brightline.errors import (
    AccessDeniedError,
    AuthenticationError,
    BrightlineError,
    InvalidInputError,
    Problem,
)
from brightline.server.state import app_state, notify_change, store_call
from brightline.service.guard import PlanLimits
from brightline.web.oidc import SignIns
from brightline.web.session import COOKIE, ConsoleSession, ConsoleSessions

PREFIX: Final = "/console"
TEMPLATES: Final = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["bar_chart"] = lambda *a, **k: Markup(bar_chart(*a, **k))
TEMPLATES.env.globals["line_chart"] = lambda *a, **k: Markup(line_chart(*a, **k))

#: Signing in to the console needs one of these actions of the permission table: staff
#: work on cases, a customer reads its own restrictions (an admin-only or gateway-only
#: principal has nothing to do here).
SIGN_IN: Final = (Action.LIST_CASES, Action.VIEW_OWN_RESTRICTIONS)
#: Where a customer lands: its own page (it has no dashboard or cases).
CUSTOMER_HOME: Final = "/console/customer"

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclass
class ConsoleState:
    sessions: ConsoleSessions
    limits: PlanLimits
    sign_ins: SignIns
    #: The last tiles download, kept until the next checkpoint: (checkpoint note, bytes).
    tiles: tuple[str, bytes] | None = None


class SignInRequiredError(AuthenticationError):
    """No console session, or one whose credential is no longer valid."""


def now() -> datetime:
    return datetime.now(UTC)


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


# -- who is signed in -----------------------------------------------------------------------


async def signed_in(request: Request) -> ConsoleSession:
    """The console session, its credential checked again (a revoked key ends it); a
    page (GET) takes its flash messages."""
    sessions = console_state(request).sessions
    state = app_state(request)
    cookie = request.cookies.get(COOKIE)
    try:
        session = await store_call(
            state, lambda: sessions.get(cookie, take_flash=request.method == "GET")
        )
    except AuthenticationError as exc:
        raise SignInRequiredError(f"signed out: {exc}") from exc
    if session is None:
        raise SignInRequiredError("sign in first")
    try:
        may_sign_in(session.principal)
    except AccessDeniedError:
        await store_call(state, sessions.close, session.id)
        raise
    request.state.principal = session.principal
    request.state.console_session = session
    return session


async def say(request: Request, session: ConsoleSession, kind: str, message: str) -> None:
    """A message shown once on the session's next page, on whichever server serves it
    (kind: ``ok`` or ``error``)."""
    sessions = console_state(request).sessions
    await store_call(app_state(request), sessions.say, session, kind, message)


def may_sign_in(principal: Principal) -> None:
    """AccessDeniedError unless the principal's effective roles (the credential's roles
    that the store grants) allow working in the console."""
    if not may_use_console(principal):
        raise AccessDeniedError(
            f"{principal.name} holds no role that may use the console (the credential's roles "
            "must also be granted: `brightline principal grant`)"
        )


def may_use_console(principal: Principal) -> bool:
    return any(principal.may(action) for action in SIGN_IN)


def staff(principal: Principal) -> bool:
    """Whether the principal works on cases (else the console is its customer page)."""
    return principal.may(Action.LIST_CASES)


Me = Annotated[ConsoleSession, Depends(signed_in)]


def need(session: ConsoleSession, action: Action) -> None:
    """The gate of a page or form: ``action`` of the permission table."""
    authorize(session.principal, action)


async def posted(request: Request, session: Me) -> tuple[ConsoleSession, FormData]:
    """A form posted from the console: same origin and the session's CSRF token."""
    same_origin(request)
    form = await request.form()
    token = form.get("csrf")
    header = request.headers.get("x-csrf-token")
    if not (
        session.check_csrf(token if isinstance(token, str) else None) or session.check_csrf(header)
    ):
        raise AccessDeniedError("the form's CSRF token is missing or wrong; reload the page")
    return session, form


Posted = Annotated[tuple[ConsoleSession, FormData], Depends(posted)]


def same_origin(request: Request) -> None:
    """Browsers send Origin with form posts; a missing one (older clients) is let through
    to the CSRF token, an opaque ``null`` origin is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin == "null":
        raise AccessDeniedError("form posts from an opaque origin are refused")
    if urllib.parse.urlsplit(origin).netloc != request.headers.get("host"):
        raise AccessDeniedError("cross-origin form posts are refused")


def form_key(form: FormData) -> str | None:
    """The idempotency key a form carries: random, made when the page was rendered (so
    that submitting the same form twice changes nothing), never guessable by another
    principal — and the service scopes it to the principal anyway."""
    value = form.get("idempotency_key")
    return value if isinstance(value, str) and 16 <= len(value) <= 64 else None


def field_value(form: FormData, name: str, *, required: bool = True) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInputError(Problem(name, "required"))
    return text


# -- rendering ------------------------------------------------------------------------------


def _nav(session: ConsoleSession | None) -> list[tuple[str, str]]:
    if session is None:
        return []
    items = [("Dashboard", f"{PREFIX}/"), ("Cases", f"{PREFIX}/cases")]
    if not staff(session.principal):
        items = []
    for label, path, action in _NAV:
        if session.principal.may(action):
            items.append((label, f"{PREFIX}/{path}"))
    return items


_NAV: Final = (
    ("Intake", "intake", Action.TRIAGE_REPORTS),
    ("Alerts", "alerts", Action.VIEW_ALERTS),
    ("Restrictions", "restrictions", Action.LIST_RESTRICTIONS),
    ("Customers", "tree", Action.READ_DIRECTORY),
    ("Ledger", "ledger", Action.VIEW_LEDGER),
    ("Your restrictions", "customer", Action.VIEW_OWN_RESTRICTIONS),
)


def page(
    request: Request,
    session: ConsoleSession | None,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "me": session.principal if session else None,
            "csrf": session.csrf if session else "",
            # A fresh random idempotency key for the forms of this page.
            "form_key": secrets.token_urlsafe(24),
            "nav": _nav(session),
            "flash": session.take_flash() if session else [],
            "path": request.url.path,
            **context,
        },
        status_code=status,
    )


def partial(request: Request) -> bool:
    """An htmx request for part of a page (not a boosted link or form, which wants it all)."""
    return bool(request.headers.get("hx-request")) and not request.headers.get("hx-boosted")


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def render_error(request: Request, error: BrightlineError, status: int) -> Response:
    """Errors on console pages: a page (or a redirect to sign in), never JSON."""
    if isinstance(error, SignInRequiredError):
        target = f"{PREFIX}/login?next={urllib.parse.quote(request.url.path)}"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"hx-redirect": target})
        return back(target)
    # The session this request signed in with, if it got that far (never read again
    # here: rendering an error must not wait for the database).
    session = getattr(request.state, "console_session", None)
    problems = getattr(error, "problems", ())
    return page(
        request,
        session,
        "error.html",
        status=status,
        # The public report form's pages look like the console but are not part of it.
        public=not request.url.path.startswith(PREFIX),
        title={
            401: "Sign-in failed",
            403: "Not allowed",
            404: "Not found",
            409: "Refused",
            413: "Too large",
            422: "Invalid input",
            429: "Too many attempts",
        }.get(status, "Error"),
        message=str(error),
        problems=problems,
        back=request.headers.get("referer"),
    )


async def run(request: Request, work: Callable[[], Any]) -> Any:
    """Run a blocking use case, then log it in the ledger and refresh the bundle."""
    state = app_state(request)
    result = await store_call(state, work)
    await notify_change(state)
    return result
