"""The fast path of ``GET /v1/bundles/current`` gives the FastAPI route's answers: the
same status, body and headers for any query, credential and bundle held, two real
servers on one store side by side (one with the fast paths, one without)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.test_fast_decisions import Pair, pair_of_servers

WAITS = ["0", "0.05", "0.1", "300", "301", "-1", "1e2", "abc", "", "0.0000001", "1234"]
SIZES = ["0", "1", "2", "3", "99999", "-1", "x", "", "1.5", "0x1"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    yield from pair_of_servers(tmp_path_factory.mktemp("fast-bundles"))


def _version(url: str, key: str) -> str:
    answer = httpx.get(f"{url}/v1/bundles/current", headers={"x-api-key": key}, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["payload"]["version"])


def _current(response: httpx.Response) -> str | None:
    """The freshness note's version and serial (each server signs its own time)."""
    header = response.headers.get("x-brightline-current")
    if header is None:
        return None
    return "\n".join(base64.b64decode(header).decode().split("\n")[1:3])


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


@st.composite
def queries(draw: st.DrawFn) -> list[tuple[str, str]]:
    names = draw(
        st.lists(st.sampled_from(["wait", "ledger_size", "wait", "ledger_size", "x"]), max_size=3)
    )
    return [(n, draw(st.sampled_from(WAITS if n == "wait" else SIZES))) for n in names]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=queries(),
    who=st.sampled_from(["ep", "ep", "ep", "rev", "unknown", None]),
    as_api_key=st.booleans(),
    held=st.sampled_from(["current", "current", "other", "blank", None]),
)
def test_the_fast_path_answers_as_the_route_does(
    pair: Pair, query: list[tuple[str, str]], who: str | None, as_api_key: bool, held: str | None
) -> None:
    if held == "current" and any(n == "wait" and _seconds(v) > 0.2 for n, v in query):
        held = "other"  # a long poll nothing ends: answered at once instead
    headers = {"x-request-id": "same-id"}
    if who is not None:
        key = pair.keys.get(who, "bl_unknown_key")
        headers.update({"x-api-key": key} if as_api_key else {"authorization": f"Bearer {key}"})
    if held is not None:
        version = {"current": _version(pair.fast, pair.keys["ep"]), "other": "v0", "blank": ""}
        headers["if-none-match"] = f'"{version[held]}"'
    with httpx.Client(timeout=30) as http:
        fast = http.get(f"{pair.fast}/v1/bundles/current", params=query, headers=headers)
        route = http.get(f"{pair.route}/v1/bundles/current", params=query, headers=headers)
    assert fast.status_code == route.status_code, (query, fast.text, route.text)
    for header in (
        "content-type",
        "www-authenticate",
        "etag",
        "x-brightline-serial",
        "x-content-type-options",
    ):
        assert fast.headers.get(header) == route.headers.get(header), header
    assert fast.headers["x-request-id"] == route.headers["x-request-id"] == "same-id"
    assert _current(fast) == _current(route)
    assert fast.content == route.content or fast.json() == route.json()


def test_a_long_poll_on_the_fast_path_waits_its_time(pair: Pair) -> None:
    key = pair.keys["ep"]
    version = _version(pair.fast, key)
    started = time.monotonic()
    answer = httpx.get(
        f"{pair.fast}/v1/bundles/current",
        params={"wait": "0.3"},
        headers={"x-api-key": key, "if-none-match": f'"{version}"'},
        timeout=30,
    )
    assert answer.status_code == 304
    assert answer.headers["etag"] == f'"{version}"'
    assert time.monotonic() - started >= 0.3
