"""The check endpoint for gateways that cannot embed the client: nginx ``auth_request`` and
Envoy's HTTP ``ext_authz`` (configurations in ``deploy/``, docs/api.md).

The gateway derives the request's attributes from its own routing and sends them as
headers (:data:`HEADERS`), with an enforcement point's API key in ``X-API-Key``. The
endpoint answers every method under ``/v1/gateway/check`` (Envoy appends the original
path to its ``path_prefix`` and keeps the original method; the shipped nginx
configuration sends a HEAD, so that its connections stay open)
and ignores the path, the query and every other header: what is decided comes from the
four headers only, so a customer's own headers cannot reach the decision unless the
gateway forwards them under those names (both configurations overwrite them).

It decides with the same :meth:`~brightline.policy.Snapshot.decide` and the same snapshot
as ``POST /v1/decisions``, and answers:

- **200** allow, with ``X-Brightline-Decision: allow``;
- **403** deny, with the customer notice (:mod:`brightline.policy.notice`) as the JSON
  body and, for nginx (whose ``auth_request`` drops the body), the same JSON in the
  ``X-Brightline-Notice`` header;
- the API's usual errors otherwise, marked ``X-Brightline-Decision: not-checked``: 422
  for a missing header or an unknown node, service, operation or region — never an
  allow — and 401/403 for the key. Both shipped configurations answer the caller with
  their own 503 JSON instead (fail closed, and no internal wording reaches the customer):
  nginx turns them into a 500 (a 401 stays a 401), Envoy's Lua filter reads the mark.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, Request, Response

from brightline.access import Action, Principal
from brightline.api.auth import require
from brightline.errors import InvalidInputError, Problem
from brightline.policy import Request as DecisionRequest

router = APIRouter(prefix="/v1/gateway", tags=["gateway"])
#: The gate of ``POST /v1/decisions``: an enforcement point's key, known ones from memory.
Decider = Annotated[Principal, Depends(require(Action.REQUEST_DECISION, limited=False, hot=True))]

#: The headers the gateway sets, by the request attribute each one carries.
HEADERS: Final = {
    "node": "X-Brightline-Node",
    "service": "X-Brightline-Service",
    "operation": "X-Brightline-Operation",
    "region": "X-Brightline-Region",
}
DECISION_HEADER: Final = "x-brightline-decision"
NOTICE_HEADER: Final = "x-brightline-notice"
#: On every error answer of the check (the server's error handler adds it).
NOT_CHECKED: Final = {DECISION_HEADER: "not-checked"}
#: Envoy keeps the caller's method; all of them are answered alike.
METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: Shown in the OpenAPI document; the others behave the same.
DOCUMENTED: Final = ("GET", "POST")

_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "Allowed: the gateway forwards the request"},
    403: {
        "description": "Denied (the body is the customer notice; the same JSON is in "
        "X-Brightline-Notice), or the key may not request decisions"
    },
}


def _parameters(*, with_path: bool) -> list[dict[str, object]]:
    """The headers (read from the request, so that a missing one is named in the
    gateway's words) and the path, for the OpenAPI document."""
    headers: list[dict[str, object]] = [
        {
            "name": header,
            "in": "header",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128},
            "description": f"the request's {name}, set by the gateway",
        }
        for name, header in HEADERS.items()
    ]
    path: list[dict[str, object]] = [
        {
            "name": "path",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "the original request's path (Envoy's path_prefix); ignored",
        }
    ]
    return [*headers, *(path if with_path else [])]


async def check(request: Request, _: Decider) -> Response:
    """Decide the request whose attributes the gateway sends as headers: 200 allows,
    403 denies with the customer notice; errors are never an allow."""
    headers = request.headers
    given = {name: headers.get(header, "") for name, header in HEADERS.items()}
    problems = [
        Problem(HEADERS[name], "missing or empty: the gateway sets it from its routing")
        for name, value in given.items()
        if not value
    ]
    if problems:
        raise InvalidInputError(problems)
    state = request.app.state.brightline
    snapshot = state.keeper.current.snapshot
    started = time.perf_counter()
    decision = snapshot.decide(
        DecisionRequest(
            given["node"], given["service"], given["operation"], given["region"], datetime.now(UTC)
        )
    )
    state.metrics.latency.observe(time.perf_counter() - started)
    state.metrics.decisions.labels(effect=decision.effect.value).inc()
    notice = decision.customer_notice()
    if notice is None:
        return Response(
            orjson.dumps({"effect": "allow", "version": decision.version}),
            media_type="application/json",
            headers={DECISION_HEADER: "allow"},
        )
    document = {"effect": "deny", **notice.to_json()}
    return Response(
        orjson.dumps(document),
        status_code=403,
        media_type="application/json",
        # A header value must be one line of ASCII: the same JSON, escaped.
        headers={DECISION_HEADER: "deny", NOTICE_HEADER: json.dumps(document)},
    )


for _path in ("/check", "/check/{path:path}"):
    for _method in METHODS:
        router.add_api_route(
            _path,
            check,
            methods=[_method],
            name=f"gateway_check{'_path' if '{' in _path else ''}_{_method.lower()}",
            summary="Check a request for a gateway (nginx auth_request, Envoy ext_authz)",
            responses=_RESPONSES,
            include_in_schema=_method in DOCUMENTED and "{" in _path,
            openapi_extra={"parameters": _parameters(with_path="{" in _path)},
        )
