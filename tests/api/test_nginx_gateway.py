"""A real gateway: Debian's nginx running the shipped ``deploy/nginx`` example on loopback,
checking each call with ``brightline serve`` through auth_request, in front of a small
upstream. A denied call gets 403 with the customer notice and never reaches the upstream;
an allowed one does; whatever cannot be checked is refused, never forwarded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway_rig import CONTACT, NOT_CHECKED, NOTICE, Gateway, gateway, nginx_binary
from gateway_rig import call as _call
from gateway_rig import reached as _reached

pytestmark = pytest.mark.skipif(
    nginx_binary() is None,
    reason="nginx is not installed: `make test-deps` (scripts/test-deps) installs Debian's",
)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with gateway(tmp_path_factory.mktemp("gateway"), appeal_contact=CONTACT) as running:
        yield running


def test_a_denied_call_gets_403_with_the_customer_notice_and_never_reaches_the_upstream(
    rig: Gateway,
) -> None:
    response, path = _call(rig, "PUT", "sub-9900-archive", content=b"intercepts")
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == NOTICE
    assert not _reached(rig, path)
    # The same words as Brightline's own API gives its callers.
    with httpx.Client(base_url=rig.brightline, timeout=10) as http:
        api = http.post(
            "/v1/decisions",
            json={
                "node": "sub-9900-archive",
                "service": "storage.blob",
                "operation": "write",
                "region": "westeurope",
            },
            headers={"x-api-key": rig.point_key},
        ).json()
    assert {"effect": "deny", **api["customer_notice"]} == response.json()
    # The staff's explanation names the case; the customer's answer does not.
    assert "C-0001" in api["explanation"]
    assert "C-0001" not in response.text


@pytest.mark.parametrize(
    ("method", "node", "region"),
    [
        ("GET", "sub-hq-mail", "westeurope"),  # another customer
        ("PUT", "sub-9900-rescue", "westeurope"),  # exempt from r-0001
        ("PUT", "sub-9900-archive", "eastus"),  # a region r-0001 does not list
        ("DELETE", "sub-hq-mail", "northeurope"),
    ],
)
def test_an_allowed_call_reaches_the_upstream(
    rig: Gateway, method: str, node: str, region: str
) -> None:
    response, path = _call(rig, method, node, region)
    assert response.status_code == 200, response.text
    assert response.json() == {"upstream": True, "method": method, "path": path}
    assert _reached(rig, path)


def test_the_callers_own_brightline_headers_are_not_heard(rig: Gateway) -> None:
    forged = {
        "X-Brightline-Node": "sub-hq-mail",
        "X-Brightline-Region": "eastus",
        "X-Brightline-Operation": "read",
        "X-API-Key": "bl_forged",
    }
    response, path = _call(rig, "PUT", "sub-9900-archive", headers=forged)
    assert response.status_code == 403, response.text
    assert response.json()["restrictions"] == ["r-0001"]
    assert not _reached(rig, path)


@pytest.mark.parametrize(
    ("node", "region"),
    [
        ("sub-unknown", "westeurope"),  # a node the world does not hold
        ("sub-hq-mail", "moon"),  # an unknown region
    ],
)
def test_what_cannot_be_checked_is_refused_never_forwarded(
    rig: Gateway, node: str, region: str
) -> None:
    response, path = _call(rig, "GET", node, region)
    assert response.status_code == 503, response.text
    assert response.json() == NOT_CHECKED
    assert not _reached(rig, path)


def test_a_host_outside_the_routing_is_refused(rig: Gateway) -> None:
    # No subscription in the host name: the node header is missing, Brightline says so.
    with httpx.Client(base_url=rig.url, timeout=10) as http:
        response = http.get("/containers/c1/x", headers={"host": "example.net"})
    assert response.status_code == 503, response.text
    assert json.loads(response.text) == NOT_CHECKED


def test_a_key_brightline_refuses_means_nothing_is_forwarded(tmp_path: Path) -> None:
    # Brightline answers 403 without a notice (the key may not request decisions): not a
    # denial to word for the customer, and no allow either.
    with gateway(tmp_path, appeal_contact=CONTACT, role="external-reviewer") as refused:
        for node in ("sub-hq-mail", "sub-9900-archive"):
            response, path = _call(refused, "GET", node)
            assert response.status_code == 503, response.text
            assert response.json() == NOT_CHECKED
            assert not _reached(refused, path)
