"""Pushed changes: on PostgreSQL a change committed by another process reaches the
server's long-polling clients at once, not at the next poll; the listener comes back
after the database did."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, free_port
from brightline.access import Role
from brightline.config import Settings
from brightline.errors import StoreUnavailableError
from brightline.server import create_app
from brightline.server.push import ChangeSignal
from brightline.service.ledger import LedgerKeys, ensure_key
from brightline.service.worlds import import_world
from brightline.store import Store, open_store
from brightline.store.changes import ChangeListener

ONLY_POSTGRES = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
#: Longer than any test runs: a change that arrives came by push, not by the poll.
NEVER = 3600.0
PROPOSAL = (
    "id: r-push\nscope: unit-9900\nactions: ['storage.*:*']\nregions: [westeurope]\n"
    "reason: {policy: mass-surveillance}\n"
)


def _serve(store: Store, settings: Settings, signal: ChangeSignal) -> Iterator[str]:
    signer = LedgerKeys.of(settings).signer()
    assert signer is not None
    app = create_app(settings, store, signer, signal=signal)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (server.started and signal.listening):
        assert time.monotonic() < deadline, "the server did not start listening"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _cli(settings: Settings, url: str, key: str, *args: str) -> None:
    """``brightline ARGS`` in a process of its own, as an operator would run it."""
    env = {
        **os.environ,
        "BRIGHTLINE_DATABASE_URL": url,
        "BRIGHTLINE_DATA_DIR": str(settings.data_dir),
        "BRIGHTLINE_API_KEY": key,
    }
    done = subprocess.run(
        [sys.executable, "-c", "from brightline.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@ONLY_POSTGRES
def test_a_change_by_another_process_reaches_a_long_poll_without_the_poll(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", admin_rate_per_minute=100_000)
    ensure_key(settings)
    with open_store(store_url) as store:
        keys = provision(
            store,
            settings,
            {"ep": [Role.ENFORCEMENT_POINT], "ivy": [Role.INVESTIGATOR], "amy": [Role.APPROVER]},
        )
        import_world(store, EXAMPLE, actor=principal_of(store, settings, keys[ROOT]))
        signal = ChangeSignal(poll_seconds=NEVER, pushed_poll_seconds=NEVER)
        for url in _serve(store, settings, signal):
            headers = {"authorization": f"Bearer {keys['ep']}"}
            with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                etag = http.get("/v1/bundles/current").headers["etag"]
                proposal = tmp_path / "r-push.yaml"
                proposal.write_text(PROPOSAL)
                _cli(settings, store_url, keys["ivy"], "restrict", "propose", str(proposal))
                _cli(settings, store_url, keys["amy"], "restrict", "approve", "r-push")
                started = time.monotonic()
                polled = http.get(
                    "/v1/bundles/current", params={"wait": 60}, headers={"if-none-match": etag}
                )
                waited = time.monotonic() - started
                assert polled.status_code == 200, polled.text
                assert polled.headers["etag"] != etag
                assert waited < 60  # answered by the change, not by the long poll's end
                decided = http.post(
                    "/v1/decisions",
                    json={
                        "node": "sub-9900-archive",
                        "service": "storage.blob",
                        "operation": "write",
                        "region": "westeurope",
                    },
                ).json()
                assert decided["restrictions"] == ["r-push"]


@ONLY_POSTGRES
def test_a_rolled_back_change_is_not_heard_and_a_committed_one_is(store: Store) -> None:
    listener = ChangeListener(store, timeout=5)
    try:
        assert not listener.wait(0.2)
        with store.engine.connect() as connection:
            connection.exec_driver_sql(
                "INSERT INTO outbox (event_type, payload, created_at) "
                "VALUES ('test.event', '{}', now())"
            )
            connection.rollback()
        assert not listener.wait(0.5)
        with store.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO outbox (event_type, payload, created_at) "
                "VALUES ('test.event', '{}', now())"
            )
        assert listener.wait(5)
    finally:
        listener.close()


def test_sqlite_does_not_push(tmp_path: Path) -> None:
    with (
        open_store(f"sqlite:///{tmp_path / 'b.db'}") as store,
        pytest.raises(StoreUnavailableError, match="does not push changes"),
    ):
        ChangeListener(store, timeout=1)
