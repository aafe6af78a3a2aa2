"""The reviewers' console: server-rendered pages under ``/console``.

Every page works without JavaScript; htmx (served from this package, never from the
internet) only makes some parts update in place. Sign-in takes an API key or an OIDC
token; the session cookie is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` over TLS,
and every form carries the session's CSRF token. Each page names the roles it accepts,
and each change calls the same service function as the CLI and the API, which applies
the permission table, four eyes and the blast-radius guard: a hidden button is a
courtesy, the refusal is the server's.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from brightline.api.app import AppState, notify_change
from brightline.api.auth import AuthenticationError, ForbiddenError
from brightline.cases import (
    AppealOutcome,
    CaseStatus,
    Finding,
    FindingOutcome,
)
from brightline.cases.roles import Action, Role
from brightline.charts import bar_chart, line_chart
from brightline.errors import BrightlineError, InvalidInputError, NotFoundError, Problem
from brightline.ledger import verify_inclusion
from brightline.service import console as read
from brightline.service.apikeys import ADMIN
from brightline.service.case_export import case_timeline, show_case
from brightline.service.cases import (
    add_task,
    assign,
    attach_signal,
    close_case,
    complete_task,
    decide_appeal,
    decide_no_restriction,
    open_case,
    record_appeal,
    record_finding,
    start_review,
)
from brightline.service.intake import find_alert, signal_from_alert
from brightline.service.ledger import LedgerKeys, export_tiles_dir, ledger_status
from brightline.service.plans import PlanLimits, approve, decide_restrict
from brightline.service.restrictions import lift_restriction, reject_restriction
from brightline.service.usage import case_usage
from brightline.web import oidc
from brightline.web.oidc import SignIns
from brightline.web.session import COOKIE, LOGIN_COOKIE, ConsoleSession, Sessions

PREFIX: Final = "/console"
TEMPLATES: Final = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["bar_chart"] = lambda *a, **k: Markup(bar_chart(*a, **k))
TEMPLATES.env.globals["line_chart"] = lambda *a, **k: Markup(line_chart(*a, **k))

R = Role
#: Who may sign in at all, and who sees more than their own cases.
REVIEW_ROLES: Final = frozenset({*(r.value for r in Role), ADMIN})
STAFF_ROLES: Final = REVIEW_ROLES - {R.EXTERNAL_REVIEWER.value}
APPROVER_ROLES: Final = frozenset({R.APPROVER.value})
PROPOSER_ROLES: Final = frozenset({R.INVESTIGATOR.value, ADMIN})

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclass
class ConsoleState:
    sessions: Sessions
    limits: PlanLimits
    sign_ins: SignIns


class SignInRequiredError(AuthenticationError):
    """No console session, or one whose credential is no longer valid."""


def _now() -> datetime:
    return datetime.now(UTC)


def _app(request: Request) -> AppState:
    state: AppState = request.app.state.brightline
    return state


def _console(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


# -- who is signed in -----------------------------------------------------------------------


async def signed_in(request: Request) -> ConsoleSession:
    """The console session, its credential checked again (a revoked key ends it)."""
    sessions = _console(request).sessions
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequiredError("sign in first")
    try:
        principal = await run_in_threadpool(
            _app(request).authenticator.principal_for, session.token
        )
    except AuthenticationError as exc:
        sessions.close(session.id)
        raise SignInRequiredError(f"signed out: {exc}") from exc
    if not principal.has_any(REVIEW_ROLES):
        sessions.close(session.id)
        raise ForbiddenError(f"{principal.name} holds no role that may use the console")
    session.principal = principal
    request.state.principal = principal
    return session


Me = Annotated[ConsoleSession, Depends(signed_in)]


def _need(session: ConsoleSession, roles: frozenset[str], what: str) -> None:
    if not session.principal.has_any(roles):
        raise ForbiddenError(
            f"{session.principal.name} may not {what} (needs one of: {', '.join(sorted(roles))})"
        )


async def posted(request: Request, session: Me) -> tuple[ConsoleSession, FormData]:
    """A form posted from the console: same origin and the session's CSRF token."""
    _same_origin(request)
    form = await request.form()
    token = form.get("csrf")
    header = request.headers.get("x-csrf-token")
    if not (
        session.check_csrf(token if isinstance(token, str) else None) or session.check_csrf(header)
    ):
        raise ForbiddenError("the form's CSRF token is missing or wrong; reload the page")
    return session, form


Posted = Annotated[tuple[ConsoleSession, FormData], Depends(posted)]


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    if urllib.parse.urlsplit(origin).netloc != request.headers.get("host"):
        raise ForbiddenError("cross-origin form posts are refused")


def _field(form: FormData, name: str, *, required: bool = True) -> str:
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
    if session.principal.has_any(STAFF_ROLES):
        items += [
            ("Alerts", f"{PREFIX}/alerts"),
            ("Restrictions", f"{PREFIX}/restrictions"),
            ("Customers", f"{PREFIX}/tree"),
            ("Ledger", f"{PREFIX}/ledger"),
        ]
    return items


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
            "nav": _nav(session),
            "flash": session.take_flash() if session else [],
            "path": request.url.path,
            "staff": bool(session and session.principal.has_any(STAFF_ROLES)),
            **context,
        },
        status_code=status,
    )


def _partial(request: Request) -> bool:
    """An htmx request for part of a page (not a boosted link or form, which wants it all)."""
    return bool(request.headers.get("hx-request")) and not request.headers.get("hx-boosted")


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def render_error(request: Request, error: BrightlineError, status: int) -> Response:
    """Errors on console pages: a page (or a redirect to sign in), never JSON."""
    if isinstance(error, SignInRequiredError):
        target = f"{PREFIX}/login?next={urllib.parse.quote(request.url.path)}"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"hx-redirect": target})
        return _back(target)
    sessions = _console(request).sessions
    session = sessions.get(request.cookies.get(COOKIE))
    problems = getattr(error, "problems", ())
    return page(
        request,
        session,
        "error.html",
        status=status,
        title={401: "Sign-in failed", 403: "Not allowed", 404: "Not found", 409: "Refused", 422: "Invalid input"}.get(
            status, "Error"
        ),
        message=str(error),
        problems=problems,
        back=request.headers.get("referer"),
    )


async def _run(request: Request, work: Callable[[], Any]) -> Any:
    """Run a blocking use case, then log it in the ledger and refresh the bundle."""
    result = await run_in_threadpool(work)
    await notify_change(_app(request))
    return result


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
        oidc=bool(_app(request).settings.oidc_issuer),
        oidc_redirect=oidc.configured(_app(request).settings),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path=PREFIX,
        max_age=3600,
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    import hmac

    _same_origin(request)
    form = await request.form()
    presented = form.get("login_token")
    expected = request.cookies.get(LOGIN_COOKIE)
    if not (
        isinstance(presented, str)
        and expected
        and hmac.compare_digest(presented.encode(), expected.encode())
    ):
        raise ForbiddenError("the sign-in form expired; reload the page and try again")
    credential = _field(form, "credential")
    state = _app(request)
    try:
        principal = await run_in_threadpool(state.authenticator.principal_for, credential)
    except AuthenticationError as exc:
        return page(
            request,
            None,
            "login.html",
            status=401,
            login_token=presented,
            next=_safe_next(_field(form, "next", required=False)),
            oidc=bool(state.settings.oidc_issuer),
            oidc_redirect=oidc.configured(state.settings),
            failed=str(exc),
        )
    return _open_session(request, credential, principal, _field(form, "next", required=False))


def _open_session(request: Request, credential: str, principal: Any, next: str) -> Response:
    if not principal.has_any(REVIEW_ROLES):
        raise ForbiddenError(f"{principal.name} holds no role that may use the console")
    session = _console(request).sessions.open(credential, principal)
    response: Response = _back(_safe_next(next))
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path=PREFIX,
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    response.delete_cookie(oidc.STATE_COOKIE, path=PREFIX)
    return response


@router.get("/login/oidc")
async def login_oidc(request: Request, next: str | None = None) -> Response:
    """Send the browser to the identity provider (authorization code flow with PKCE)."""
    settings = _app(request).settings
    if not oidc.configured(settings):
        raise NotFoundError("sign-in through an identity provider is not configured")
    redirect_uri = str(request.url_for("login_oidc_callback"))
    pending, target = _console(request).sign_ins.start(
        settings, redirect_uri=redirect_uri, next=_safe_next(next)
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        oidc.STATE_COOKIE,
        pending.state,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
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
    settings = _app(request).settings
    if error:
        raise AuthenticationError(
            f"the identity provider refused the sign-in: {error} {error_description}".strip()
        )
    pending = _console(request).sign_ins.finish(state, request.cookies.get(oidc.STATE_COOKIE))
    if not code:
        raise AuthenticationError("the identity provider returned no code")
    token = await run_in_threadpool(oidc.redeem, settings, pending, code)
    verifier = _app(request).authenticator.oidc
    principal = await run_in_threadpool(lambda: verifier.principal(token, nonce=pending.nonce))
    return _open_session(request, token, principal, pending.next)


@router.post("/logout")
async def logout(request: Request, form: Posted) -> Response:
    session, _ = form
    _console(request).sessions.close(session.id)
    response = _back(f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# -- dashboard ------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, me: Me) -> HTMLResponse:
    state = _app(request)
    staff = me.principal.has_any(STAFF_ROLES)
    data = await run_in_threadpool(
        lambda: read.dashboard(
            state.store, state.settings, actor=me.principal.name, staff=staff, now=_now()
        )
    )
    return page(request, me, "dashboard.html", data=data, now=_now())


# -- alerts ---------------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(request: Request, me: Me) -> HTMLResponse:
    _need(me, STAFF_ROLES, "see detection alerts")
    state = _app(request)
    items = await run_in_threadpool(lambda: read.top_alerts(state.settings, limit=200))
    views = await run_in_threadpool(
        lambda: read.case_views_with_status(state.store, actor=me.principal.name, status=None)
    )
    granted = await run_in_threadpool(read.granted_roles, state.store, me.principal.name)
    return page(
        request,
        me,
        "alerts.html",
        alerts=items,
        open_cases=[v for v in views if v.state.status is not CaseStatus.CLOSED],
        can_open=Action.OPEN_CASE in read.allowed_actions(granted),
    )


@router.post("/alerts/open")
async def alert_open(request: Request, form: Posted) -> Response:
    me, data = form
    _need(me, STAFF_ROLES, "act on alerts")
    state = _app(request)
    alert_id = _field(data, "alert")
    title = _field(data, "title", required=False) or f"Alert {alert_id}"
    actor = me.principal.name

    def work() -> str:
        alert = find_alert(state.settings.data_dir / "alerts.jsonl", alert_id)
        signal = signal_from_alert(state.store, alert, actor=actor)
        return open_case(state.store, actor=actor, title=title, signals=[signal.ref]).id

    case_id = await _run(request, work)
    me.say("ok", f"Case {case_id} opened from alert {alert_id}.")
    return _back(f"{PREFIX}/cases/{case_id}")


@router.post("/alerts/attach")
async def alert_attach(request: Request, form: Posted) -> Response:
    me, data = form
    _need(me, STAFF_ROLES, "act on alerts")
    state = _app(request)
    alert_id, case_id = _field(data, "alert"), _field(data, "case")
    actor = me.principal.name

    def work() -> None:
        alert = find_alert(state.settings.data_dir / "alerts.jsonl", alert_id)
        signal = signal_from_alert(state.store, alert, actor=actor)
        attach_signal(state.store, case_id, signal.ref, actor=actor)

    await _run(request, work)
    me.say("ok", f"Alert {alert_id} attached to case {case_id}.")
    return _back(f"{PREFIX}/cases/{case_id}")


# -- cases ----------------------------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse)
async def cases(request: Request, me: Me, status: str | None = None) -> HTMLResponse:
    state = _app(request)
    chosen = CaseStatus(status) if status else None
    views = await run_in_threadpool(
        lambda: read.case_views_with_status(state.store, actor=me.principal.name, status=chosen)
    )
    return page(
        request,
        me,
        "cases.html",
        cases=views,
        chosen_status=status or "",
        statuses=[s.value for s in CaseStatus],
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case(request: Request, case_id: str, me: Me) -> HTMLResponse:
    state = _app(request)
    actor = me.principal.name

    def gather() -> dict[str, Any]:
        view = show_case(state.store, case_id, actor=actor)
        granted = read.granted_roles(state.store, actor)
        can = read.allowed_actions(granted, assigned=view.state.is_assigned(actor))
        usage = None
        if Action.VIEW_USAGE in can:
            usage = case_usage(state.store, state.settings, case_id, actor=actor).aggregate
        draft = ""
        if Action.PLAN in can:
            draft = read.draft_restriction(state.store, case_id, actor=actor)
        return {
            "case": view.to_json(history=False),
            "timeline": case_timeline(state.store, case_id, actor=actor),
            "can": {a.value for a in can},
            "usage": usage.to_json() if usage else None,
            "draft": draft,
            "outcomes": [o.value for o in FindingOutcome],
            "appeal_outcomes": [o.value for o in AppealOutcome],
        }

    context = await run_in_threadpool(gather)
    return page(request, me, "case.html", **context)


def _finding(form: FormData) -> Finding:
    raw = _field(form, "evidence", required=False)
    try:
        evidence = tuple(int(x) for x in raw.replace(",", " ").split())
    except ValueError as exc:
        raise InvalidInputError(Problem("evidence", "evidence numbers, e.g. 1 2")) from exc
    try:
        outcome = FindingOutcome(_field(form, "outcome"))
    except ValueError as exc:
        raise InvalidInputError(Problem("outcome", str(exc))) from exc
    return Finding(_field(form, "policy"), outcome, _field(form, "rationale"), evidence)


CaseAction = Callable[[AppState, str, FormData, str, PlanLimits], Any]

CASE_ACTIONS: Final[Mapping[str, tuple[str, CaseAction]]] = {
    "assign": (
        "Reviewer assigned.",
        lambda s, c, f, a, _: assign(s.store, c, _field(f, "principal"), actor=a),
    ),
    "unassign": (
        "Reviewer removed.",
        lambda s, c, f, a, _: assign(s.store, c, _field(f, "principal"), actor=a, remove=True),
    ),
    "start-review": ("Review started.", lambda s, c, f, a, _: start_review(s.store, c, actor=a)),
    "task": (
        "Task added.",
        lambda s, c, f, a, _: add_task(
            s.store,
            c,
            actor=a,
            title=_field(f, "title"),
            assignee=_field(f, "assignee", required=False) or None,
        ),
    ),
    "task-done": (
        "Task done.",
        lambda s, c, f, a, _: complete_task(s.store, c, _int(f, "number"), actor=a),
    ),
    "finding": (
        "Finding recorded.",
        lambda s, c, f, a, _: record_finding(s.store, c, _finding(f), actor=a),
    ),
    "pin-usage": (
        "Usage over the last 30 days added as evidence.",
        lambda s, c, f, a, _: case_usage(s.store, s.settings, c, actor=a, pin=True),
    ),
    "decide-none": (
        "Decided: no restriction.",
        lambda s, c, f, a, _: decide_no_restriction(
            s.store, c, actor=a, rationale=_field(f, "rationale")
        ),
    ),
    "decide-restrict": (
        "Decided to restrict; the proposal awaits a second person's approval.",
        lambda s, c, f, a, limits: decide_restrict(
            s.store,
            s.settings,
            c,
            _field(f, "restrictions"),
            name="restriction",
            actor=a,
            rationale=_field(f, "rationale"),
            limits=limits,
        ),
    ),
    "appeal": (
        "Appeal recorded.",
        lambda s, c, f, a, _: record_appeal(s.store, c, actor=a, grounds=_field(f, "grounds")),
    ),
    "appeal-decide": (
        "Appeal decided.",
        lambda s, c, f, a, _: decide_appeal(
            s.store, c, actor=a, outcome=_appeal_outcome(f), rationale=_field(f, "rationale")
        ),
    ),
    "close": (
        "Case closed.",
        lambda s, c, f, a, _: close_case(s.store, c, actor=a, why=_field(f, "why")),
    ),
}


def _int(form: FormData, name: str) -> int:
    try:
        return int(_field(form, name))
    except ValueError as exc:
        raise InvalidInputError(Problem(name, "a number")) from exc


def _appeal_outcome(form: FormData) -> AppealOutcome:
    try:
        return AppealOutcome(_field(form, "outcome"))
    except ValueError as exc:
        raise InvalidInputError(Problem("outcome", str(exc))) from exc


@router.post("/cases/{case_id}/plan", response_class=HTMLResponse)
async def case_plan(request: Request, case_id: str, form: Posted) -> HTMLResponse:
    """Preview a drafted restriction's impact; nothing is proposed."""
    me, data = form
    state = _app(request)
    text = _field(data, "restrictions")
    limits = _console(request).limits
    plan = await run_in_threadpool(
        lambda: read.preview_plan(
            state.store,
            state.settings,
            case_id,
            text,
            actor=me.principal.name,
            limits=limits,
            now=_now(),
        )
    )
    return page(
        request,
        me,
        "plan_preview.html",
        case_id=case_id,
        plan=plan.to_json(),
        restrictions=text,
        rationale=_field(data, "rationale", required=False),
    )


@router.post("/cases/{case_id}/{action}")
async def case_action(request: Request, case_id: str, action: str, form: Posted) -> Response:
    me, data = form
    _need(me, REVIEW_ROLES, "change a case")
    if action not in CASE_ACTIONS:
        raise NotFoundError(f"no case action {action!r}")
    message, do = CASE_ACTIONS[action]
    state, limits = _app(request), _console(request).limits
    result = await _run(request, lambda: do(state, case_id, data, me.principal.name, limits))
    me.say("ok", message)
    if action == "decide-restrict":
        _, plan = result
        return _back(f"{PREFIX}/restrictions/{plan.restriction_ids[0]}")
    return _back(f"{PREFIX}/cases/{case_id}")


# -- restrictions ---------------------------------------------------------------------------


@router.get("/restrictions", response_class=HTMLResponse)
async def restrictions(request: Request, me: Me) -> HTMLResponse:
    _need(me, STAFF_ROLES, "see restrictions")
    from brightline.service.restrictions import list_restrictions

    state = _app(request)
    views = await run_in_threadpool(lambda: list_restrictions(state.store, now=_now()))
    return page(request, me, "restrictions.html", restrictions=views)


@router.get("/restrictions/{restriction_id}", response_class=HTMLResponse)
async def restriction(request: Request, restriction_id: str, me: Me) -> HTMLResponse:
    _need(me, STAFF_ROLES, "see restrictions")
    state = _app(request)
    data = await run_in_threadpool(
        lambda: read.restriction_page(state.store, state.settings, restriction_id, now=_now())
    )
    granted = await run_in_threadpool(read.granted_roles, state.store, me.principal.name)
    return page(
        request,
        me,
        "restriction.html",
        data=data,
        r=data.view.to_json(),
        can_approve=me.principal.has_any(APPROVER_ROLES) and R.APPROVER in granted,
        can_lift=me.principal.has_any(PROPOSER_ROLES),
    )


def _approver(me: ConsoleSession, granted: frozenset[Role]) -> None:
    _need(me, APPROVER_ROLES, "approve or reject restrictions")
    if R.APPROVER not in granted:
        raise ForbiddenError(f"{me.principal.name} is not granted the approver role")


@router.post("/restrictions/{restriction_id}/approve")
async def restriction_approve(request: Request, restriction_id: str, form: Posted) -> Response:
    me, _ = form
    _need(me, APPROVER_ROLES, "approve restrictions")
    state = _app(request)
    result = await _run(
        request, lambda: approve(state.store, restriction_id, actor=me.principal.name)
    )
    me.say(
        "ok",
        "Guard approval recorded; a second approver must now approve."
        if result.guard
        else f"Approved: {restriction_id} is now {result.view.status.value}.",
    )
    return _back(f"{PREFIX}/restrictions/{restriction_id}")


@router.post("/restrictions/{restriction_id}/reject")
async def restriction_reject(request: Request, restriction_id: str, form: Posted) -> Response:
    me, data = form
    state = _app(request)
    granted = await run_in_threadpool(read.granted_roles, state.store, me.principal.name)
    _approver(me, granted)
    why = _field(data, "why")
    await _run(
        request,
        lambda: reject_restriction(state.store, restriction_id, actor=me.principal.name, why=why),
    )
    me.say("ok", f"Rejected {restriction_id}.")
    return _back(f"{PREFIX}/restrictions/{restriction_id}")


@router.post("/restrictions/{restriction_id}/lift")
async def restriction_lift(request: Request, restriction_id: str, form: Posted) -> Response:
    me, data = form
    _need(me, PROPOSER_ROLES, "propose lifting restrictions")
    state = _app(request)
    why = _field(data, "why")
    await _run(
        request,
        lambda: lift_restriction(state.store, restriction_id, actor=me.principal.name, why=why),
    )
    me.say("ok", f"Lifting {restriction_id} proposed; it needs another person's approval.")
    return _back(f"{PREFIX}/restrictions/{restriction_id}")


# -- the customer tree ----------------------------------------------------------------------


@router.get("/tree", response_class=HTMLResponse)
async def tree(request: Request, me: Me, q: str = "") -> HTMLResponse:
    _need(me, STAFF_ROLES, "browse customers")
    state = _app(request)
    world = state.keeper.current.snapshot.world
    nodes = await run_in_threadpool(lambda: read.search_nodes(world, q[:200]))
    template = "_nodes.html" if _partial(request) else "tree.html"
    return page(request, me, template, nodes=nodes, q=q)


@router.get("/tree/{node_id}", response_class=HTMLResponse)
async def node(request: Request, node_id: str, me: Me) -> HTMLResponse:
    _need(me, STAFF_ROLES, "browse customers")
    snapshot = _app(request).keeper.current.snapshot
    data = read.node_page(snapshot.world, snapshot, node_id, now=_now())
    return page(request, me, "node.html", data=data, verdict=None, asked={})


@router.get("/tree/{node_id}/test", response_class=HTMLResponse)
async def node_test(
    request: Request,
    node_id: str,
    me: Me,
    service: str = "",
    operation: str = "",
    region: str = "",
) -> HTMLResponse:
    """Would this call be allowed now? Decided by the snapshot in force, explained."""
    _need(me, STAFF_ROLES, "test decisions")
    snapshot = _app(request).keeper.current.snapshot
    asked = {"service": service, "operation": operation, "region": region}
    status = 200
    try:
        verdict: Any = read.test_call(
            snapshot, node=node_id, service=service, operation=operation, region=region, at=_now()
        )
    except BrightlineError as exc:
        verdict = read.Verdict("error", str(exc), (), (), snapshot.version)
        status = 422
    if _partial(request):
        return page(request, me, "_verdict.html", verdict=verdict, status=status)
    data = read.node_page(snapshot.world, snapshot, node_id, now=_now())
    return page(request, me, "node.html", data=data, verdict=verdict, asked=asked, status=status)


# -- the ledger -----------------------------------------------------------------------------


@router.get("/ledger", response_class=HTMLResponse)
async def ledger(request: Request, me: Me, index: str = "") -> HTMLResponse:
    _need(me, STAFF_ROLES, "read the ledger")
    state = _app(request)
    current = await run_in_threadpool(ledger_status, state.store)
    entry, checks, problem = None, None, None
    if index.strip():
        try:
            number = int(index)
            entry = await run_in_threadpool(read.public_entry, state.store, number)
            p = entry.proof
            checks = verify_inclusion(p.leaf_hash, p.index, p.size, list(p.proof), p.root)
        except ValueError:
            problem = f"{index!r} is not an entry number"
        except NotFoundError as exc:
            problem = str(exc)
    return page(
        request,
        me,
        "ledger.html",
        status=422 if problem else 200,
        ledger=current,
        entry=entry,
        checks=checks,
        problem=problem,
        index=index,
    )


@router.get("/ledger/tiles.tar.gz")
async def ledger_tiles(request: Request, me: Me) -> Response:
    """The log as C2SP tiles with its checkpoint and public key, for offline verification."""
    _need(me, STAFF_ROLES, "download the ledger")
    state = _app(request)

    def build() -> bytes:
        keys = LedgerKeys.of(state.settings)
        with tempfile.TemporaryDirectory() as tmp:
            export_tiles_dir(state.store, Path(tmp) / "tiles", keys.verifier())
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                tar.add(Path(tmp) / "tiles", arcname="tiles")
                if keys.public.is_file():
                    tar.add(keys.public, arcname="log.pub")
            return buffer.getvalue()

    body = await run_in_threadpool(build)
    return Response(
        body,
        media_type="application/gzip",
        headers={"content-disposition": 'attachment; filename="brightline-tiles.tar.gz"'},
    )
