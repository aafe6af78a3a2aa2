"""Soak: the server, killed with SIGKILL at random while two clients write, loses nothing
it acknowledged, repeats nothing, and leaves a ledger that holds every event once.

A real ``brightline serve`` process (SQLite, then PostgreSQL) is started and SIGKILLed
``KILLS`` times. Meanwhile two client threads each run restriction lifecycles over HTTP —
propose as one person, approve as another — every request with an idempotency key, and
retry a request whose answer they did not get with the same key until the server (or its
next incarnation) answers. A request counts as acknowledged when it got a 2xx answer.

Afterwards, on the store the server left: every acknowledged change is stored exactly
once and nothing is stored twice; every outbox event has exactly one ledger entry, in
order; ``ledger verify`` passes, with the store audit: every history row the server
wrote has its one outbox event and ledger entry, and the restrictions in force the ledger
publishes are the store's.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, free_port
from brightline.config import Settings
from brightline.service.ledger import LedgerKeys, ensure_key, sync, verify_store
from brightline.service.store_audit import audit_store
from brightline.service.worlds import import_world
from brightline.store import all_events, open_store, read_outbox
from brightline.store.ledger import entry_at, ledger_size

KILLS = 30
LIFE_S = (0.0, 0.3)  # how long each incarnation serves after its first acknowledgement
PROGRESS_TIMEOUT_S = 30.0
START_TIMEOUT_S = 60.0


@dataclass
class Writer:
    """One client: lifecycles of its own restrictions, retried with their keys."""

    name: str
    url: str
    proposer_key: str
    approver_key: str
    stop: threading.Event
    acknowledged: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retries: int = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            step = 0
            while not self.stop.is_set():
                rid = f"soak-{self.name}-{step}"
                body = {"restrictions": _restriction(rid)}
                if not self._until_answered(
                    http, "/v1/restrictions", self.proposer_key, f"{rid}/propose", body
                ):
                    return
                self.acknowledged.append((rid, "proposed"))
                if not self._until_answered(
                    http, f"/v1/restrictions/{rid}/approve", self.approver_key, f"{rid}/approve"
                ):
                    return
                self.acknowledged.append((rid, "approved"))
                step += 1

    def _until_answered(
        self,
        http: httpx.Client,
        path: str,
        key: str,
        idempotency: str,
        body: dict[str, str] | None = None,
    ) -> bool:
        """Send until a 2xx; False if the test stopped first (the change may or may not
        have happened: it is not acknowledged)."""
        headers = {"authorization": f"Bearer {key}", "idempotency-key": idempotency}
        while not self.stop.is_set():
            try:
                response = http.post(path, json=body, headers=headers)
            except httpx.HTTPError:
                self.retries += 1
                time.sleep(0.05)
                continue
            if response.is_success:
                return True
            if response.status_code in (502, 503, 504):
                self.retries += 1
                time.sleep(0.05)
                continue
            self.errors.append(f"{path}: {response.status_code} {response.text[:300]}")
            return False
        return False


def _restriction(rid: str) -> str:
    return f"id: {rid}\nscope: unit-9900\nactions: ['ai.*:*']\nmode: enforce\n"


#: A parent that imports the server once and forks an incarnation per ``start`` line, so
#: that each start costs a fork and the store's opening, not seconds of imports. It reaps
#: what it forked: ``kill PID`` and ``term PID`` answer once the process is gone.
ZYGOTE = """
import os, signal, sys
import alembic, fastapi, httpx, psycopg, sqlalchemy, uvicorn
import brightline.server, brightline.service.serving
from brightline.cli import main
for line in sys.stdin:
    command, *rest = line.split()
    if command == "start":
        log, argv = rest[0], rest[1:]
        pid = os.fork()
        if pid == 0:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.argv = ["brightline", *argv]
            try:
                main()
            finally:
                os._exit(0)
        print(pid, flush=True)
    else:
        pid = int(rest[0])
        os.kill(pid, signal.SIGKILL if command == "kill" else signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        print(status, flush=True)
"""


@dataclass
class Incarnations:
    """Starts and kills ``brightline serve`` processes on one port, through the zygote."""

    env: dict[str, str]
    port: int
    log: Path
    started: int = 0
    _zygote: subprocess.Popen[str] | None = None

    def _ask(self, line: str) -> int:
        if self._zygote is None:
            self._zygote = subprocess.Popen(
                [sys.executable, "-c", ZYGOTE],
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert self._zygote.stdin is not None
        assert self._zygote.stdout is not None
        self._zygote.stdin.write(line + "\n")
        self._zygote.stdin.flush()
        return int(self._zygote.stdout.readline())

    def start(self) -> int:
        argv = ["serve", "--port", str(self.port), "--world", str(EXAMPLE)]
        pid = self._ask(" ".join(["start", str(self.log), *argv]))
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.02)
        self.started += 1
        return pid

    def kill(self, pid: int) -> None:
        self._ask(f"kill {pid}")

    def stop(self, pid: int) -> None:
        self._ask(f"term {pid}")

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.kill()
            self._zygote.communicate()


def _wait_for_progress(
    writers: list[Writer], threads: list[threading.Thread], *, each: int = 0
) -> None:
    """Until the writers together acknowledge one more change (or each ``each`` more)."""
    before = [len(w.acknowledged) for w in writers]
    deadline = time.monotonic() + PROGRESS_TIMEOUT_S
    while True:
        now = [len(w.acknowledged) for w in writers]
        if (each and all(n >= b + each for n, b in zip(now, before, strict=True))) or (
            not each and sum(now) > sum(before)
        ):
            return
        assert all(t.is_alive() for t in threads), [w.errors for w in writers]
        assert time.monotonic() < deadline, "the writers made no progress"
        time.sleep(0.01)


@pytest.fixture
def soak_settings(store_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=SecretStr(store_url), data_dir=tmp_path / "data", admin_rate_per_minute=100_000
    )


def test_server_killed_at_random_loses_and_repeats_nothing(
    soak_settings: Settings, store_url: str, tmp_path: Path
) -> None:
    settings = soak_settings
    verifier = ensure_key(settings)
    with open_store(settings) as store:
        keys = provision(
            store,
            settings,
            {
                "ivan": ["investigator"],
                "iris": ["investigator"],
                "amal": ["approver"],
                "bo": ["approver"],
            },
        )
        import_world(store, EXAMPLE, actor=principal_of(store, settings, keys[ROOT]))
    port = free_port()
    env = {
        **os.environ,
        "BRIGHTLINE_DATABASE_URL": store_url,
        "BRIGHTLINE_DATA_DIR": str(settings.data_dir),
        "BRIGHTLINE_ADMIN_RATE_PER_MINUTE": "100000",
    }
    servers = Incarnations(env, port, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    writers = [
        Writer("a", url, keys["ivan"], keys["amal"], stop),
        Writer("b", url, keys["iris"], keys["bo"], stop),
    ]
    threads = [threading.Thread(target=w.run, daemon=True) for w in writers]
    rng = random.Random(20261202)
    pid = servers.start()
    for thread in threads:
        thread.start()
    try:
        for _ in range(KILLS):
            # Each incarnation acknowledges something, then dies at a random moment
            # among the writes that follow.
            _wait_for_progress(writers, threads)
            time.sleep(rng.uniform(*LIFE_S))
            servers.kill(pid)
            pid = servers.start()
        # A last incarnation lets each writer finish what it had in flight.
        _wait_for_progress(writers, threads, each=2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        servers.stop(pid)
        servers.close()

    assert servers.started == KILLS + 1
    assert not [e for w in writers for e in w.errors]
    acknowledged = [a for w in writers for a in w.acknowledged]
    assert len(acknowledged) >= KILLS, "the writers barely wrote: the soak proves little"
    assert sum(w.retries for w in writers) > 0, "no request was ever cut off: no kill landed"

    with open_store(settings, migrate=False) as store:
        sync(settings, store)
        with store.read() as session:
            events = all_events(session)
            outbox = list(read_outbox(session, limit=10_000_000))
            logged = [entry_at(session, i).outbox_id for i in range(ledger_size(session))]
        stored = Counter((e.restriction_id, e.kind) for e in events)
        assert [k for k, n in stored.items() if n > 1] == [], "a change was stored twice"
        for change in acknowledged:
            assert stored[change] == 1, f"acknowledged {change} is not stored"
        assert logged == [o.id for o in outbox], "the ledger does not hold each event once"
        report = verify_store(store, verifier)
        assert report.size == len(outbox)
        audited = audit_store(store)
        assert audited.entries == len(outbox)
    assert LedgerKeys.of(settings).private.is_file()
