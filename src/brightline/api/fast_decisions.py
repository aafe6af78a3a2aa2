"""``POST /v1/decisions`` at gateway speed: the common request answered in plain ASGI.

An enforcement point that cannot embed :mod:`brightline.enforcement` calls this route
once per API call of its own, so FastAPI's per-request work (routing through every
route, dependency resolution, a pydantic model in and out, the JSON encoder) would cost
several times what deciding does. :class:`FastDecisions` sits in front of the route and
answers a request itself only when it is sure to give the route's own answer:

- ``POST`` with a JSON content type and a body of at most :data:`MAX_FAST_BODY` bytes,
  a flat JSON object of the four names as strings of 1–128 characters and, optionally,
  ``time`` (null, or a string the route's ``AwareDatetime`` accepts);
- a credential already checked (:meth:`Authenticator.known`) whose principal may
  request decisions;
- a request the bundle in force decides without error.

Everything else — a missing or new credential, a refusal, malformed or unusual JSON, an
unknown name — is handed, body and all, to the FastAPI route (:func:`decide_one`),
which authenticates, validates and refuses exactly as it always did: error bodies and
status codes have one source. Both paths decide and count through
:func:`~brightline.api.decisions.decide_answer`, and OpenAPI documents the route.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import orjson
from pydantic import AwareDatetime, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brightline.access import Action, may
from brightline.api.auth import token_of
from brightline.api.decisions import decide_answer
from brightline.errors import BrightlineError
from brightline.policy import Request as DecisionRequest
from brightline.server.state import AppState

PATH: Final = "/v1/decisions"
#: Larger bodies (whitespace, escapes) go to the route: a fast one is under 1 KiB.
MAX_FAST_BODY: Final = 16 * 1024
_NAMES: Final = ("node", "service", "operation", "region")
_FIELDS: Final = frozenset({*_NAMES, "time"})
_MAX_NAME: Final = 128  # DecisionIn's max_length
_TIME: Final = TypeAdapter(AwareDatetime)
_JSON_HEADERS: Final = [(b"content-type", b"application/json")]


class FastDecisions:
    """ASGI middleware answering the common ``POST /v1/decisions`` (module docstring);
    the requests it hands to the route are counted (``brightline_decision_fallbacks``)."""

    def __init__(self, app: ASGIApp, *, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return
        messages = [message]
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if more:  # a body in several pieces: read on, up to the limit
            size = len(body)
            while more and size <= MAX_FAST_BODY:
                message = await receive()
                if message["type"] != "http.request":
                    return
                messages.append(message)
                size += len(message.get("body", b""))
                more = bool(message.get("more_body", False))
            body = b"".join(m.get("body", b"") for m in messages)
        answer = None if more or len(body) > MAX_FAST_BODY else self._answer(scope, body)
        if answer is None:
            self.state.metrics.decision_fallbacks.inc()
            await self.app(scope, _replay(messages, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode()), *_JSON_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    def _answer(self, scope: Scope, body: bytes) -> bytes | None:
        """The route's answer to this request, or None if the route must give it."""
        api_key = authorization = content_type = None
        for name, value in scope["headers"]:
            if name == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value
        if content_type is None or not _is_json(content_type):
            return None
        token = token_of(api_key, authorization)
        state = self.state
        principal = state.authenticator.known(token) if token is not None else None
        if principal is None or not may(principal.roles, Action.REQUEST_DECISION):
            return None
        scope.setdefault("state", {})["principal"] = principal  # for the log line
        request = _request(body)
        if request is None:
            return None
        try:
            return orjson.dumps(decide_answer(state, request))
        except BrightlineError:  # the route raises it again, and maps it
            return None


def _request(body: bytes) -> DecisionRequest | None:
    """The request in ``body`` if it is one DecisionIn accepts as is, else None."""
    try:
        fields = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(fields) is not dict or not _FIELDS.issuperset(fields):
        return None
    names = []
    for name in _NAMES:
        value = fields.get(name)
        if type(value) is not str or not 0 < len(value) <= _MAX_NAME:
            return None
        names.append(value)
    raw = fields.get("time")
    if raw is None:
        at = datetime.now(UTC)
    elif type(raw) is str:
        try:
            at = _TIME.validate_python(raw).astimezone(UTC)
        except ValidationError:
            return None
    else:
        return None
    node, service, operation, region = names
    return DecisionRequest(node, service, operation, region, at)


def _is_json(content_type: bytes) -> bool:
    """``application/json``, with parameters or none (FastAPI reads it as JSON too)."""
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that gives the messages already read first, then the rest."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
