"""API benchmark on loopback: decision throughput over HTTP, and bundle propagation.

    python bench/api.py [--seconds 10] [--clients 100] [--connections 4]

Starts ``brightline serve`` in its own process on a fresh SQLite store (the example
world), then, from this process:

1. single decisions: ``--connections`` keep-alive connections in as many load
   processes, each sending ``POST /v1/decisions`` back to back for ``--seconds``;
2. batch decisions: the same with ``POST /v1/decisions/batch`` of 10,000 requests
   (about 1% of them denied), counting decisions per second — floor 200,000/s;
3. propagation: ``--clients`` enforcement-point clients (brightline.enforcement.Client)
   long-poll for bundles; a restriction is proposed and approved through the API; the
   time from the approval's response until each client denies is recorded — floor:
   p99 ≤ 1 s.

The server and the load share the machine's two cores, as they would not in production.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
BRIGHTLINE = str(Path(sys.executable).with_name("brightline"))
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
PROPOSAL = (
    "id: r-bench\nscope: unit-9900\nactions: ['storage.*:*']\nregions: [westeurope]\n"
    "reason: {policy: mass-surveillance}\n"
)


def start_server(directory: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "BRIGHTLINE_DATA_DIR": str(directory / "data"),
        "BRIGHTLINE_DATABASE_URL": f"sqlite:///{directory / 'bench.db'}",
        "BRIGHTLINE_ADMIN_RATE_PER_MINUTE": "100000",
    }
    # Output goes to a file: a pipe nobody reads would fill and stall the server.
    log = (directory / "server.log").open("w")
    server = subprocess.Popen(
        [BRIGHTLINE, "serve", "--port", str(port), "--world", str(ROOT / "examples" / "world")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    key = ""
    deadline = time.monotonic() + 60
    while not key:
        found = re.search(r"(bl_[A-Za-z0-9_\-]+)", (directory / "server.log").read_text())
        if found:
            key = found.group(1)
        elif time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError(
                "the server did not start: " + (directory / "server.log").read_text()
            )
        time.sleep(0.1)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not become ready")
        time.sleep(0.2)
    return server, key


def _load(
    url: str, key: str, path: str, body: bytes, seconds: float, per_request: int, out: mp.Queue
) -> None:  # type: ignore[type-arg]
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    done = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        http.post(path, content=body)  # warm up
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            response = http.post(path, content=body)
            if response.status_code != 200:
                raise RuntimeError(response.text)
            orjson.loads(response.content)
            done += per_request
        out.put((done, time.perf_counter() - started))


def load(
    url: str, key: str, path: str, body: bytes, per_request: int, seconds: float, connections: int
) -> float:
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    workers = [
        mp.Process(target=_load, args=(url, key, path, body, seconds, per_request, queue))
        for _ in range(connections)
    ]
    for w in workers:
        w.start()
    results = [queue.get(timeout=seconds + 120) for _ in workers]
    for w in workers:
        w.join()
    return sum(done for done, _ in results) / max(elapsed for _, elapsed in results)


def propagation(url: str, key: str, clients: int, directory: Path) -> list[float]:
    from brightline.enforcement import Client
    from brightline.policy import Request

    verifier = (directory / "data" / "ledger" / "log.pub").read_text().strip()
    ep_key = create_key(url, key)
    pool = [
        Client(
            url,
            api_key=ep_key,
            verifier=verifier,
            cache_dir=directory / f"ep-{i}",
            enforcement_point=f"ep-{i}",
        )
        for i in range(clients)
    ]
    for c in pool:
        c.refresh()
        c.start(wait=30, report_every=3600)
    request = Request(
        DENY["node"], DENY["service"], DENY["operation"], DENY["region"], datetime.now(UTC)
    )
    assert not any(c.decide(request).denied for c in pool)
    seen: dict[int, float] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and len(seen) < clients:
            now = time.perf_counter()
            for i, c in enumerate(pool):
                if i not in seen and c.decide(request).denied:
                    seen[i] = now
            time.sleep(0.001)

    # Another principal approves: four eyes hold over HTTP too.
    proposer = httpx.Client(
        base_url=url, headers={"authorization": f"Bearer {create_key(url, key, 'investigator')}"}
    )
    approver = httpx.Client(
        base_url=url, headers={"authorization": f"Bearer {create_key(url, key, 'approver')}"}
    )
    assert proposer.post("/v1/restrictions", json={"restrictions": PROPOSAL}).status_code == 200
    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.perf_counter()
    response = approver.post("/v1/restrictions/r-bench/approve")
    assert response.status_code == 200, response.text
    watcher.join(timeout=30)
    stop.set()
    for c in pool:
        c.stop()
    return [seen[i] - started for i in sorted(seen)] + [float("inf")] * (clients - len(seen))


def create_key(url: str, admin_key: str, role: str = "enforcement-point") -> str:
    """A key for a new principal carrying ``role``, which the store grants it: made by the
    server's first admin with the CLI, as an operator would."""
    name = f"bench-{role}-{time.monotonic_ns()}"
    as_admin = {**_ENV, "BRIGHTLINE_API_KEY": admin_key}
    out = subprocess.run(
        [BRIGHTLINE, "apikey", "create", name, "--role", role],
        env=as_admin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"(bl_[A-Za-z0-9_\-]+)", out)
    assert found, out
    subprocess.run(
        [BRIGHTLINE, "principal", "grant", name, role],
        env=as_admin,
        capture_output=True,
        check=True,
    )
    return found.group(1)


_ENV: dict[str, str] = {}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="brightline-api-bench-") as tmp:
        directory = Path(tmp)
        _ENV.update(
            {
                **os.environ,
                "BRIGHTLINE_DATA_DIR": str(directory / "data"),
                "BRIGHTLINE_DATABASE_URL": f"sqlite:///{directory / 'bench.db'}",
            }
        )
        server, key = start_server(directory, args.port)
        url = f"http://127.0.0.1:{args.port}"
        try:
            decider = create_key(url, key)
            single_body = json.dumps(ALLOW).encode()
            single = load(
                url, decider, "/v1/decisions", single_body, 1, args.seconds, args.connections
            )
            rows = [DENY if i % 100 == 0 else ALLOW for i in range(10_000)]
            batch_body = json.dumps({"requests": rows}).encode()
            batch = load(
                url,
                decider,
                "/v1/decisions/batch",
                batch_body,
                10_000,
                args.seconds,
                args.connections,
            )
            delays = propagation(url, key, args.clients, directory)
        finally:
            server.terminate()
            server.wait(timeout=30)
    ordered = sorted(delays)
    p50 = statistics.median(ordered)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    table = Table(title="API benchmark (loopback, server and load on the same 2 cores)")
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("floor", justify="right")
    table.add_column("")
    table.add_row("single decisions over HTTP", f"{single:,.0f} /s", "", "")
    ok = batch >= 200_000
    table.add_row(
        "batch decisions over HTTP (10,000 a request)",
        f"{batch:,.0f} /s",
        "≥ 200,000 /s",
        "[green]ok[/]" if ok else "[red]MISSED[/]",
    )
    table.add_row(f"propagation to {len(ordered)} clients, p50", f"{p50 * 1000:.0f} ms", "", "")
    ok2 = p99 <= 1.0
    table.add_row(
        f"propagation to {len(ordered)} clients, p99",
        f"{p99 * 1000:.0f} ms",
        "≤ 1,000 ms",
        "[green]ok[/]" if ok2 else "[red]MISSED[/]",
    )
    table.add_row("propagation, slowest client", f"{ordered[-1] * 1000:.0f} ms", "", "")
    console.print(table)
    return 0 if ok and ok2 else 1


if __name__ == "__main__":
    sys.exit(main())
