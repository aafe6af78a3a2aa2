"""The server while its database does not answer: a real server on loopback, on PostgreSQL
whose processes are stopped (SIGSTOP, as in a network partition: connections open, nothing
answers) and on SQLite whose write lock another process holds.

Under 50 concurrent requests ``/healthz`` and decisions for keys the server already knows
answer from memory (p99 under 100 ms); writes and ``/readyz`` answer 503 within the
database timeout; an unknown key is refused, never allowed. When the database answers
again everything works without a restart, and a revocation made then applies at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE
from brightline.access import Role
from brightline.config import Settings
from brightline.service.apikeys import revoke_key
from brightline.service.ledger import ensure_key
from brightline.service.worlds import import_world
from brightline.store import Store, open_store
from serving import serving

DB_TIMEOUT = 2.0
#: What a request may take beyond the timeout: the event loop's turn, the answer's trip.
MARGIN = 0.75
HOT_P99 = 0.100
CONCURRENT = 50
DECIDE = {"node": "sub-9900-archive", "service": "storage.blob", "operation": "write"}
DECISION = {**DECIDE, "region": "westeurope"}


def _proposal(rid: str) -> dict[str, str]:
    return {
        "restrictions": f"id: {rid}\nscope: unit-9900\nactions: ['storage.*:*']\n"
        "reason: {policy: mass-surveillance}\n"
    }


@dataclass
class Outcome:
    kind: str
    status: int
    seconds: float


class _Connection:
    """One keep-alive HTTP/1.1 connection, as lean as a client gets: the client shares the
    machine's cores with the server, and httpx would spend more per request than the
    server does."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, url: str) -> _Connection:
        parsed = httpx.URL(url)
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, *, key: str = "", body: object = None) -> int:
        data = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {len(data)}\r\n"
        if body is not None:
            head += "content-type: application/json\r\n"
        if key:
            head += f"authorization: Bearer {key}\r\n"
        self._writer.write(f"{head}\r\n".encode() + data)
        status = int((await self._reader.readline()).split()[1])
        length = 0
        while (line := await self._reader.readline()) not in {b"\r\n", b""}:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        self._writer.close()


async def _one(http: _Connection, kind: str, n: int, keys: dict[str, str]) -> Outcome:
    started = time.perf_counter()
    if kind == "healthz":
        status = await http.request("GET", "/healthz")
    elif kind == "decide":
        status = await http.request("POST", "/v1/decisions", key=keys["point"], body=DECISION)
    elif kind == "bundle":
        status = await http.request("GET", "/v1/bundles/current", key=keys["point"])
    elif kind == "unknown-key":
        status = await http.request("POST", "/v1/decisions", key=keys["stranger"], body=DECISION)
    elif kind == "readyz":
        status = await http.request("GET", "/readyz")
    else:
        proposal = _proposal(f"r-outage-{n}")
        status = await http.request("POST", "/v1/restrictions", key=keys["alice"], body=proposal)
    return Outcome(kind, status, time.perf_counter() - started)


#: One wave: mostly the hot paths, some writes, readiness and a key the server never saw.
WAVE = ["healthz"] * 20 + ["decide"] * 18 + ["bundle"] * 4 + ["write"] * 4 + ["readyz"] * 2
WAVE += ["unknown-key"] * (CONCURRENT - len(WAVE))
WARM_UP = ["healthz", "decide", "bundle"] * (CONCURRENT // 3) + ["healthz"] * (CONCURRENT % 3)


async def _waves(
    server: Server, outage: contextlib.AbstractContextManager[None]
) -> tuple[list[Outcome], list[list[Outcome]]]:
    """Over 50 connections: waves of hot requests with the database answering (to warm
    up, then for comparison), then two waves while it does not: at once, and after the
    timeout."""
    connections = [await _Connection.open(server.url) for _ in range(CONCURRENT)]

    async def wave(kinds: list[str], offset: int) -> list[Outcome]:
        calls = (
            _one(http, kind, offset + i, server.keys)
            for i, (http, kind) in enumerate(zip(connections, kinds, strict=True))
        )
        return list(await asyncio.gather(*calls))

    try:
        await wave(WARM_UP, 0)  # the server's first answers are slower: not measured
        healthy = await wave(WARM_UP, 0)
        with outage:
            first = await wave(WAVE, 0)
            await asyncio.sleep(DB_TIMEOUT + 0.5)
            second = await wave(WAVE, 100)
    finally:
        for http in connections:
            http.close()
    return healthy, [first, second]


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _p99(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def _check_wave(outcomes: list[Outcome], *, reads_answer: bool) -> dict[str, float]:
    """Assert what the issue requires of one wave; returns the measured latencies.
    ``reads_answer``: SQLite with its write lock held still reads."""
    hot = [o for o in outcomes if o.kind in {"healthz", "decide", "bundle"}]
    assert {(o.kind, o.status) for o in hot} == {
        ("healthz", 200),
        ("decide", 200),
        ("bundle", 200),
    }, hot
    p99 = _p99([o.seconds for o in hot])
    writes = [o for o in outcomes if o.kind == "write"]
    assert {o.status for o in writes} == {503}, writes
    assert max(o.seconds for o in writes) < DB_TIMEOUT + MARGIN, writes
    ready = [o for o in outcomes if o.kind == "readyz"]
    assert {o.status for o in ready} == ({200} if reads_answer else {503}), ready
    assert max(o.seconds for o in ready) < DB_TIMEOUT + MARGIN, ready
    # A valid key the server has not seen yet: checked if the database reads, refused
    # with 503 if it does not — never decided unchecked.
    strangers = [o for o in outcomes if o.kind == "unknown-key"]
    assert {o.status for o in strangers} == ({200} if reads_answer else {503}), strangers
    assert max(o.seconds for o in strangers) < DB_TIMEOUT + MARGIN, strangers
    assert p99 < HOT_P99, f"hot-path p99 {p99 * 1000:.1f} ms: {sorted(o.seconds for o in hot)}"
    return {
        "hot_p99_ms": round(p99 * 1000, 1),
        "write_max_s": round(max(o.seconds for o in writes), 2),
    }


# -- the database going away --------------------------------------------------------------


def _parent(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no parent for {pid}")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, AssertionError):
                if _parent(int(entry.name)) == pid:
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def _postgres_stopped(store: Store) -> Iterator[None]:
    """SIGSTOP this test cluster's postmaster and every process it started (found from a
    backend of this store); SIGCONT to all of them however the block ends."""
    with store.read() as session:
        backend = int(session.scalar(text("SELECT pg_backend_pid()")))
    postmaster = _parent(backend)
    command = Path(f"/proc/{postmaster}/cmdline").read_bytes()
    assert b"postgres" in command, f"{postmaster} is not a postmaster: {command!r}"
    stopped: list[int] = []
    try:
        os.kill(postmaster, signal.SIGSTOP)  # first, so that it forks no one new
        stopped.append(postmaster)
        for child in _children(postmaster):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGSTOP)
                stopped.append(child)
        yield
    finally:
        for pid in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def _sqlite_locked(url: str) -> Iterator[None]:
    """Another process's writer: holds SQLite's write lock for the whole block."""
    path = make_url(url).database
    assert path
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
    finally:
        connection.rollback()
        connection.close()


@dataclass
class Server:
    url: str
    store_url: str
    store: Store
    settings: Settings
    keys: dict[str, str]
    log: Path


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    """``brightline serve`` in a process of its own (the test's client would otherwise
    share its interpreter), over a store with the example world and three keys."""
    settings = Settings(
        database_url=SecretStr(store_url),
        data_dir=tmp_path / "data",
        admin_rate_per_minute=100_000,
        db_timeout=DB_TIMEOUT,
    )
    store = open_store(settings, migrate=False)
    ensure_key(settings)
    # "stranger" is a valid key that the server has not seen when the database goes away.
    keys = provision(
        store,
        settings,
        {
            "point": [Role.ENFORCEMENT_POINT],
            "stranger": [Role.ENFORCEMENT_POINT],
            "alice": [Role.INVESTIGATOR],
        },
    )
    import_world(store, EXAMPLE, actor=principal_of(store, settings, keys[ROOT]))
    env = {
        "BRIGHTLINE_DATABASE_URL": store_url,
        "BRIGHTLINE_DATA_DIR": str(settings.data_dir),
        "BRIGHTLINE_ADMIN_RATE_PER_MINUTE": "100000",
        "BRIGHTLINE_DB_TIMEOUT": str(DB_TIMEOUT),
    }
    log = tmp_path / "server.log"
    try:
        with serving(["--host", "127.0.0.1"], env=env, log=log) as served:
            yield Server(served.url, store_url, store, settings, keys, log)
    finally:
        store.close()


def _key_id(key: str) -> str:
    return key.removeprefix("bl_").split("_", 1)[0]


def test_the_server_answers_from_memory_while_the_database_does_not_answer(
    server: Server,
) -> None:
    started = time.monotonic()
    postgres = server.store.backend == "postgresql"
    point = _auth(server.keys["point"])
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # The point's and alice's keys are known to the server; the stranger's is not.
        assert http.post("/v1/decisions", json=DECISION, headers=point).is_success
        assert http.get("/v1/restrictions", headers=_auth(server.keys["alice"])).is_success
        outage = _postgres_stopped(server.store) if postgres else _sqlite_locked(server.store_url)
        healthy, waves = asyncio.run(_waves(server, outage))
        assert {o.status for o in healthy} == {200}, healthy
        measured = [_check_wave(outcomes, reads_answer=not postgres) for outcomes in waves]
        baseline = round(_p99([o.seconds for o in healthy]) * 1000, 1)
        print(f"\n{server.store.backend}: hot p99 {baseline} ms with the database; {measured}")

        # Back without a restart: ready, writable, and a revocation made outside this
        # server (as `brightline apikey revoke` would) applies as soon as the database
        # reports it.
        deadline = time.monotonic() + 15
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the server did not become ready again"
            time.sleep(0.1)
        r = http.post(
            "/v1/restrictions", json=_proposal("r-after"), headers=_auth(server.keys["alice"])
        )
        assert r.status_code == 200, r.text
        root = principal_of(server.store, server.settings, server.keys[ROOT])
        revoke_key(server.store, _key_id(server.keys["point"]), actor=root)
        revoked_at = time.monotonic()
        while http.post("/v1/decisions", json=DECISION, headers=point).status_code != 401:
            assert time.monotonic() - revoked_at < 2, "the revoked key is still served"
            time.sleep(0.02)
        stranger = http.post("/v1/decisions", json=DECISION, headers=_auth(server.keys["stranger"]))
        assert stranger.status_code == 200, stranger.text
    assert time.monotonic() - started < 30
