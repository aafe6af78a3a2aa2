"""JSON request bodies held to a size and a nesting depth before any route parses them.

FastAPI parses a JSON body with ``json.loads``, which recurses once per level: 20,000
``[`` end in a RecursionError that FastAPI answers with a bare 400, and a route that
parses its own body would answer 500. This middleware reads a JSON body (the route
would read it whole anyway), refuses it with 413 over the size limit or 422 past
:data:`~brightline.limits.MAX_DEPTH`, and otherwise hands the same bytes on.
"""

from __future__ import annotations

import json
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brightline.errors import InvalidInputError, Problem
from brightline.limits import check_json

#: Where a problem with the body itself is located, as FastAPI names it.
BODY: Final = "body"


class JsonBodyBounds:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                problem = Problem(BODY, f"request body over {self.max_bytes} bytes")
                await _refuse(send, 413, InvalidInputError(problem))
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        try:
            check_json(body, where=BODY, max_bytes=self.max_bytes)
        except InvalidInputError as error:
            await _refuse(send, 422, error)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:  # later calls wait for the disconnect, as usual
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse the body as JSON: ``application/json`` or ``…+json``."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return False


async def _refuse(send: Send, status: int, error: InvalidInputError) -> None:
    body = {
        "error": "InvalidInputError",
        "message": str(error),
        "problems": [{"where": p.where, "message": p.message} for p in error.problems],
    }
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
