"""Credentials over HTTP: revocation applies to the next request, rate limits apply per
credential. The role × action matrix is tests/test_access_matrix.py."""

from __future__ import annotations

from access_setup import ROOT, principal_of, provision
from api.conftest import Live

DECISION = {
    "node": "sub-hq-mail",
    "service": "ai.speech",
    "operation": "transcribe",
    "region": "eastus",
}


def test_revoked_keys_stop_working(live: Live) -> None:
    from brightline.service.apikeys import list_keys, revoke_key

    key = live.key_for("temp", "auditor")
    root = principal_of(live.store, live.settings, live.keys[ROOT])
    with live.client() as http:
        assert http.get("/v1/ledger", headers={"authorization": f"Bearer {key}"}).status_code == 200
    root = principal_of(live.store, live.settings, live.keys[ROOT])
    key_id = next(k.id for k in list_keys(live.store, actor=root) if k.principal == "temp")
    revoke_key(live.store, key_id, actor=root)
    # No waiting: the change drops the server's cache, so the very next request fails.
    with live.client() as http:
        assert http.get("/v1/ledger", headers={"x-api-key": key}).status_code == 401


def test_admin_endpoints_are_rate_limited(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.conftest import EXAMPLE, start_server
    from brightline.config import Settings
    from brightline.service.ledger import ensure_key
    from brightline.service.worlds import import_world
    from brightline.store import open_store

    settings = Settings(data_dir=tmp_path / "d", admin_rate_per_minute=5)
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    ensure_key(settings)
    keys = provision(store, settings, {"a": ["auditor"]})
    import_world(store, EXAMPLE, actor=principal_of(store, settings, keys[ROOT]))
    key = keys["a"]
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
