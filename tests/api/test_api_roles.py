"""Every endpoint × every role: allowed roles get through, others get 403, no credential 401.

Hidden is not enough: the server refuses."""

from __future__ import annotations

from typing import Any

import pytest

from api.conftest import ROLE_NAMES, Live

READERS = {"investigator", "approver", "auditor", "case-admin", "admin"}
EVERYONE = set(ROLE_NAMES)
DECISION = {
    "node": "sub-hq-mail",
    "service": "ai.speech",
    "operation": "transcribe",
    "region": "eastus",
}
LOG = {"report_id": "r1", "enforcement_point": "gw", "counts": [], "samples": []}
REPORT = {
    "source": "journalist",
    "nodes": ["unit-9900"],
    "policies": ["mass-surveillance"],
    "summary": "s",
}
REVIEW = {"investigator", "external-reviewer", "approver", "auditor", "case-admin"}

ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/decisions", DECISION, EVERYONE),
    ("POST", "/v1/decisions/batch", {"requests": [DECISION]}, EVERYONE),
    ("GET", "/v1/bundles/current", None, EVERYONE),
    ("POST", "/v1/decision-logs", LOG, {"enforcement-point", "admin"}),
    (
        "POST",
        "/v1/restrictions",
        {"restrictions": "id: r-x\nscope: unit-9900\nactions: ['ai.*:*']\n"},
        {"investigator", "admin"},
    ),
    ("POST", "/v1/restrictions/r-x/approve", None, {"approver"}),
    ("POST", "/v1/restrictions/r-x/reject", {"why": "no"}, {"approver"}),
    ("POST", "/v1/restrictions/r-x/lift", {"why": "no"}, {"investigator", "admin"}),
    ("GET", "/v1/restrictions", None, READERS),
    ("GET", "/v1/restrictions/r-x", None, READERS),
    ("GET", "/v1/ledger", None, READERS),
    ("GET", "/v1/ledger/entries/0/proof", None, READERS),
    ("GET", "/v1/ledger/entries/0/disclosure", None, {"auditor"}),
    ("GET", "/v1/exports/cedar", None, READERS),
    ("GET", "/v1/exports/aws-scp", None, READERS),
    ("GET", "/v1/exports/azure-policy", None, READERS),
    ("POST", "/v1/reports", REPORT, {"investigator", "case-admin", "admin"}),
    ("GET", "/v1/cases", None, REVIEW),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_every_endpoint_requires_a_role(
    live: Live, method: str, path: str, body: Any, allowed: set[str]
) -> None:
    with live.client() as http:
        anonymous = http.request(method, path, json=body)
        assert anonymous.status_code == 401, anonymous.text
        wrong = http.request(
            method, path, json=body, headers={"authorization": "Bearer bl_nope_nope"}
        )
        assert wrong.status_code == 401
    for role in ROLE_NAMES:
        with live.client(role) as http:
            response = http.request(method, path, json=body)
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert "lacks a role" in response.json()["message"]


def test_revoked_keys_stop_working(live: Live) -> None:
    from brightline.service.apikeys import list_keys, revoke_key

    key = live.key_for("temp", "auditor")
    with live.client() as http:
        assert http.get("/v1/ledger", headers={"authorization": f"Bearer {key}"}).status_code == 200
    key_id = next(k.id for k in list_keys(live.store) if k.principal == "temp")
    revoke_key(live.store, key_id, by="test")
    import time

    time.sleep(5.2)  # the server caches a key for at most five seconds
    with live.client() as http:
        assert http.get("/v1/ledger", headers={"x-api-key": key}).status_code == 401


def test_admin_endpoints_are_rate_limited(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.conftest import EXAMPLE, start_server
    from brightline.config import Settings
    from brightline.service.apikeys import create_key
    from brightline.service.ledger import ensure_key
    from brightline.service.worlds import import_world
    from brightline.store import open_store

    settings = Settings(data_dir=tmp_path / "d", admin_rate_per_minute=5)
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    ensure_key(settings)
    import_world(store, EXAMPLE, actor="setup")
    _, key = create_key(store, principal="a", roles=["auditor"], created_by="t")
    server, thread, url = start_server(settings, store)
    try:
        import httpx

        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}) as http:
            codes = [http.get("/v1/ledger").status_code for _ in range(8)]
            decisions = [http.post("/v1/decisions", json=DECISION).status_code for _ in range(20)]
        assert codes[:5] == [200] * 5
        assert 429 in codes[5:]
        assert set(decisions) == {200}  # decision endpoints are sized for gateway traffic
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
