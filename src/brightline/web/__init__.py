"""The reviewers' console: server-rendered pages under ``/console``; and the public
report form under ``/report``, in the console's look, for people without an account.

Every page works without JavaScript; htmx (served from this package, never from the
internet) only makes some parts update in place. Sign-in takes an API key or an OIDC
token, or goes through the identity provider; the session cookie is ``HttpOnly``,
``SameSite=Lax`` and ``Secure`` over TLS, and every form carries the session's CSRF
token. Each page names the roles it accepts, and each change calls the same service
function as the CLI and the API, which applies the permission table, four eyes and the
blast-radius guard: a hidden button is a courtesy, the refusal is the server's.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from brightline.service.guard import PlanLimits
from brightline.web import (  # noqa: F401  (they add their routes)
    cases,
    customer,
    intake,
    pages,
    public,
    signin,
)
from brightline.web.common import PREFIX, ConsoleState, render_error, router
from brightline.web.oidc import SignIns
from brightline.web.session import ConsoleSessions

__all__ = ["mount_console", "render_error"]


def mount_console(app: FastAPI, *, plan_limits: PlanLimits) -> None:
    """Add the console's pages and its static files (htmx, the stylesheet) to ``app``."""
    server = app.state.brightline
    sessions = ConsoleSessions(server.store, server.authenticator)
    # The ledger key's seed: every server of the deployment holds it, so a sign-in
    # through the identity provider may come back to any of them.
    sign_ins = SignIns(server.signer.seed)
    app.state.console = ConsoleState(sessions, plan_limits, sign_ins)
    app.include_router(router)
    app.include_router(public.router)
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="console-static",
    )
