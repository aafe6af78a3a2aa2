"""The witness's HTTP interface (C2SP tlog-witness): ``POST /add-checkpoint`` and nothing
else, over a :class:`~brightline.service.witness.Witness`. Its submission prefix and
monitoring prefix are the server's root."""

from __future__ import annotations

import json
import logging
from typing import Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from brightline.errors import BrightlineError
from brightline.service.witness import Witness

log = logging.getLogger("brightline.witness")

#: 63 proof lines and a checkpoint with up to 100 signatures fit well below this.
MAX_BODY_BYTES: Final = 64 * 1024


def witness_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return PlainTextResponse("request too large\n", status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("request too large\n", status_code=413)
        try:
            # File I/O, a lock and a signature: off the event loop.
            answer = await run_in_threadpool(witness.add_checkpoint, body)
        except BrightlineError as exc:
            log.error(json.dumps({"event": "witness-failed", "error": str(exc)}))
            return PlainTextResponse("the witness cannot record its state\n", status_code=503)
        # Set as is: text/x.tlog.size must not gain a charset parameter.
        headers = {"content-type": answer.content_type}
        return Response(answer.body, status_code=answer.status, headers=headers)

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])
