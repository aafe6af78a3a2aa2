"""The FastAPI application: the API's routes and the console's pages over one
:class:`~brightline.server.state.AppState`, middleware (request ids, JSON logs, size
limits, security headers), the one place where errors become status codes, health and
readiness, and the background task that keeps the bundle and the ledger current."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Final, TypedDict

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brightline import __version__
from brightline.config import Settings
from brightline.errors import (
    AccessDeniedError,
    AuthenticationError,
    BrightlineError,
    ConflictError,
    InvalidInputError,
    LedgerIntegrityError,
    NotFoundError,
    RateLimitedError,
    StorageError,
    StoreUnavailableError,
    TooLargeError,
)
from brightline.ledger import NoteSigner
from brightline.server.bodies import JsonBodyBounds
from brightline.server.public_forms import PUBLIC_BODY_BYTES, PUBLIC_UPLOAD_PATHS
from brightline.server.push import ChangeSignal, start_listener
from brightline.server.replicas import first_refresh
from brightline.server.state import (
    AppState,
    Metrics,
    RateLimiter,
    keep_current,
    store_call,
    wait_for_refresh,
)
from brightline.server.witnessing import keep_witnessed
from brightline.service.access import Authenticator
from brightline.service.bundles import BundleKeeper
from brightline.service.guard import PlanLimits
from brightline.service.kept_bundles import SNAPSHOTS_DIR
from brightline.service.notices import notice_of
from brightline.service.rate_limits import PublicRateLimiter
from brightline.store import Store
from brightline.store.writer_lock import LedgerWriterLock

log = logging.getLogger("brightline.api")

#: Bodies larger than this are refused before they are read (a batch of 10,000 fits).
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
CONSOLE_PREFIX: Final = "/console"
#: The gateways' check endpoint (brightline.api.gateway): its errors are marked not-checked.
GATEWAY_PREFIX: Final = "/v1/gateway/"
#: The public report form's pages (errors there are pages too).
PUBLIC_FORM_PREFIX: Final = "/report"

STATUS: Final[list[tuple[type[BrightlineError], int]]] = [
    (AuthenticationError, 401),
    (AccessDeniedError, 403),
    (RateLimitedError, 429),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TooLargeError, 413),
    (InvalidInputError, 422),
    (StoreUnavailableError, 503),
    (StorageError, 503),
    (LedgerIntegrityError, 500),
]


class UvicornLogs(TypedDict):
    log_level: str
    access_log: bool


#: How every server runs uvicorn (``brightline serve``, the demo, the tests): its access
#: log off, since it would write each client's address (the public report routes promise
#: none); the request log (:class:`Envelope`) writes method, path, status and time only.
UVICORN_LOGS: Final[UvicornLogs] = {"log_level": "warning", "access_log": False}

SECURITY_HEADERS: Final = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Not "no-referrer": browsers then send "Origin: null" with the console's own form
    # posts, and the console could no longer tell them from cross-site ones.
    "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
    "cache-control": "no-store",
}


def _status(error: BrightlineError) -> int:
    for kind, code in STATUS:
        if isinstance(error, kind):
            return code
    return 400


def _problems(error: BrightlineError) -> list[dict[str, str]]:
    if isinstance(error, InvalidInputError):
        return [{"where": p.where, "message": p.message} for p in error.problems]
    return []


def create_app(
    settings: Settings,
    store: Store,
    signer: NoteSigner,
    *,
    plan_limits: PlanLimits | None = None,
    fast_decisions: bool = True,
    signal: ChangeSignal | None = None,
) -> FastAPI:
    """The API and the console over an open store; ``signer`` signs bundles and ledger
    checkpoints; ``plan_limits`` is the blast-radius guard for decisions made in the
    console (the settings' if None). ``fast_decisions`` False serves every single
    decision and every bundle request through their FastAPI routes
    (:mod:`brightline.api.fast_decisions`, :mod:`brightline.api.fast_bundles`).
    ``signal`` says when the server looks at the store again (:mod:`~.push`; the default
    polls as fast as it does without pushed changes)."""
    state = AppState(
        settings=settings,
        store=store,
        signer=signer,
        keeper=BundleKeeper(
            store,
            signer,
            notice=notice_of(settings),
            kept=settings.data_dir / SNAPSHOTS_DIR,
        ),
        authenticator=Authenticator(store, settings),
        limiter=RateLimiter(store, settings.admin_rate_per_minute),
        metrics=Metrics(),
        public_limiter=PublicRateLimiter(settings.public_rate_per_minute),
        ledger_writer=LedgerWriterLock(store),
        signal=signal or ChangeSignal(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.changed = asyncio.Condition()
        state.signal.bind()
        # The listener wakes the loop once connected: what commits meanwhile is not lost.
        listener = start_listener(store, state.signal, timeout=settings.db_timeout)
        try:
            await first_refresh(state)
        except BaseException:
            if listener is not None:
                await run_in_threadpool(listener.stop)
            if state.ledger_writer is not None:
                state.ledger_writer.close()  # its connection is not left to the collector
            raise
        state.ready = True
        stop = asyncio.Event()
        tasks = [asyncio.create_task(keep_current(state, stop))]
        if settings.ledger_witnesses:
            tasks.append(asyncio.create_task(keep_witnessed(state, stop)))
        try:
            yield
        finally:
            stop.set()  # a round under way finishes first (the store bounds its waits)
            for task in tasks:
                await task
            if listener is not None:
                await run_in_threadpool(listener.stop)
            # A refresh the task left running in a worker thread holds a connection: let
            # it end before whoever opened the store closes it.
            await run_in_threadpool(wait_for_refresh, state)
            # A snapshot being kept is written whole, or the next start compiles.
            await run_in_threadpool(state.keeper.wait_kept)
            if state.ledger_writer is not None:
                state.ledger_writer.close()  # another server on the database takes over

    app = _Served(
        title="Brightline",
        version=__version__,
        description="Decisions, signed bundles, restrictions, cases and the ledger.",
        lifespan=lifespan,
        # Bodies sent without a Content-Length (chunked) are counted as they arrive.
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.brightline = state

    @app.exception_handler(BrightlineError)
    async def brightline_error(request: Request, error: BrightlineError) -> Response:
        status = _status(error)
        if request.url.path.startswith((CONSOLE_PREFIX, PUBLIC_FORM_PREFIX)):
            from brightline.web import render_error

            return render_error(request, error, status)
        headers = {"www-authenticate": "Bearer"} if status == 401 else {}
        if request.url.path.startswith(GATEWAY_PREFIX):
            from brightline.api.gateway import NOT_CHECKED

            headers.update(NOT_CHECKED)
        body = {"error": type(error).__name__, "message": str(error), "problems": _problems(error)}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(UnicodeError)
    async def unicode_error(request: Request, error: UnicodeError) -> JSONResponse:
        # Lone surrogates and the like cannot be stored; they are the caller's mistake.
        return JSONResponse(
            {
                "error": "InvalidInputError",
                "message": "text must be valid Unicode (no lone surrogates)",
                "problems": [],
            },
            status_code=422,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in error.errors()
        ]
        return JSONResponse(
            {"error": "InvalidInputError", "message": "invalid request", "problems": problems},
            status_code=422,
        )

    # Inside Envelope (_Served): its refusals get request ids and headers too.
    app.add_middleware(JsonBodyBounds, max_bytes=MAX_BODY_BYTES)
    if fast_decisions:
        from brightline.api.fast_bundles import FastBundles
        from brightline.api.fast_decisions import FastDecisions

        app.fast_path = lambda inner: FastDecisions(FastBundles(inner, state=state), state=state)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness: database, bundle and ledger")
    async def readyz() -> JSONResponse:
        try:
            await store_call(state, store.ping)
        except StoreUnavailableError as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        if not state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        if state.ledger_refused is not None:
            # The stored log is not an extension of what the ledger signed: changes are
            # committed but not logged until the database is restored.
            return JSONResponse(
                {"status": "ledger-refused", "reason": state.ledger_refused}, status_code=503
            )
        return JSONResponse({"status": "ready", "bundle": state.keeper.current.version})

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def metrics() -> Response:
        return Response(
            generate_latest(state.metrics.registry), media_type="text/plain; version=0.0.4"
        )

    from brightline.api import admin, cases, customer, decisions, gateway, principals, public
    from brightline.web import mount_console

    app.include_router(decisions.router)
    app.include_router(gateway.router)
    app.include_router(admin.router)
    app.include_router(cases.router)
    app.include_router(principals.router)
    app.include_router(public.router)
    app.include_router(customer.router)
    mount_console(app, plan_limits=plan_limits or PlanLimits.of(settings))
    return app


class _Served(FastAPI):
    """FastAPI with the :class:`Envelope` around everything, FastAPI's own handling
    (telemetry, error pages, body limits) included, and ``fast_path`` (if set) between
    the two: a request the fast path answers costs its own work and the envelope's."""

    fast_path: Callable[[ASGIApp], ASGIApp] | None = None
    _outer: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._outer is None:
            inner = super().__call__
            self._outer = Envelope(inner if self.fast_path is None else self.fast_path(inner))
        await self._outer(scope, receive, send)


def _too_large(error: str, message: str) -> bytes:
    return json.dumps({"error": error, "message": message, "problems": []}).encode()


_TOO_LARGE: Final = _too_large("InvalidInputError", f"request body over {MAX_BODY_BYTES} bytes")
#: Paths whose bodies may be larger than :data:`MAX_BODY_BYTES`: the limit and the 413.
_LARGER_BODIES: Final = {
    path: (
        PUBLIC_BODY_BYTES,
        _too_large(
            "TooLargeError",
            f"request body over {PUBLIC_BODY_BYTES} bytes: a document may be at most 10 MiB",
        ),
    )
    for path in PUBLIC_UPLOAD_PATHS
}
_HEADERS: Final = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
#: Request log lines are written together: at most this many ...
LOG_BATCH: Final = 256
#: ... at most this many seconds after the request.
LOG_FLUSH_SECONDS: Final = 0.1


class Envelope:
    """Around every request: a request id, the body-size limit, security headers and one
    JSON log line (also when the request failed: status 500), written in batches
    (:class:`_RequestLog`). Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``,
    which would cost more per call than deciding does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = _RequestLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._flushing(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1") or os.urandom(16).hex()
        extra = [*_HEADERS, (b"x-request-id", request_id.encode("latin-1"))]
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        length = headers.get(b"content-length")
        limit, too_large = _LARGER_BODIES.get(scope["path"], (MAX_BODY_BYTES, _TOO_LARGE))
        try:
            if length is not None and (not length.isdigit() or int(length) > limit):
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send_with_headers({"type": "http.response.body", "body": too_large})
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            if log.isEnabledFor(logging.INFO):
                principal = scope.get("state", {}).get("principal")
                self.requests.add(
                    _log_line(
                        {
                            "request_id": request_id,
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 3),
                            "principal": principal.name if principal is not None else None,
                        }
                    )
                )

    def _flushing(self, send: Send) -> Send:
        """``send`` for the lifespan: the lines still held are written before shutdown."""

        async def send_flushed(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown."):
                self.requests.flush()
            await send(message)

        return send_flushed


class _RequestLog:
    """The request log: lines held and written to ``log`` (INFO) together, up to
    :data:`LOG_BATCH` lines at most :data:`LOG_FLUSH_SECONDS` late — as nginx's
    ``access_log … buffer= flush=`` does. A log record (and a write) per request would
    cost as much as the request itself at gateway rates."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= LOG_BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(LOG_FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lines:
            lines, self._lines = self._lines, []
            log.info("\n".join(lines))


def _log_line(fields: dict[str, object]) -> str:
    try:
        return orjson.dumps(fields).decode()
    except TypeError:  # text orjson refuses (a lone surrogate): the slower, laxer encoder
        return json.dumps(fields)
