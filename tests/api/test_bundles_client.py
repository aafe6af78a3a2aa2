"""Signed bundles and the enforcement-point client, against a real server."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.conftest import Live
from api.proxy import Canned, proxy_to
from api.test_api_decisions import enforce_example
from brightline.bundle import open_bundle
from brightline.enforcement import Client, NoBundleError, RollbackError
from brightline.errors import LedgerIntegrityError
from brightline.ledger import generate_key
from brightline.policy import Request
from brightline.service.decision_logs import decision_totals

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ARCHIVE = Request("sub-9900-archive", "storage.blob", "write", "westeurope", NOW)


def make_client(live: Live, tmp_path: Path, url: str | None = None) -> Client:
    return Client(
        url or live.url,
        api_key=live.keys["enforcement-point"],
        verifier=live.verifier,
        cache_dir=tmp_path / "ep",
        enforcement_point="enforcement-point-user",
    )


def test_etag_and_304(live: Live) -> None:
    with live.client("enforcement-point") as http:
        first = http.get("/v1/bundles/current")
        etag = first.headers["etag"]
        again = http.get("/v1/bundles/current", headers={"if-none-match": etag})
    assert first.status_code == 200
    assert again.status_code == 304
    bundle = open_bundle(first.json(), live.verifier)
    assert f'"{bundle.version}"' == etag


def test_long_poll_answers_as_soon_as_a_new_version_is_in_force(live: Live) -> None:
    with live.client("enforcement-point") as http:
        etag = http.get("/v1/bundles/current").headers["etag"]
        done: dict[str, float] = {}

        def poll() -> None:
            started = time.monotonic()
            r = http.get(
                "/v1/bundles/current", params={"wait": 20}, headers={"if-none-match": etag}
            )
            done["status"] = r.status_code
            done["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=poll)
        thread.start()
        time.sleep(0.5)
        enforce_example(live)
        thread.join(timeout=25)
    assert done["status"] == 200
    assert done["seconds"] < 5


def test_long_poll_times_out_with_304(live: Live) -> None:
    with live.client("enforcement-point") as http:
        etag = http.get("/v1/bundles/current").headers["etag"]
        r = http.get("/v1/bundles/current", params={"wait": 0.5}, headers={"if-none-match": etag})
    assert r.status_code == 304


def test_client_decides_from_the_bundle_and_keeps_it_offline(live: Live, tmp_path: Path) -> None:
    enforce_example(live)
    with make_client(live, tmp_path) as client:
        with pytest.raises(NoBundleError):
            client.decide(ARCHIVE)
        assert client.refresh()
        assert client.decide(ARCHIVE).matched == ("r-api",)
    # The server is gone: a new client on the same cache still decides, from disk.
    with make_client(live, tmp_path, url="http://127.0.0.1:9") as offline:
        assert not offline.refresh()
        assert "unreachable" in (offline.last_error or "")
        assert offline.decide(ARCHIVE).denied


def test_client_refuses_a_rollback(live: Live, tmp_path: Path) -> None:
    with proxy_to(live.url) as server, make_client(live, tmp_path, url=server.url) as client:
        client.refresh()
        old = (tmp_path / "ep" / "bundle.json").read_bytes()
        enforce_example(live)
        assert client.refresh()
        newer = client.serial
        # The server (or whatever answers in its name) offers the older bundle again.
        server.answer = lambda path, headers: Canned(200, {"etag": '"x"'}, old)
        with pytest.raises(RollbackError):
            client.refresh()
        assert client.serial == newer
        assert client.decide(ARCHIVE).denied


def test_a_bundle_signed_by_another_key_or_edited_is_refused(live: Live, tmp_path: Path) -> None:
    with live.client("enforcement-point") as http:
        document = http.get("/v1/bundles/current").json()
    other = generate_key("attacker.example/log").verifier()
    with pytest.raises(LedgerIntegrityError):
        open_bundle(document, other)
    document["payload"]["snapshot"]["restrictions"] = []
    document["payload"]["serial"] += 1
    with pytest.raises(LedgerIntegrityError):
        open_bundle(document, live.verifier)


def test_decision_logs_reach_the_server_once(live: Live, tmp_path: Path) -> None:
    enforce_example(live)
    with make_client(live, tmp_path) as client:
        client.refresh()
        for _ in range(30):
            client.decide(ARCHIVE)
        client.decide(Request("sub-hq-mail", "storage.blob", "write", "westeurope", NOW))
        report = client.buffer.take()
        assert report is not None
        assert client.report()
        # A retry of the same report (say, the answer was lost) is not counted twice.
        with live.client("enforcement-point") as http:
            again = http.post("/v1/decision-logs", json=report.body()).json()
        assert again["duplicate"] is True
    totals = decision_totals(live.store)
    assert totals.by_restriction[("r-api", "deny")] == 30


def test_a_full_buffer_reports_what_it_dropped(live: Live, tmp_path: Path) -> None:
    enforce_example(live)
    with make_client(live, tmp_path) as client:
        client.refresh()
        client.buffer.max_keys = 2
        for node in (
            "sub-9900-archive",
            "sub-9900-ingest",
            "sub-9900-transcribe",
            "sub-9900-translate",
        ):
            client.decide(Request(node, "storage.blob", "write", "westeurope", NOW))
        assert client.buffer.dropped == 2
        assert client.report()
    assert decision_totals(live.store).dropped == 2


def test_buffer_survives_a_restart(live: Live, tmp_path: Path) -> None:
    enforce_example(live)
    first = make_client(live, tmp_path)
    first.refresh()
    for _ in range(3):
        first.decide(ARCHIVE)
    first.stop()  # persists the buffer
    with make_client(live, tmp_path) as restarted:
        assert restarted.buffer.pending_count() == 3
        assert restarted.report()
    assert decision_totals(live.store).by_restriction[("r-api", "deny")] == 3


def test_background_thread_picks_up_a_new_bundle(live: Live, tmp_path: Path) -> None:
    with make_client(live, tmp_path) as client:
        client.refresh()
        client.start(wait=10, report_every=0.5)
        assert not client.decide(ARCHIVE).denied
        enforce_example(live)
        deadline = time.monotonic() + 10
        while not client.decide(ARCHIVE).denied:
            assert time.monotonic() < deadline, "the client never picked up the new bundle"
            time.sleep(0.05)
