"""The gateway check endpoint (nginx auth_request, Envoy ext_authz) over real HTTP, and the
customer notice: the same words through the API, the check endpoint and the enforcement
client, and nothing of the internal reason anywhere they or the bundle reach."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.conftest import Live, _serve
from api.test_bundles_client import make_client
from brightline.access import Role
from brightline.policy import Request

CONTACT = "appeals@provider.example"
SECRET = "intercepts for unit 8200 per informant K"
PROPOSAL = (
    "id: r-gw\nscope: unit-9900\nactions: ['storage.*:*']\nregions: [westeurope]\n"
    f"reason: {{policy: mass-surveillance, note: '{SECRET}'}}\n"
)
DENIED = {"node": "sub-9900-archive", "service": "storage.blob", "operation": "write"}
DENIED_CALL = {**DENIED, "region": "westeurope"}
ALLOWED_CALL = {**DENIED_CALL, "region": "northeurope"}
HEADERS = {
    "node": "X-Brightline-Node",
    "service": "X-Brightline-Service",
    "operation": "X-Brightline-Operation",
    "region": "X-Brightline-Region",
}
NOTICE = {
    "message": "Refused under the provider's acceptable-use restriction r-gw (Mass "
    f"surveillance of civilians). To appeal, contact {CONTACT} and quote r-gw.",
    "restrictions": ["r-gw"],
    "policies": ["Mass surveillance of civilians"],
    "appeal_contact": CONTACT,
}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """A server whose deployment names an appeal contact, with ``r-gw`` in force."""
    for served in _serve(tmp_path, f"sqlite:///{tmp_path / 'api.db'}", appeal_contact=CONTACT):
        alice = served.key_for("alice", Role.INVESTIGATOR)
        bob = served.key_for("bob", Role.APPROVER)
        with served.client() as http:
            r = http.post(
                "/v1/restrictions",
                json={"restrictions": PROPOSAL},
                headers={"authorization": f"Bearer {alice}"},
            )
            assert r.status_code == 200, r.text
            r = http.post(
                "/v1/restrictions/r-gw/approve", headers={"authorization": f"Bearer {bob}"}
            )
            assert r.status_code == 200, r.text
        yield served


def _gateway(live: Live, call: dict[str, str]) -> dict[str, str]:
    return {"x-api-key": live.keys["enforcement-point"]} | {
        HEADERS[name]: value for name, value in call.items()
    }


def test_the_notice_is_the_same_through_the_api_the_gateway_and_the_client(
    live: Live, tmp_path: Path
) -> None:
    with live.client("enforcement-point") as http:
        api = http.post("/v1/decisions", json=DENIED_CALL).json()
        bundle = http.get("/v1/bundles/current").text
    with live.client() as http:
        gateway = http.get("/v1/gateway/check", headers=_gateway(live, DENIED_CALL))
    with make_client(live, tmp_path) as client:
        client.refresh()
        decided = client.decide(Request(**DENIED_CALL, at=datetime.now(UTC)))
    assert decided.matched == ("r-gw",)
    notice = decided.customer_notice()
    assert notice is not None
    assert api["customer_notice"] == NOTICE
    assert gateway.status_code == 403
    assert gateway.json() == {"effect": "deny", **NOTICE}
    assert json.loads(gateway.headers["x-brightline-notice"]) == gateway.json()
    assert notice.to_json() == NOTICE
    # The staff's explanation names the internal reason; the bundle, the notice and the
    # gateway's answer never do.
    assert SECRET in api["explanation"]
    shown = (bundle, gateway.text, gateway.headers["x-brightline-notice"], notice.message)
    for text in shown:
        assert SECRET not in text
    (carried,) = json.loads(bundle)["payload"]["snapshot"]["restrictions"]
    assert carried["reason"] == {"policy": "mass-surveillance"}


def test_an_allowed_call_is_200_without_a_notice(live: Live) -> None:
    with live.client("enforcement-point") as http:
        api = http.post("/v1/decisions", json=ALLOWED_CALL).json()
    with live.client() as http:
        gateway = http.get("/v1/gateway/check", headers=_gateway(live, ALLOWED_CALL))
    assert api["effect"] == "allow"
    assert api["customer_notice"] is None
    assert gateway.status_code == 200, gateway.text
    assert gateway.headers["x-brightline-decision"] == "allow"
    assert gateway.json() == {"effect": "allow", "version": api["version"]}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_envoy_checks_keep_the_method_and_the_path_under_the_prefix(
    live: Live, method: str
) -> None:
    with live.client() as http:
        denied = http.request(
            method,
            "/v1/gateway/check/storage/v1/blobs/a%20b?versions=all",
            headers=_gateway(live, DENIED_CALL),
        )
        allowed = http.request(
            method, "/v1/gateway/check/storage/v1/blobs", headers=_gateway(live, ALLOWED_CALL)
        )
    assert denied.status_code == 403, denied.text
    assert denied.json()["restrictions"] == ["r-gw"]
    assert allowed.status_code == 200, allowed.text


def test_missing_headers_are_named_and_never_allowed(live: Live) -> None:
    partial = {"node": DENIED_CALL["node"], "service": "storage.blob"}
    with live.client() as http:
        r = http.get("/v1/gateway/check", headers=_gateway(live, partial))
    assert r.status_code == 422, r.text
    assert {p["where"] for p in r.json()["problems"]} == {
        "X-Brightline-Operation",
        "X-Brightline-Region",
    }


@pytest.mark.parametrize("name", ["node", "service", "operation", "region"])
def test_an_unknown_attribute_is_an_error_never_an_allow(live: Live, name: str) -> None:
    with live.client() as http:
        r = http.get("/v1/gateway/check", headers=_gateway(live, {**ALLOWED_CALL, name: "nope"}))
    assert r.status_code == 422, r.text
    assert [p["where"] for p in r.json()["problems"]] == [name]
    assert r.headers["x-brightline-decision"] == "not-checked"


def test_the_check_needs_a_key_that_may_request_decisions(live: Live) -> None:
    call = {HEADERS[name]: value for name, value in ALLOWED_CALL.items()}
    with live.client() as http:
        anonymous = http.get("/v1/gateway/check", headers=call)
        # A customer's own bearer token, forwarded by Envoy, is no credential here.
        forwarded = http.get(
            "/v1/gateway/check", headers={**call, "authorization": "Bearer customer-token"}
        )
        reviewer = http.get(
            "/v1/gateway/check", headers={**call, "x-api-key": live.keys["external-reviewer"]}
        )
    assert anonymous.status_code == 401
    assert forwarded.status_code == 401
    assert reviewer.status_code == 403
    # Not a denial to word for the customer: marked so that a gateway says so itself.
    for refused in (anonymous, forwarded, reviewer):
        assert refused.headers["x-brightline-decision"] == "not-checked"


ENVOY = Path(__file__).parents[2] / "deploy" / "envoy" / "envoy.yaml"


def _ext_authz() -> dict[str, Any]:
    listener = yaml.safe_load(ENVOY.read_text())["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    (authz,) = (f for f in manager["http_filters"] if f["name"] == "envoy.filters.http.ext_authz")
    config: dict[str, Any] = authz["typed_config"]
    return config


def test_the_envoy_example_sends_what_the_endpoint_reads(live: Live) -> None:
    """The check as deploy/envoy/envoy.yaml makes Envoy send it: the caller's method, the
    path under path_prefix, the allowed headers (and the ones Envoy always adds, the
    caller's own credential among them) and the key from headers_to_add."""
    config = _ext_authz()
    assert config["failure_mode_allow"] is False
    service = config["http_service"]
    allowed = {p["exact"] for p in config["allowed_headers"]["patterns"]}
    assert allowed == {h.lower() for h in HEADERS.values()}
    (key,) = service["authorization_request"]["headers_to_add"]
    attributes = {HEADERS[name].lower(): value for name, value in DENIED_CALL.items()}
    always = {"authorization": "Bearer the-callers-own-token", "content-length": "0"}
    with live.client() as http:
        r = http.put(
            f"{service['path_prefix']}/containers/c1/blob-7?comp=block",
            headers={**attributes, **always, key["key"]: live.keys["enforcement-point"]},
        )
    assert r.status_code == 403, r.text
    assert r.json() == {"effect": "deny", **NOTICE}
    passed = {
        p["exact"] for p in service["authorization_response"]["allowed_client_headers"]["patterns"]
    }
    assert {"content-type", "x-brightline-decision"} <= passed
    assert r.headers["x-brightline-decision"] == "deny"
