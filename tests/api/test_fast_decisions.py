"""The fast path of ``POST /v1/decisions`` gives the FastAPI route's answers: the same
status, body and headers for any body, credential and content type, two real servers
on one store side by side (one with the fast path, one without)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, free_port
from brightline.access import Role
from brightline.config import Settings
from brightline.policy import RESTRICTIONS_FILE
from brightline.server import create_app
from brightline.service.ledger import LedgerKeys, ensure_key
from brightline.service.restrictions import bootstrap_restrictions
from brightline.service.worlds import import_world
from brightline.store import open_store

NODES = ["sub-9900-archive", "sub-9900-rescue", "sub-hq-mail", "unit-9900", "ghost", "", "n" * 129]
SERVICES = ["storage.blob", "ai.speech", "ai.vision", "nope", ""]
OPERATIONS = ["write", "read", "transcribe", "fly", ""]
REGIONS = ["westeurope", "eastus", "mars", ""]
TIMES = [
    "2026-06-01T00:00:00Z",
    "2025-01-01T12:30:00+02:00",
    "2026-06-01T00:00:00",  # no zone: refused
    "2026-06-01 00:00:00Z",
    "2026-06-01",
    "noon",
    "",
]
#: Requests denied (r-0001 from 2025-09-25), reported as would-deny (r-0002, dry run),
#: exempt (sub-9900-rescue) and allowed, in the example world.
SCENARIOS = [
    {"node": n, "service": s, "operation": o, "region": "westeurope"}
    for n, s, o in [
        ("sub-9900-archive", "storage.blob", "write"),
        ("sub-9900-transcribe", "ai.vision", "analyze"),
        ("sub-9900-rescue", "storage.blob", "read"),
        ("sub-hq-mail", "storage.blob", "write"),
    ]
]
#: The decision time in an explanation: "now" differs between two calls.
_AT = re.compile(r" at \d{4}-\d\d-\d\dT[\d:.]+Z")


@dataclass
class Pair:
    fast: str
    route: str
    keys: dict[str, str]


def _start(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    yield from pair_of_servers(tmp_path_factory.mktemp("fast"))


def pair_of_servers(tmp: Path) -> Iterator[Pair]:
    """Two servers on one store of the example world, with the fast paths and without."""
    config = Settings(data_dir=tmp / "data", admin_rate_per_minute=100_000)
    ensure_key(config)
    with open_store(f"sqlite:///{tmp / 'api.db'}") as store:
        keys = provision(
            store, config, {"ep": [Role.ENFORCEMENT_POINT], "rev": [Role.EXTERNAL_REVIEWER]}
        )
        admin = principal_of(store, config, keys[ROOT])
        import_world(store, EXAMPLE, actor=admin)
        bootstrap_restrictions(store, EXAMPLE / RESTRICTIONS_FILE, actor=admin)
        signer = LedgerKeys.of(config).signer()
        assert signer is not None
        started = [
            _start(create_app(config, store, signer, fast_decisions=fast)) for fast in (True, False)
        ]
        try:
            yield Pair(started[0][2], started[1][2], keys)
        finally:
            for server, thread, _ in started:
                server.should_exit = True
                thread.join(timeout=15)


def _names() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(NODES + SERVICES + OPERATIONS + REGIONS),
        st.text(max_size=5),
        st.integers(-(2**40), 2**40),
        st.none(),
        st.lists(st.text(max_size=2), max_size=2),
    )


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Mostly well-formed requests, some with a wrong field, some not JSON at all."""
    kind = draw(st.sampled_from(["request", "request", "request", "odd", "raw"]))
    if kind == "raw":
        return draw(
            st.sampled_from(
                [b"", b"{", b"[]", b"null", b'"x"', b"{}", b'{"node": NaN}', b"\xff\xfe"]
            )
        )
    body = dict(draw(st.sampled_from(SCENARIOS)))
    for name, values in [
        ("node", NODES),
        ("service", SERVICES),
        ("operation", OPERATIONS),
        ("region", REGIONS),
    ]:
        if draw(st.integers(0, 3)) == 0:
            body[name] = draw(st.sampled_from(values))
    timed = draw(st.integers(0, 5))  # half without a time, a third with a text one
    if timed >= 3:
        body["time"] = (
            draw(st.sampled_from(TIMES))
            if timed < 5
            else draw(st.none() | st.integers(-(2**40), 2**40))
        )
    if kind == "odd":
        field = draw(st.sampled_from([*body, "extra"]))
        if draw(st.booleans()):
            body.pop(field, None)
        else:
            body[field] = draw(_names())
    return orjson.dumps(body)


def _same(fast: httpx.Response, route: httpx.Response, *, at_now: bool) -> None:
    assert fast.status_code == route.status_code, (fast.text, route.text)
    for header in ("content-type", "www-authenticate", "x-content-type-options"):
        assert fast.headers.get(header) == route.headers.get(header), header
    assert fast.headers["x-request-id"] == route.headers["x-request-id"] == "same-id"
    answer, expected = fast.json(), route.json()
    if fast.status_code == 200 and at_now:
        answer["explanation"] = _AT.sub(" at T", answer["explanation"])
        expected["explanation"] = _AT.sub(" at T", expected["explanation"])
    assert answer == expected


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=bodies(),
    who=st.sampled_from(["ep", "ep", "ep", "rev", "unknown", None]),
    as_api_key=st.booleans(),
    content_type=st.sampled_from(
        ["application/json", "application/json", "application/json; charset=utf-8", None]
    ),
)
def test_the_fast_path_answers_as_the_route_does(
    pair: Pair, body: bytes, who: str | None, as_api_key: bool, content_type: str | None
) -> None:
    headers = {"x-request-id": "same-id"}
    if content_type is not None:
        headers["content-type"] = content_type
    if who is not None:
        key = pair.keys.get(who, "bl_unknown_key")
        headers.update({"x-api-key": key} if as_api_key else {"authorization": f"Bearer {key}"})
    with httpx.Client(timeout=30) as http:
        fast = http.post(f"{pair.fast}/v1/decisions", content=body, headers=headers)
        route = http.post(f"{pair.route}/v1/decisions", content=body, headers=headers)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    _same(fast, route, at_now=not isinstance(parsed, dict) or parsed.get("time") is None)


def _fallbacks(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    found = re.search(r"^brightline_decision_fallbacks_total (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def test_a_known_credential_s_well_formed_request_takes_the_fast_path(pair: Pair) -> None:
    headers = {"authorization": f"Bearer {pair.keys['ep']}"}
    deny = {
        "node": "sub-9900-archive",
        "service": "storage.blob",
        "operation": "write",
        "region": "westeurope",
    }
    with httpx.Client(base_url=pair.fast, headers=headers, timeout=30) as http:
        http.post("/v1/decisions", json=deny)  # the credential is checked once
        before = _fallbacks(pair.fast)
        answer = http.post("/v1/decisions", json=deny).json()
        assert _fallbacks(pair.fast) == before
        assert answer["effect"] == "deny"
        assert answer["restrictions"] == ["r-0001"]
        refused = http.post("/v1/decisions", json={**deny, "region": "mars"})
        assert refused.status_code == 422
        assert "unknown region 'mars'" in refused.json()["message"]
        assert _fallbacks(pair.fast) == before + 1


def test_the_route_still_documents_the_schema(pair: Pair) -> None:
    schema = httpx.get(f"{pair.fast}/openapi.json").json()
    operation = schema["paths"]["/v1/decisions"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/DecisionIn"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/DecisionOut"}
    fields = schema["components"]["schemas"]["DecisionIn"]["properties"]
    assert set(fields) == {"node", "service", "operation", "region", "time"}
