"""API benchmark on loopback: single decisions against a bare ASGI endpoint, batch
decisions, and how fast an approval reaches 100 long-polling enforcement points.

    python bench/api.py [--seconds 5] [--rounds 3] [--clients 100] [--store-url URL]

Needs ``wrk``, the C load generator (Debian's package: ``apt-get install -y wrk``). For
the PostgreSQL figures it starts a throwaway cluster with
``scripts/postgres-test-cluster.sh`` (which installs PostgreSQL from Debian's packages if
need be), unless ``--store-url`` names an empty database, or ``--no-postgres`` skips them.

1. Single decisions: ``brightline serve`` (SQLite, the example world) and a bare ASGI
   endpoint answering a fixed JSON body of the same size, under the same uvicorn with
   the same settings, each in a process of its own. ``wrk`` (1 thread, 8 connections, a
   Lua script posting the same body with the same headers to both) loads one, then the
   other, ``--rounds`` times; each endpoint's median round is reported (requests/s,
   p50/p99 latency) with the server's CPU time per request. Floor: ``/v1/decisions``
   serves at least 0.5 of the bare endpoint's requests/s.
2. Batch decisions: ``wrk`` (1 thread, 2 connections) posting 10,000 requests a call
   (1% denied) to ``/v1/decisions/batch``. Floor: 200,000 decisions/s.
3. Propagation: ``--clients`` enforcement points (brightline.enforcement.Client), each
   long-polling in a thread of its own, spread over a few processes. A restriction is
   approved — through the server's API, then (another restriction) in a Python process
   of its own calling the same service function, as another replica or a job would —
   and the time from the approval's response (the function's return) until each client
   first denies is recorded (the first client's delay is the server's part, the spread
   the clients'): the moment the bundle comes into force in the client (``on_bundle``),
   when its deciding threads see it (its cache file is written after). With it the CPU
   time the client processes spend per client and approval, the server's in the second
   after the response to the approval through the API, and the server's refresh that
   brought each approval's bundle into force, stage by stage (its ``bundle-in-force``
   log line: reading the store, compiling, signing, the ledger sync, publishing).
   On SQLite the server polls the store every 0.1 s; on PostgreSQL the commit is pushed
   (LISTEN/NOTIFY). Floor: p99 ≤ 100 ms on PostgreSQL. ``--no-sqlite`` measures
   PostgreSQL alone.

Everything shares the machine's two cores (wrk and the server each take one), as it
would not in production; the ratio is measured in the same run for that reason.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
console = Console()
DENY = {
    "node": "sub-9900-archive",
    "service": "storage.blob",
    "operation": "write",
    "region": "westeurope",
}
ALLOW = {
    "node": "sub-hq-mail",
    "service": "storage.blob",
    "operation": "write",
    "region": "westeurope",
}
#: What the bare endpoint answers: an allow of the size Brightline's is.
BARE_ANSWER = json.dumps(
    {
        "effect": "allow",
        "restrictions": [],
        "would_deny": [],
        "version": "0" * 64,
        "explanation": "Allowed: storage.blob:write by sub-hq-mail in westeurope at "
        "2026-12-03T07:45:54.687544Z; no restriction in force covers it.",
    },
    separators=(",", ":"),
).encode()
#: The uvicorn settings of ``brightline serve`` (brightline.cli.serve), for both servers.
UVICORN = {"log_level": "warning", "access_log": False, "timeout_keep_alive": 75}
#: Approve a restriction in another process, as another server or a job would, and
#: print the (wall-clock) time its approval returned: committed, the ledger synced.
APPROVE = """
import sys, time
from brightline.config import Settings
from brightline.service.access import Authenticator
from brightline.service.restrictions import approve_restriction
from brightline.store import open_store

settings = Settings.from_env()
with open_store(settings) as store:
    actor = Authenticator(store, settings).principal_for(sys.argv[1])
    approve_restriction(store, sys.argv[2], actor=actor, settings=settings)
    print(time.time())
"""
WRK_INSTALL = "wrk not found: install it with `apt-get install -y wrk` (Debian's package)"


def proposal(restriction: str, scope: str) -> str:
    return (
        f"id: {restriction}\nscope: {scope}\nactions: ['storage.*:*']\nregions: [westeurope]\n"
        "reason: {policy: mass-surveillance}\n"
    )


# -- servers -------------------------------------------------------------------------


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The reference: reads the request, answers BARE_ANSWER, nothing else."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BARE_ANSWER)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BARE_ANSWER})


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app, host="127.0.0.1", port=port, **UVICORN)  # type: ignore[arg-type]


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    directory: Path
    env: dict[str, str]
    admin_key: str = ""

    def cli(self, key: str, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", "from brightline.cli import main; main()", *args],
            env={**self.env, "BRIGHTLINE_API_KEY": key, "COLUMNS": "100000"},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"brightline {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def python(self, code: str, *args: str) -> str:
        """``code`` run by Python in a process of its own, on the server's store."""
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{code}: {done.stdout}{done.stderr}")
        return done.stdout

    def key(self, role: str) -> str:
        """A key for a new principal carrying ``role``, which the store grants it: made
        by the server's first admin with the CLI, as an operator would."""
        name = f"bench-{role}-{time.monotonic_ns()}"
        out = self.cli(self.admin_key, "apikey", "create", name, "--role", role)
        found = re.search(r"(bl_[A-Za-z0-9_\-]+)", out)
        assert found, out
        self.cli(self.admin_key, "principal", "grant", name, role)
        return found.group(1)


def _wait_ready(url: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the server did not become ready: " + log.read_text())
        time.sleep(0.2)


@contextmanager
def brightline_server(directory: Path, port: int, store_url: str) -> Iterator[Server]:
    directory.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "BRIGHTLINE_DATA_DIR": str(directory / "data"),
        "BRIGHTLINE_DATABASE_URL": store_url,
        "BRIGHTLINE_ADMIN_RATE_PER_MINUTE": "100000",
    }
    log = directory / "server.log"
    # Output goes to a file: a pipe nobody reads would fill and stall the server.
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from brightline.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--world",
            str(ROOT / "examples" / "world"),
        ],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process, log)
        found = re.search(r"(bl_[A-Za-z0-9_\-]+)", log.read_text())
        assert found, log.read_text()
        yield Server(process, url, directory, env, found.group(1))
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def bare_server(port: int, directory: Path) -> Iterator[subprocess.Popen[str]]:
    log = directory / "bare.log"
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-bare", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, log)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def postgres(store_url: str | None) -> Iterator[str]:
    """``store_url``, or a throwaway cluster's database for the run."""
    if store_url:
        yield store_url
        return
    script = ROOT / "scripts" / "postgres-test-cluster.sh"
    parent = Path(tempfile.mkdtemp(prefix="brightline-api-bench-pg-"))
    parent.chmod(0o755)  # as root, the cluster belongs to the postgres user
    directory = parent / "cluster"
    url = subprocess.run(
        [str(script), "start", str(directory)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([str(script), "stop", str(directory)], capture_output=True, check=False)
        shutil.rmtree(parent, ignore_errors=True)


# -- wrk -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert found, text
    return float(found.group(1)) * _UNITS[found.group(2)]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: Path, *, seconds: float, connections: int, pid: int) -> Load:
    cpu = _cpu_seconds(pid)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = _cpu_seconds(pid) - cpu
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failures at {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return Load(rate, p50, p99, cpu / max(done, 1) * 1e6)


def lua_post(path: Path, body_file: Path, key: str) -> Path:
    """A wrk script posting the contents of ``body_file`` as JSON with ``key``."""
    path.write_text(
        f'local f = assert(io.open("{body_file}", "rb"))\n'
        'wrk.body = f:read("*a")\n'
        "f:close()\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    return path


def median_round(rounds: list[Load]) -> Load:
    ordered = sorted(rounds, key=lambda load: load.requests_per_second)
    return ordered[(len(ordered) - 1) // 2]


# -- propagation ---------------------------------------------------------------------


def _clients(
    url: str,
    key: str,
    verifier: str,
    directory: str,
    first: int,
    count: int,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """``count`` clients in this process, each refreshing in a thread of its own; for
    each restriction, the (wall-clock) time at which each client first denied."""
    try:
        _follow(url, key, verifier, directory, first, count, ready, go, out)
    except Exception as exc:
        ready.put(repr(exc))  # the parent stops at once rather than waiting
        raise


def _follow(
    url: str,
    key: str,
    verifier: str,
    directory: str,
    first: int,
    count: int,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    from brightline.bundle import Bundle
    from brightline.enforcement import Client
    from brightline.policy import Request

    nodes = {"r-api": "sub-hq-payroll", "r-cli": "sub-med-records"}
    requests = {
        r: Request(node, "storage.blob", "write", "westeurope", datetime.now(UTC))
        for r, node in nodes.items()
    }
    seen: dict[str, list[float]] = {r: [] for r in requests}
    lock = threading.Lock()
    stop = threading.Event()
    pending = {i: set(requests) for i in range(count)}

    def in_force(i: int) -> Callable[[Bundle], None]:
        """When client ``i`` first denies each request: as a new bundle comes into force,
        the moment a gateway's deciding threads see it (its cache file is written after)."""

        def heard(_: Bundle) -> None:
            now = time.time()  # wall clock: compared with other processes' times
            for r in sorted(pending[i]):
                if pool[i].decide(requests[r]).denied:
                    pending[i].discard(r)
                    with lock:
                        seen[r].append(now)

        return heard

    pool = [
        Client(
            url,
            api_key=key,
            verifier=verifier,
            cache_dir=Path(directory) / f"ep-{first + i}",
            enforcement_point=f"ep-{first + i}",
            on_bundle=in_force(i),
        )
        for i in range(count)
    ]
    for c in pool:
        c.refresh()
    assert not seen["r-api"]
    assert not seen["r-cli"]

    def follow(i: int) -> None:
        while pending[i] and not stop.is_set():
            pool[i].refresh(wait=30)

    threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    cpu = time.process_time()  # from here on the clients only follow the approvals
    ready.put(count)
    go.wait(600)
    for t in threads:
        t.join(timeout=60)
    stop.set()
    out.put((seen, time.process_time() - cpu))


@dataclass(frozen=True)
class Propagation:
    #: Per restriction, the seconds from its approval to each client's first denial.
    delays: dict[str, list[float]]
    #: CPU seconds the client processes spent per client and approval (fetching,
    #: checking and installing the new bundle, long-polling again).
    client_cpu: float
    #: CPU seconds the server spent in the second after the response to the approval
    #: through the API: the bundle sent to every client and their long polls again.
    server_cpu: float
    #: Per approval, the server's refresh that brought its bundle into force, stage by
    #: stage (its ``bundle-in-force`` log line): ``{stage: {"ms": wall, "cpu_ms": CPU}}``.
    stages: dict[str, dict[str, dict[str, float]]]


def propagation(server: Server, clients: int, processes: int) -> Propagation:
    """For an approval through the API (``r-api``) and one made by another process
    (``r-cli``): the seconds from the approval's response to each client's first
    denial, and the clients' CPU time."""
    verifier = (server.directory / "data" / "ledger" / "log.pub").read_text().strip()
    ep_key = server.key("enforcement-point")
    investigator = server.key("investigator")
    approver = server.key("approver")
    context = mp.get_context("spawn")
    ready, out = context.Queue(), context.Queue()
    go = context.Event()
    share = [clients // processes + (i < clients % processes) for i in range(processes)]
    workers = []
    first = 0
    for count in share:
        worker = context.Process(
            target=_clients,
            args=(
                server.url,
                ep_key,
                verifier,
                str(server.directory),
                first,
                count,
                ready,
                go,
                out,
            ),
        )
        worker.start()
        workers.append(worker)
        first += count
    for _ in workers:
        started = ready.get(timeout=300)
        if isinstance(started, str):
            raise RuntimeError(f"a client process failed: {started}")
    time.sleep(1.0)  # every long poll is waiting
    approved: dict[str, float] = {}
    as_investigator = {"authorization": f"Bearer {investigator}"}
    as_approver = {"authorization": f"Bearer {approver}"}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        body = {"restrictions": proposal("r-api", "sub-hq-payroll")}
        r = http.post("/v1/restrictions", json=body, headers=as_investigator)
        assert r.status_code == 200, r.text
        time.sleep(0.5)
        r = http.post("/v1/restrictions/r-api/approve", headers=as_approver)
        approved["r-api"] = time.time()
        server_cpu = _cpu_seconds(server.process.pid)
        assert r.status_code == 200, r.text
    time.sleep(max(0.0, approved["r-api"] + 1.0 - time.time()))
    server_cpu = _cpu_seconds(server.process.pid) - server_cpu
    time.sleep(1.0)
    file = server.directory / "r-cli.yaml"
    file.write_text(proposal("r-cli", "sub-med-records"))
    server.cli(investigator, "restrict", "propose", str(file))
    time.sleep(0.5)
    approved["r-cli"] = float(server.python(APPROVE, approver, "r-cli").strip())
    go.set()
    delays: dict[str, list[float]] = {r: [] for r in approved}
    client_cpu = 0.0
    for _ in workers:
        seen, cpu = out.get(timeout=120)
        client_cpu += cpu
        for r, times in seen.items():
            delays[r] += [t - approved[r] for t in times]
    for worker in workers:
        worker.join(timeout=30)
    for r in delays:
        delays[r] = sorted(delays[r]) + [float("inf")] * (clients - len(delays[r]))
    # The last two bundles that came into force are the two approvals', in order.
    in_force = [
        json.loads(line[line.index("{") :])["stages"]
        for line in (server.directory / "server.log").read_text().splitlines()
        if '"bundle-in-force"' in line
    ]
    stages = dict(zip(approved, in_force[-len(approved) :], strict=True))
    return Propagation(delays, client_cpu / (clients * len(approved)), server_cpu, stages)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, int(len(ordered) * q + 0.5) - 1)]


# -- main ----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="single-decision rounds")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--store-url", help="an empty PostgreSQL database for step 3")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="propagation on PostgreSQL only")
    parser.add_argument(
        "--propagation-only", action="store_true", help="skip the single and batch loads"
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if shutil.which("wrk") is None:
        console.print(f"[red]{WRK_INSTALL}[/]")
        return 2
    rows: list[tuple[str, str, str, bool | None]] = []
    with tempfile.TemporaryDirectory(prefix="brightline-api-bench-") as tmp:
        directory = Path(tmp)
        sqlite = f"sqlite:///{directory / 'sqlite' / 'bench.db'}"
        if not (args.propagation_only and args.no_sqlite):
            with (
                brightline_server(directory / "sqlite", args.port, sqlite) as server,
                bare_server(args.port + 1, directory) as bare,
            ):
                if not args.propagation_only:
                    rows += loads(server, bare, directory, args)
                if not args.no_sqlite:
                    measured = propagation(server, args.clients, args.client_processes)
                    rows += propagation_rows("SQLite, polled", measured, floor=False)
        if not args.no_postgres:
            with (
                postgres(args.store_url) as url,
                brightline_server(directory / "postgres", args.port + 2, url) as server,
            ):
                measured = propagation(server, args.clients, args.client_processes)
            rows += propagation_rows("PostgreSQL, pushed", measured, floor=True)
    table = Table(title="API benchmark (loopback; wrk, the server and the clients share 2 cores)")
    for column, justify in [
        ("measure", "left"),
        ("figure", "right"),
        ("floor", "right"),
        ("", "left"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for measure, figure, floor, ok in rows:
        mark = "" if ok is None else "[green]ok[/]" if ok else "[red]MISSED[/]"
        table.add_row(measure, figure, floor, mark)
    console.print(table)
    return 0 if all(ok is not False for *_, ok in rows) else 1


def loads(
    server: Server, bare: subprocess.Popen[str], directory: Path, args: argparse.Namespace
) -> list[tuple[str, str, str, bool | None]]:
    """Steps 1 and 2: single decisions beside the bare endpoint, then batches."""
    rows: list[tuple[str, str, str, bool | None]] = []
    decider = server.key("enforcement-point")
    (directory / "single.json").write_text(json.dumps(ALLOW))
    script = lua_post(directory / "single.lua", directory / "single.json", decider)
    single = f"{server.url}/v1/decisions"
    reference = f"http://127.0.0.1:{args.port + 1}/v1/decisions"
    wrk(single, script, seconds=1, connections=8, pid=server.process.pid)  # warm up
    ours: list[Load] = []
    theirs: list[Load] = []
    for _ in range(args.rounds):
        theirs.append(wrk(reference, script, seconds=args.seconds, connections=8, pid=bare.pid))
        ours.append(
            wrk(single, script, seconds=args.seconds, connections=8, pid=server.process.pid)
        )
    rows += single_rows(median_round(ours), median_round(theirs))
    batch_rows = [DENY if i % 100 == 0 else ALLOW for i in range(10_000)]
    (directory / "batch.json").write_text(json.dumps({"requests": batch_rows}))
    script = lua_post(directory / "batch.lua", directory / "batch.json", decider)
    batch = wrk(
        f"{server.url}/v1/decisions/batch",
        script,
        seconds=args.seconds,
        connections=2,
        pid=server.process.pid,
    )
    rate = batch.requests_per_second * 10_000
    rows.append(
        (
            "batch decisions (10,000 a request)",
            f"{rate:,.0f} /s",
            "≥ 200,000 /s",
            rate >= 200_000,
        )
    )
    return rows


def single_rows(ours: Load, theirs: Load) -> list[tuple[str, str, str, bool | None]]:
    ratio = ours.requests_per_second / theirs.requests_per_second
    return [
        (
            "bare ASGI endpoint (same uvicorn), wrk -t1 -c8",
            f"{theirs.requests_per_second:,.0f} /s  p50 {theirs.p50_ms:.2f} ms  "
            f"p99 {theirs.p99_ms:.2f} ms  {theirs.cpu_us_per_request:.0f} µs CPU",
            "",
            None,
        ),
        (
            "POST /v1/decisions, wrk -t1 -c8",
            f"{ours.requests_per_second:,.0f} /s  p50 {ours.p50_ms:.2f} ms  "
            f"p99 {ours.p99_ms:.2f} ms  {ours.cpu_us_per_request:.0f} µs CPU",
            "",
            None,
        ),
        ("single decisions / bare endpoint (requests/s)", f"{ratio:.2f}", "≥ 0.50", ratio >= 0.5),
    ]


def propagation_rows(
    store: str, measured: Propagation, *, floor: bool
) -> list[tuple[str, str, str, bool | None]]:
    delays = measured.delays
    rows: list[tuple[str, str, str, bool | None]] = []
    for restriction, how in [
        ("r-api", "approved through the API"),
        ("r-cli", "approved by another process"),
    ]:
        ordered = delays[restriction]
        p50, p99 = percentile(ordered, 0.5), percentile(ordered, 0.99)
        rows.append(
            (
                f"propagation to {len(ordered)} clients, {store}, {how}: first / p50 / p99 / max",
                f"{ordered[0] * 1000:.0f} / {p50 * 1000:.0f} / {p99 * 1000:.0f} / "
                f"{ordered[-1] * 1000:.0f} ms",
                "p99 ≤ 100 ms" if floor else "",
                p99 <= 0.1 if floor else None,
            )
        )
    for restriction, how in [("r-api", "through the API"), ("r-cli", "by another process")]:
        stages = measured.stages[restriction]
        total = sum(t["ms"] for t in stages.values()), sum(t["cpu_ms"] for t in stages.values())
        rows.append(
            (
                f"server refresh, {store}, approved {how}: wall / CPU ms per stage",
                "  ".join(f"{name} {t['ms']:.0f}/{t['cpu_ms']:.0f}" for name, t in stages.items())
                + f"  total {total[0]:.0f}/{total[1]:.0f}",
                "",
                None,
            )
        )
    rows.append(
        (
            f"client CPU per client and approval, {store}",
            f"{measured.client_cpu * 1000:.1f} ms",
            "",
            None,
        )
    )
    rows.append(
        (
            f"server CPU in the second after the approval's response, {store}",
            f"{measured.server_cpu * 1000:.0f} ms",
            "",
            None,
        )
    )
    return rows


if __name__ == "__main__":
    sys.exit(main())
