"""The reviewers' console: server-rendered pages (Jinja2, htmx) under ``/console``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from brightline.service.plans import PlanLimits
from brightline.web.oidc import SignIns
from brightline.web.routes import PREFIX, ConsoleState, render_error, router
from brightline.web.session import Sessions

__all__ = ["mount_console", "render_error"]


def mount_console(app: FastAPI, *, plan_limits: PlanLimits | None = None) -> None:
    """Add the console's pages and its static files (htmx, the stylesheet) to ``app``."""
    app.state.console = ConsoleState(Sessions(), plan_limits or PlanLimits(), SignIns())
    app.include_router(router)
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="console-static",
    )
