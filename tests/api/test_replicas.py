"""Three ``brightline serve`` replicas on loopback over one PostgreSQL behave as one
service: a console session opened through one works through another (and its flash
message shows on a third); the ledger has one writer at a time, and when it is killed
(SIGKILL) another replica takes its lock over within FAILOVER seconds; every outbox event,
including those made while the writer died, is in the ledger exactly once, and every
replica serves the same bundle."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE
from brightline.access import Role
from brightline.config import Settings
from brightline.service.ledger import ensure_key
from brightline.service.worlds import import_world
from brightline.store import Store, open_store
from brightline.store.ledger import entry_at, ledger_size
from brightline.store.models import OutboxEvent
from brightline.store.writer_lock import LEDGER_WRITER_KEY
from serving import COMMAND, SOURCE, Serving, serving
from web.conftest import login_token

#: The issue's bound on the ledger writer's failover.
FAILOVER = 5.0
DECISION = {
    "node": "sub-9900-archive",
    "service": "storage.blob",
    "operation": "write",
    "region": "westeurope",
}


def _proposal(rid: str) -> dict[str, str]:
    return {
        "restrictions": f"id: {rid}\nscope: unit-9900\nactions: ['storage.*:*']\n"
        "reason: {policy: mass-surveillance}\n"
    }


def _writer_backend(store: Store) -> int | None:
    """The PostgreSQL backend holding the ledger writer's lock (None if no one does)."""
    with store.read() as session:
        pid = session.scalar(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :hi AND objid = :lo AND objsubid = 1"
            ),
            {"hi": LEDGER_WRITER_KEY >> 32, "lo": LEDGER_WRITER_KEY & 0xFFFF_FFFF},
        )
    return None if pid is None else int(pid)


def _writes_ledger(url: str) -> bool:
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    found = re.search(r"^brightline_ledger_writer (\S+)$", metrics, re.MULTILINE)
    assert found is not None
    return float(found.group(1)) == 1.0


def _bundle(url: str, key: str) -> str:
    response = httpx.get(f"{url}/v1/bundles/current", headers=_auth(key), timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["payload"]["version"])


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def replicas(
    tmp_path: Path, store_url: str
) -> Iterator[tuple[Settings, Store, dict[str, str], list[Serving]]]:
    settings = Settings(database_url=SecretStr(store_url), data_dir=tmp_path / "data")
    store = open_store(settings, migrate=False)
    ensure_key(settings)
    keys = provision(
        store,
        settings,
        {
            "ines": [Role.INVESTIGATOR],
            "alba": [Role.APPROVER],
            "aud": [Role.AUDITOR],
            "point": [Role.ENFORCEMENT_POINT],
        },
    )
    import_world(store, EXAMPLE, actor=principal_of(store, settings, keys[ROOT]))
    env = {
        "BRIGHTLINE_DATABASE_URL": store_url,
        "BRIGHTLINE_DATA_DIR": str(settings.data_dir),
        "BRIGHTLINE_ADMIN_RATE_PER_MINUTE": "60",
    }
    with contextlib.ExitStack() as stack:
        # The first replica is up (and holds the writer's lock) before the others start;
        # the third runs two worker processes.
        started = [stack.enter_context(serving([], env=env, log=tmp_path / "a.log"))]
        started.append(stack.enter_context(serving([], env=env, log=tmp_path / "b.log")))
        started.append(
            stack.enter_context(serving(["--workers", "2"], env=env, log=tmp_path / "c.log"))
        )
        try:
            yield settings, store, keys, started
        finally:
            store.close()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_three_replicas_behave_as_one_service(
    replicas: tuple[Settings, Store, dict[str, str], list[Serving]], tmp_path: Path
) -> None:
    settings, store, keys, (a, b, c) = replicas
    assert _writes_ledger(a.url)
    assert not _writes_ledger(b.url)

    # Sign in through A; approve through B with the same cookie; the flash shows on C.
    with httpx.Client(base_url=a.url, timeout=30) as browser:
        form = browser.get("/console/login")
        signed = browser.post(
            "/console/login",
            data={"login_token": login_token(form.text), "credential": keys["alba"], "next": ""},
        )
        assert signed.status_code == 303, signed.text
        cookie = {"bl_console": browser.cookies["bl_console"]}
    proposed = httpx.post(
        f"{b.url}/v1/restrictions", json=_proposal("r-1"), headers=_auth(keys["ines"]), timeout=30
    )
    assert proposed.status_code == 200, proposed.text
    page = httpx.get(f"{b.url}/console/restrictions/r-1", cookies=cookie, timeout=30)
    assert page.status_code == 200
    assert "alba" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    approved = httpx.post(
        f"{b.url}/console/restrictions/r-1/approve",
        data={"csrf": csrf.group(1)},
        cookies=cookie,
        timeout=30,
    )
    assert approved.status_code == 303, approved.text
    shown = httpx.get(f"{c.url}/console/restrictions/r-1", cookies=cookie, timeout=30)
    assert "Approved: r-1" in shown.text
    # B (which does not write the ledger) returned once its bundle holds the change.
    decided = httpx.post(
        f"{b.url}/v1/decisions", json=DECISION, headers=_auth(keys["point"]), timeout=30
    )
    assert decided.json()["effect"] == "deny", decided.text

    # Rate limits: one limit across the replicas (60 a minute, not 60 each).
    codes = [
        httpx.get(
            f"{(a, b)[i % 2].url}/v1/ledger", headers=_auth(keys["aud"]), timeout=30
        ).status_code
        for i in range(100)
    ]
    assert set(codes) == {200, 429}
    assert 59 <= codes.count(200) <= 62

    # Changes keep coming through B and C while the writer is killed.
    errors: list[str] = []
    stop = threading.Event()

    def propose() -> None:
        for n in range(24):
            if stop.is_set():
                return
            target = (b, c)[n % 2]
            response = httpx.post(
                f"{target.url}/v1/restrictions",
                json=_proposal(f"r-load-{n}"),
                headers=_auth(keys["ines"]),
                timeout=30,
            )
            if response.status_code != 200:
                errors.append(f"{target.url}: {response.status_code} {response.text}")

    load = threading.Thread(target=propose)
    before = _writer_backend(store)
    assert before is not None
    load.start()
    time.sleep(0.5)
    a.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    while (holder := _writer_backend(store)) in (None, before):
        assert time.monotonic() - killed < FAILOVER, "no replica took the ledger over"
        time.sleep(0.02)
    took = time.monotonic() - killed
    print(f"ledger writer failover: {took:.3f} s (backend {before} -> {holder})")
    load.join(timeout=120)
    stop.set()
    assert not errors, errors
    # The new holder is one of the replicas left (C's /metrics answers from either of its
    # workers, so its log says which took over).
    assert any('"ledger-writer-acquired"' in r.log.read_text() for r in (b, c))

    # Every outbox event is in the ledger exactly once, in order.
    deadline = time.monotonic() + 30
    while True:
        with store.read() as session:
            events = [
                int(i) for i in session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id))
            ]
            size = ledger_size(session)
            logged = [entry_at(session, i).outbox_id for i in range(size)]
        if logged == events:
            break
        assert time.monotonic() < deadline, f"{len(events)} events, {size} entries"
        time.sleep(0.1)
    assert len(set(logged)) == len(logged)
    key_file = tmp_path / "aud.key"
    key_file.write_text(keys["aud"])
    key_file.chmod(0o600)
    verified = subprocess.run(
        [*COMMAND[:-1], "ledger", "verify", "--key-file", str(key_file)],
        env={
            **os.environ,
            "PYTHONPATH": SOURCE,
            "BRIGHTLINE_DATABASE_URL": settings.database_url.get_secret_value(),
            "BRIGHTLINE_DATA_DIR": str(settings.data_dir),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # Every replica left serves one bundle: the store's, once logged.
    deadline = time.monotonic() + 10
    while len({_bundle(r.url, keys["point"]) for r in (b, c, c, c)}) != 1:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # Each version was issued once (by whichever replica compiled it first), not once
    # per replica: no version follows itself.
    with store.read() as session:
        issued = [
            json.loads(p)["version"]
            for p in session.scalars(
                select(OutboxEvent.payload)
                .where(OutboxEvent.event_type == "bundle.issued")
                .order_by(OutboxEvent.id)
            )
        ]
    assert all(x != y for x, y in itertools.pairwise(issued)), issued
    assert len(issued) >= 2
