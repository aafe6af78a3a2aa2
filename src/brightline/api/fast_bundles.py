"""``GET /v1/bundles/current`` for the enforcement points' long polls, in plain ASGI.

When a new bundle comes into force every long-polling enforcement point is answered at
once and asks again at once: a hundred points are two hundred requests in a moment, and
FastAPI's per-request work (routing through every route, resolving dependencies,
validating the query) costs more than the answer, which is bytes made once per bundle
(:meth:`~brightline.service.bundles.ServedBundle.encoded`). :class:`FastBundles` sits in
front of the route and answers a request itself only when the route would take it as
is:

- ``GET`` from a credential already checked (:meth:`Authenticator.known`) whose
  principal may read bundles;
- a query of at most ``wait`` (decimal seconds, 0–300) and ``ledger_size`` (decimal
  digits), each at most once.

Everything else — a missing or new credential, a refusal, any other query — goes to the
FastAPI route (:func:`~brightline.api.decisions.current_bundle`), which authenticates,
validates and refuses as it always did; so does a request whose answer raises (no bundle
yet, a consistency proof the database does not give), which the route then answers
without waiting again, the bundle held being no longer current. Both paths answer
through :func:`~brightline.api.decisions.bundle_response`, and OpenAPI documents the
route.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from brightline.access import Action, may
from brightline.api.auth import token_of
from brightline.api.decisions import bundle_response
from brightline.errors import BrightlineError
from brightline.server.state import AppState

PATH: Final = "/v1/bundles/current"
MAX_WAIT: Final = 300  # the route's Query(le=300)
_SECONDS: Final = re.compile(rb"[0-9]{1,3}(?:\.[0-9]{1,6})?")
_SIZE: Final = re.compile(rb"[0-9]{1,18}")


class FastBundles:
    """ASGI middleware answering the enforcement points' ``GET /v1/bundles/current``
    (module docstring)."""

    def __init__(self, app: ASGIApp, *, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "GET"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        asked = self._asked(scope)
        if asked is None:
            await self.app(scope, receive, send)
            return
        held, wait, ledger_size = asked
        try:
            response = await bundle_response(self.state, held, wait, ledger_size)
        except BrightlineError:  # the route raises it again, and maps it
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    def _asked(self, scope: Scope) -> tuple[str, float, int | None] | None:
        """The bundle held, the wait and the ledger size asked for, or None if the route
        must answer."""
        api_key = authorization = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
        token = token_of(api_key, authorization)
        principal = self.state.authenticator.known(token) if token is not None else None
        if principal is None or not may(principal.roles, Action.READ_BUNDLE):
            return None
        query = _query(scope.get("query_string", b""))
        if query is None:
            return None
        scope.setdefault("state", {})["principal"] = principal  # for the log line
        held = (if_none_match or "").strip().strip('"')
        return held, *query


def _query(raw: bytes) -> tuple[float, int | None] | None:
    """``wait`` and ``ledger_size`` from a query the route takes as is, else None."""
    wait: float | None = None
    size: int | None = None
    for part in raw.split(b"&") if raw else ():
        name, sep, value = part.partition(b"=")
        if name == b"wait" and sep and wait is None and _SECONDS.fullmatch(value):
            wait = float(value)
            if wait > MAX_WAIT:
                return None
        elif name == b"ledger_size" and sep and size is None and _SIZE.fullmatch(value):
            size = int(value)
        else:
            return None
    return (0.0 if wait is None else wait), size
