"""Decisions over real HTTP: four eyes through the API, batch, bad input, size limits."""

from __future__ import annotations

import json
from collections.abc import Iterator

from api.conftest import Live
from brightline.access import Role

DENY_BODY = {
    "node": "sub-9900-archive",
    "service": "storage.blob",
    "operation": "write",
    "region": "westeurope",
}
PROPOSAL = (
    "id: r-api\nscope: unit-9900\nactions: ['storage.*:*']\nregions: [westeurope]\n"
    "exempt: [sub-9900-rescue]\nreason: {policy: mass-surveillance}\n"
)


def enforce_example(live: Live) -> None:
    alice = live.key_for("alice", Role.INVESTIGATOR, Role.APPROVER)
    bob = live.key_for("bob", Role.APPROVER)
    with live.client() as http:
        h_alice = {"authorization": f"Bearer {alice}"}
        r = http.post("/v1/restrictions", json={"restrictions": PROPOSAL}, headers=h_alice)
        assert r.status_code == 200, r.text
        # The proposer cannot approve its own proposal, whatever its roles.
        r = http.post("/v1/restrictions/r-api/approve", headers=h_alice)
        assert r.status_code == 409, r.text
        r = http.post("/v1/restrictions/r-api/approve", headers={"authorization": f"Bearer {bob}"})
        assert r.status_code == 200, r.text


def test_restriction_through_the_api_then_denies(live: Live) -> None:
    with live.client("enforcement-point") as http:
        before = http.post("/v1/decisions", json=DENY_BODY).json()
    assert before["effect"] == "allow"
    enforce_example(live)
    with live.client("enforcement-point") as http:
        after = http.post("/v1/decisions", json=DENY_BODY).json()
        rescue = http.post("/v1/decisions", json={**DENY_BODY, "node": "sub-9900-rescue"}).json()
    assert after["effect"] == "deny"
    assert after["restrictions"] == ["r-api"]
    assert after["version"] != before["version"]
    assert "r-api" in after["explanation"]
    assert rescue["effect"] == "allow"


def test_batch_decides_and_reports_errors_per_row(live: Live) -> None:
    enforce_example(live)
    rows = [DENY_BODY, {**DENY_BODY, "region": "eastus"}, {**DENY_BODY, "node": "ghost"}]
    with live.client("enforcement-point") as http:
        body = http.post("/v1/decisions/batch", json={"requests": rows}).json()
    assert [d["effect"] for d in body["decisions"]] == ["deny", "allow", "error"]
    assert body["decisions"][0]["restrictions"] == ["r-api"]
    assert body["decisions"][2]["error"] == "unknown node 'ghost'"


def test_batch_rows_carry_the_customer_notice_of_single_decisions(live: Live) -> None:
    enforce_example(live)
    rows = [DENY_BODY, {**DENY_BODY, "region": "eastus"}, {**DENY_BODY, "node": "ghost"}]
    with live.client("enforcement-point") as http:
        single = http.post("/v1/decisions", json=DENY_BODY).json()
        batch = http.post("/v1/decisions/batch", json={"requests": rows * 3}).json()
    notice = single["customer_notice"]
    assert notice is not None
    assert notice["restrictions"] == ["r-api"]
    assert "r-api (Mass surveillance of civilians)" in notice["message"]
    assert [d["customer_notice"] for d in batch["decisions"]] == [notice, None, None] * 3


def test_bad_input_gets_a_clear_4xx(live: Live) -> None:
    with live.client("enforcement-point") as http:
        r = http.post(
            "/v1/decisions/batch",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422
        assert "malformed JSON" in r.json()["message"]
        r = http.post("/v1/decisions/batch", json={"requests": [DENY_BODY] * 10_001})
        assert r.status_code == 422
        assert "at most 10000" in r.text
        r = http.post("/v1/decisions/batch", json={"requests": [{**DENY_BODY, "time": "noon"}]})
        assert r.status_code == 422
        assert r.json()["problems"][0]["where"] == "requests[0].time"
        r = http.post("/v1/decisions", json={**DENY_BODY, "region": "mars"})
        assert r.status_code == 422
        assert "unknown region 'mars'" in r.text
        r = http.post("/v1/decisions", json={"node": "x"})
        assert r.status_code == 422
        huge = b'{"requests": [' + b" " * (5 * 1024 * 1024) + b"]}"
        r = http.post(
            "/v1/decisions/batch", content=huge, headers={"content-type": "application/json"}
        )
        assert r.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"requests": ['
            for _ in range(5 * 16):
                yield b" " * 65_536
            yield b"]}"

        r = http.post(
            "/v1/decisions/batch", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


def test_deeply_nested_input_is_a_422_naming_where_never_a_500(live: Live) -> None:
    investigator = {"authorization": f"Bearer {live.keys[Role.INVESTIGATOR.value]}"}
    with live.client() as http:
        for opening in ("[", "{a: "):
            r = http.post(
                "/v1/restrictions",
                json={"restrictions": opening * 20_000},
                headers=investigator,
            )
            assert r.status_code == 422, r.text
            assert r.json()["problems"] == [
                {"where": "restrictions:1", "message": "nested deeper than 64 levels"}
            ]
        for path, body in [
            ("/v1/restrictions", b"[" * 20_000),
            ("/v1/restrictions", b'{"restrictions": "x", "case": ' + b"[" * 5_000),
            ("/v1/decisions", b'{"node": ' + b'{"a": ' * 20_000),
            ("/v1/decisions/batch", b'{"requests": ' + b"[" * 20_000),
        ]:
            r = http.post(
                path,
                content=body,
                headers={**investigator, "content-type": "application/json"},
            )
            assert r.status_code == 422, (path, r.text)
            assert r.json()["problems"] == [
                {"where": "body", "message": "nested deeper than 64 levels"}
            ]
            assert r.headers["x-request-id"]


def test_responses_carry_security_headers_and_request_ids(live: Live) -> None:
    with live.client("enforcement-point") as http:
        r = http.post("/v1/decisions", json=DENY_BODY, headers={"x-request-id": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_health_readiness_metrics_openapi(live: Live) -> None:
    with live.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json()["status"] == "ready"
        schema = http.get("/openapi.json").json()
        assert schema["openapi"].startswith("3.")
        assert "/v1/decisions/batch" in schema["paths"]
    with live.client("enforcement-point") as http:
        http.post("/v1/decisions", json=DENY_BODY)
    with live.client() as http:
        metrics = http.get("/metrics").text
    assert 'brightline_decisions_total{effect="allow"}' in metrics
    assert "brightline_decision_seconds_bucket" in metrics
    assert "brightline_ledger_size" in metrics
    assert "brightline_bundle_serial" in metrics


def test_restriction_lists_and_ledger(live: Live) -> None:
    enforce_example(live)
    with live.client("auditor") as http:
        listed = http.get("/v1/restrictions").json()
        assert [r["id"] for r in listed] == ["r-api"]
        assert http.get("/v1/restrictions/r-api").json()["status"] == "in-force"
        assert http.get("/v1/restrictions/nope").status_code == 404
        ledger = http.get("/v1/ledger").json()
        assert ledger["size"] >= 3
        proof = http.get("/v1/ledger/entries/1/proof").json()
        assert proof["index"] == 1
        disclosed = [
            http.get(f"/v1/ledger/entries/{i}/disclosure").json() for i in range(ledger["size"])
        ]
        proposal = next(d for d in disclosed if d["event_type"] == "restriction.proposed")
        assert proposal["record"]["actor"] == "alice"
        assert "alice" not in json.dumps(proposal["public"])
        cedar = http.get("/v1/exports/cedar").json()
        assert '@id("r-api")' in cedar["policies.cedar"]
        for target in ("aws-scp", "azure-policy", "gcp-org-policy"):
            manifest = http.get(f"/v1/exports/{target}").json()["manifest"]
            assert "r-api" in {r["id"] for r in manifest["restrictions"]}, target
        assert http.get("/v1/exports/oracle-cloud").status_code == 422
    assert json.dumps(listed)


def test_cases_over_the_api_obey_the_permission_table(live: Live) -> None:
    report = {
        "source": "journalist",
        "nodes": ["unit-9900"],
        "policies": ["mass-surveillance"],
        "summary": "intercepted calls stored in two European regions",
    }
    with live.client("investigator") as http:
        ref = http.post("/v1/reports", json=report).json()["ref"]
        case = http.post("/v1/cases", json={"title": "Unit 9900", "signals": [ref]}).json()
        assert case["status"] == "open"
        case_id = case["id"]
        assert [c["id"] for c in http.get("/v1/cases").json()] == [case_id]
        assert http.get(f"/v1/cases/{case_id}/timeline").status_code == 200
    with live.client("external-reviewer") as http:
        # Not assigned: the service refuses, whatever the route allowed.
        assert http.get("/v1/cases").json() == []
        assert http.get(f"/v1/cases/{case_id}").status_code == 403
    with live.client("auditor") as http:
        assert http.get(f"/v1/cases/{case_id}").status_code == 200
        closed = http.post(f"/v1/cases/{case_id}/close", json={"text": "no"})
        assert closed.status_code == 403  # the auditor reads everything, changes nothing
    with live.client("investigator") as http:
        assert (
            http.post(f"/v1/cases/{case_id}/close", json={"text": "duplicate"}).json()["status"]
            == "closed"
        )
