"""Provider-scale benchmark (issue 20): worlds of 100k, 500k and 1.5M nodes, stage by stage.

    python bench/scale.py [--sizes 100k,500k,1.5m] [--backends sqlite,postgresql]
                          [--seed 7] [--requests 200000] [--json F]
    scripts/postgres-test-cluster.sh run env PYTHONPATH=src python bench/scale.py

For each size it writes a seeded world into a temporary directory — about 9 nodes per
customer (the customer, two units, six subscriptions), one restriction per two customers
(about 80,000 at 1.5M nodes), the example catalog — and measures, each stage in a fresh
process so that one stage's memory does not weigh on the next:

* ``directory.jsonl``: ``load_directory`` (read, validate, build the columnar directory)
  against a bare orjson parse of the same file (one ``orjson.loads`` per line) measured
  in the same process; the ratio's floor is ≤ 3×.
* ``restrictions.yaml``: reading and validating it against the loaded world against a
  bare ``yaml.load(text, Loader=yaml.CSafeLoader)`` of the same text, same process;
  floor ≤ 1.5×.
* in another fresh process, the world and restrictions loaded (``load_world_dir``) and
  compiled: compile time, the RSS of the process holding them (floor ≤ 1 GiB) and its
  peak while loading, and single-decision p99 (floor ≤ 5 µs).
* for each database of ``--backends``, in a fresh process and a fresh store:
  ``world import`` of the world (``brightline.service.import_world``, the path of
  ``brightline world import``; floor ≤ 60 s on SQLite), then a re-import of the same
  world with 1% of its nodes changed (0.6% renamed and re-attributed, 0.2% moved to
  another parent, 0.2% new subscriptions in the middle of the file; floor ≤ 5 s),
  each with the store's part of it (``add_world_version``), the rows the re-import
  wrote against the nodes it changed, and loading the newest world from the store
  (``latest_world``). PostgreSQL comes from ``BRIGHTLINE_TEST_POSTGRES_URL`` (run under
  ``scripts/postgres-test-cluster.sh run``); each run gets a database of its own. The
  CPU time beside these is this process's only: PostgreSQL's own work is not in it.

* ``console`` (``--no-console`` to skip): the world with one more customer of 50,000
  subscriptions (50 units, half of each unit's subscriptions under a team;
  ``write_big_customer``) imported into a fresh SQLite store with the world's
  restrictions in force (``bootstrap_restrictions``), served by uvicorn on loopback; a
  console session signed in with an investigator's key times, through HTTP, the tree
  search (no match: every node searched; one match; the full page), the node pages of
  the customer and of one of its subscriptions, the tester (``…/test``, as htmx asks it)
  and the preview of an impact plan over the whole customer, one unit exempt
  (``POST /console/cases/C-1/plan``). Each: the median of five runs after a first one,
  the first beside it (it builds the console's indexes for the world in force). Floors:
  ≤ 200 ms, the plan ≤ 2 s.

Then it prints the growth exponent of each stage between consecutive sizes
(``log(t2/t1) / log(n2/n1)`` on CPU seconds and on RSS: 1 is linear). Timings are wall
time, CPU time beside them; the machine is shared, so read the ratios measured in the same
process (on CPU time).

Stages are rows of one table (``STAGES``, and ``import_stages`` for each database):
further stages (serve until ready) are added there. The floors are checked at the
largest size run.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=160)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
EXAMPLE_CATALOG = Path(__file__).parents[1] / "examples" / "world" / "catalog.yaml"
SUBSCRIPTIONS_PER_CUSTOMER = 6
UNITS_PER_CUSTOMER = 2
NODES_PER_CUSTOMER = 1 + UNITS_PER_CUSTOMER + SUBSCRIPTIONS_PER_CUSTOMER
BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL_VARIABLE = "BRIGHTLINE_TEST_POSTGRES_URL"
FLOOR_FULL_IMPORT_SQLITE_S = 60.0
FLOOR_REIMPORT_S = 5.0


def parse_size(text: str) -> int:
    """``100k`` → 100000, ``1.5m`` → 1500000, ``2000`` → 2000."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    return round(float(number) * scale)


def size_label(nodes: int) -> str:
    if nodes >= 1_000_000:
        return f"{nodes / 1e6:g}M"
    return f"{nodes / 1e3:g}k" if nodes >= 1_000 else str(nodes)


# -- generating a world --------------------------------------------------------------------


def write_world(target: Path, nodes: int, seed: int) -> dict[str, int]:
    """Write ``directory.jsonl``, ``catalog.yaml`` and ``restrictions.yaml`` for about
    ``nodes`` nodes; return the counts written."""
    import yaml

    rng = random.Random(seed)
    catalog = yaml.safe_load(EXAMPLE_CATALOG.read_text())
    services = [(s["id"], s["operations"]) for s in catalog["services"]]
    regions = [r["id"] for r in catalog["regions"]]
    (target / "catalog.yaml").write_text(EXAMPLE_CATALOG.read_text())
    customers = max(1, nodes // NODES_PER_CUSTOMER)
    written = 0
    restrictions: list[str] = []
    with (target / "directory.jsonl").open("w") as out:
        for c in range(customers):
            cid = f"cust-{c:07d}"
            units = [f"{cid}-u{u}" for u in range(UNITS_PER_CUSTOMER)]
            subs = [f"{cid}-s{s}" for s in range(SUBSCRIPTIONS_PER_CUSTOMER)]
            lines = [{"id": cid, "parent": None, "kind": "customer", "name": f"Customer {c}"}]
            if c % 10 == 0:
                lines[0]["attrs"] = {"country": "NL", "sector": "public"}
            lines.append({"id": units[0], "parent": cid, "kind": "unit", "name": "Operations"})
            lines.append({"id": units[1], "parent": units[0], "kind": "unit", "name": "Research"})
            for s, sid in enumerate(subs):
                parent = units[s % 2] if s % 3 else cid
                lines.append(
                    {"id": sid, "parent": parent, "kind": "subscription", "name": f"Sub {s}"}
                )
            for line in lines:
                out.write(json.dumps(line) + "\n")
            written += len(lines)
            if c % 2 == 0:
                restrictions.append(_restriction(rng, c, cid, units, subs, services, regions))
    (target / "restrictions.yaml").write_text("".join(restrictions))
    return {"nodes": written, "restrictions": len(restrictions)}


def _restriction(
    rng: random.Random,
    c: int,
    cid: str,
    units: list[str],
    subs: list[str],
    services: list[tuple[str, list[str]]],
    regions: list[str],
) -> str:
    scope = rng.choice([cid, *units])
    below = {cid: [*units, *subs], units[0]: [units[1], "-s1", "-s2", "-s4", "-s5"]}
    actions = []
    for _ in range(rng.randint(1, 3)):
        service, operations = rng.choice(services)
        kind = rng.random()
        if kind < 0.4:
            actions.append(f"{service}:{rng.choice(operations)}")
        elif kind < 0.8:
            actions.append(f"{service}:*")
        else:
            actions.append(service.split(".")[0] + ".*:*")
    text = f"- id: r-{c:07d}\n  scope: {scope}\n  actions: {json.dumps(sorted(set(actions)))}\n"
    if rng.random() < 0.5:
        text += f"  regions: [{', '.join(sorted(rng.sample(regions, rng.randint(1, 3))))}]\n"
    exemptable = [n if n.startswith(cid) else cid + n for n in below.get(scope, [])]
    if exemptable and rng.random() < 0.3:
        text += f"  exempt: [{rng.choice(exemptable)}]\n"
    if rng.random() < 0.5:
        text += f"  not_before: {NOW - timedelta(days=rng.randint(1, 300)):%Y-%m-%dT%H:%M:%SZ}\n"
    if rng.random() < 0.15:
        text += "  mode: dry-run\n"
    text += f"  reason: {{case: C-{c:07d}, policy: mass-surveillance}}\n"
    return text


def write_changed_world(source: Path, target: Path, seed: int) -> int:
    """Copy the world in ``source`` to ``target`` with 1% of its nodes changed: 0.6%
    renamed and re-attributed, 0.2% moved to another parent, 0.2% new subscriptions
    inserted after existing ones (in the middle of the file). Return the nodes changed."""
    rng = random.Random(seed)
    lines = (source / "directory.jsonl").read_bytes().splitlines()
    subscriptions = [i for i, line in enumerate(lines) if b'"kind": "subscription"' in line]
    picked = rng.sample(subscriptions, k=max(3, len(lines) // 100))
    cut = len(picked) * 6 // 10
    edits, rest = picked[:cut], picked[cut:]
    moves, inserts = rest[: len(rest) // 2], set(rest[len(rest) // 2 :])
    for i in edits:
        node = json.loads(lines[i])
        node["name"] += " (renamed)"
        node["attrs"] = {"tier": "gold"}
        lines[i] = json.dumps(node).encode()
    for i in moves:
        node = json.loads(lines[i])
        parent = node["parent"]  # a unit ``…-u0``/``…-u1`` or the customer
        flip = {"0": "1", "1": "0"}
        moved = parent[:-1] + flip[parent[-1]] if "-u" in parent else f"{parent}-u0"
        node["parent"] = moved
        lines[i] = json.dumps(node).encode()
    out: list[bytes] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in inserts:
            node = json.loads(line)
            new = {**node, "id": f"{node['id']}-new", "name": f"{node['name']} (new)"}
            out.append(json.dumps(new).encode())
    target.mkdir(parents=True, exist_ok=True)
    for name in ("catalog.yaml", "restrictions.yaml"):
        (target / name).write_bytes((source / name).read_bytes())
    (target / "directory.jsonl").write_bytes(b"\n".join(out) + b"\n")
    return len(picked)


#: The console stage's world: the size's world plus one customer of this many subscriptions.
BIG_SUBSCRIPTIONS = 50_000
BIG_UNITS = 50
BIG_CUSTOMER = "big-customer"
BIG_WORLD = "console"


def write_big_customer(source: Path, target: Path, subscriptions: int = BIG_SUBSCRIPTIONS) -> int:
    """Copy the world in ``source`` to ``target`` with one more customer: ``BIG_UNITS``
    units, each with its share of ``subscriptions`` (half of them one level further down,
    under a team). Return the nodes added."""
    lines = []

    def node(nid: str, parent: str | None, kind: str, name: str) -> None:
        lines.append(json.dumps({"id": nid, "parent": parent, "kind": kind, "name": name}))

    node(BIG_CUSTOMER, None, "customer", "Big Customer Holdings")
    per_unit = subscriptions // BIG_UNITS
    for u in range(BIG_UNITS):
        unit = f"{BIG_CUSTOMER}-u{u:02d}"
        team = f"{unit}-team"
        node(unit, BIG_CUSTOMER, "unit", f"Division {u}")
        node(team, unit, "unit", f"Division {u} team")
        for s in range(per_unit):
            parent = team if s % 2 else unit
            node(f"{unit}-s{s:05d}", parent, "subscription", f"Big sub {u}.{s}")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("catalog.yaml", "restrictions.yaml"):
        (target / name).write_bytes((source / name).read_bytes())
    with (target / "directory.jsonl").open("wb") as out:
        out.write((source / "directory.jsonl").read_bytes())
        out.write(("\n".join(lines) + "\n").encode())
    return len(lines)


# -- stages (each runs in a fresh process: ``scale.py --stage NAME --world DIR``) ----------


def _cpu() -> float:
    return time.process_time()


def _best(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        start, cpu = time.perf_counter(), _cpu()
        run()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    return min(walls), min(cpus)


def stage_parse(world_dir: Path, requests: int, repeat: int) -> dict[str, float]:
    """Reading and validating the files, each against a bare parse of the same file."""
    import orjson
    import yaml

    from brightline.policy import load_restrictions
    from brightline.world import World, load_catalog, load_directory
    from brightline.world.sources import bulk_allocation

    directory_file = world_dir / "directory.jsonl"
    restrictions_file = world_dir / "restrictions.yaml"

    def bare_jsonl() -> None:
        with bulk_allocation():  # as the loader runs: the strictest comparison
            [orjson.loads(line) for line in directory_file.read_bytes().splitlines()]

    def bare_yaml() -> None:
        with bulk_allocation():
            yaml.load(restrictions_file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

    figures: dict[str, float] = {}
    figures["jsonl_bare_s"], figures["jsonl_bare_cpu_s"] = _best(bare_jsonl, repeat)
    figures["jsonl_load_s"], figures["jsonl_load_cpu_s"] = _best(
        lambda: load_directory(directory_file), repeat
    )
    world = World(load_directory(directory_file), load_catalog(world_dir / "catalog.yaml"))
    figures["yaml_bare_s"], figures["yaml_bare_cpu_s"] = _best(bare_yaml, repeat)
    figures["yaml_load_s"], figures["yaml_load_cpu_s"] = _best(
        lambda: load_restrictions(restrictions_file, world), repeat
    )
    return figures


def stage_hold(world_dir: Path, requests: int, repeat: int) -> dict[str, float]:
    """What a decider holds: the world and its snapshot, loaded from the files and
    compiled in a fresh process; its RSS then (and its peak); compile time; p99."""
    from brightline.policy import Request, Snapshot
    from brightline.service.offline import load_world_dir

    loaded = load_world_dir(world_dir)
    figures: dict[str, float] = {}
    figures["compile_s"], figures["compile_cpu_s"] = _best(
        lambda: Snapshot(loaded.world, loaded.restrictions), repeat
    )
    snapshot = loaded.snapshot()
    gc.collect()
    figures["rss_mib"] = _rss_mib()
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["p99_us"] = _decision_p99(snapshot, requests, Request)
    return figures


def _rss_mib() -> float:
    """The process's resident set now (Linux: /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _decision_p99(snapshot: Any, count: int, request_type: Any) -> float:
    import numpy as np

    rng = random.Random(11)
    world = snapshot.world
    ids = world.directory.ids
    actions = sorted((s.id, op) for s in world.catalog.services.values() for op in s.operations)
    regions = sorted(world.catalog.regions)
    requests = [
        request_type(
            rng.choice(ids),
            *rng.choice(actions),
            rng.choice(regions),
            NOW + timedelta(seconds=rng.randint(-86_400, 86_400)),
        )
        for _ in range(count)
    ]
    decide = snapshot.decide
    for r in requests[:10_000]:
        decide(r)
    clock = time.perf_counter_ns
    overhead = min(-(clock() - clock()) for _ in range(10_000))
    lat = np.empty(len(requests), dtype=np.int64)
    for i, r in enumerate(requests):
        t0 = clock()
        decide(r)
        lat[i] = clock() - t0
    return float(np.percentile(np.maximum(lat - overhead, 0), 99)) / 1000


CHANGED_WORLD = "changed"  # the 1% change, written beside the world's files


@contextmanager
def _database(backend: str, scratch: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL database of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{scratch / 'bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = os.environ[POSTGRES_URL_VARIABLE]
    name = f"bench_scale_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def _timed(figures: dict[str, float], key: str) -> Iterator[None]:
    """Add the block's wall and CPU seconds to ``key`` and ``key_cpu`` (``…_s``)."""
    start, cpu = time.perf_counter(), _cpu()
    try:
        yield
    finally:
        cpu_key = key.removesuffix("_s") + "_cpu_s"
        figures[key] = figures.get(key, 0.0) + time.perf_counter() - start
        figures[cpu_key] = figures.get(cpu_key, 0.0) + _cpu() - cpu


@contextmanager
def _store_part(figures: dict[str, float], key: str) -> Iterator[None]:
    """Time ``add_world_version`` inside an import (the service calls it by this name)."""
    import brightline.service.worlds as world_service

    original: Callable[..., int] = world_service.add_world_version

    def measured(*args: Any, **kwargs: Any) -> int:
        with _timed(figures, key):
            return original(*args, **kwargs)

    world_service.add_world_version = measured
    try:
        yield
    finally:
        world_service.add_world_version = original


def stage_import(backend: str, world_dir: Path) -> dict[str, float]:
    """``world import`` into a fresh store, a 1% re-import, loading the newest world."""
    from sqlalchemy import func, select

    from brightline.access import Principal, Role
    from brightline.service import import_world
    from brightline.store import latest_world, open_store, world_digest
    from brightline.store.models import WorldNode

    actor = Principal("bench", frozenset({Role.ADMIN}), credential="bench")
    figures: dict[str, float] = {}
    key = backend + "_"
    with (
        tempfile.TemporaryDirectory(prefix="brightline-scale-db-") as scratch,
        _database(backend, Path(scratch)) as url,
        open_store(url) as store,
    ):

        def node_rows() -> int:
            with store.read() as session:
                return int(session.scalar(select(func.count()).select_from(WorldNode)) or 0)

        with _store_part(figures, key + "full_store_s"), _timed(figures, key + "full_s"):
            import_world(store, world_dir, actor=actor, now=NOW)
        before = node_rows()
        with _store_part(figures, key + "again_store_s"), _timed(figures, key + "again_s"):
            result = import_world(
                store, world_dir / CHANGED_WORLD, actor=actor, now=NOW + timedelta(hours=1)
            )
        figures[key + "written"] = node_rows() - before
        counts = result.diff.counts()
        figures[key + "changed"] = sum(
            counts[k] for k in ("added_nodes", "changed_nodes", "moved_nodes")
        )
        with _timed(figures, key + "load_s"), store.read() as session:
            stored = latest_world(session)
        if stored is None or stored.version != result.version:
            raise RuntimeError(f"{backend}: the newest world is not the re-imported one")
        if stored.digest != world_digest(stored.world):
            raise RuntimeError(f"{backend}: the newest world's digest does not match it")
    figures[key + "peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


#: The console stage's requests, each timed this many times after a first (cold) one.
CONSOLE_RUNS = 5
#: Floors of issue 20 point 5: search, node page and tester; and the impact plan.
FLOOR_CONSOLE_MS = 200.0
FLOOR_PLAN_MS = 2000.0
#: A restriction over the big customer, as a proposal would show it (one unit exempt).
BIG_PLAN = (
    "- id: r-big-plan\n"
    f"  scope: {BIG_CUSTOMER}\n"
    '  actions: ["storage.*:*", "ai.speech:transcribe"]\n'
    f"  exempt: [{BIG_CUSTOMER}-u07]\n"
    "  reason: {policy: mass-surveillance}\n"
)


def stage_console(world_dir: Path, requests: int, repeat: int) -> dict[str, float]:
    """The console at provider scale: the world with the big customer imported into a
    SQLite store with its restrictions in force, served by uvicorn on loopback; a signed-in
    console session times the tree search, a node page, the tester and a plan preview."""
    import re
    import threading

    import httpx
    import uvicorn
    from pydantic import SecretStr

    from brightline.access import Role
    from brightline.cases import Signal, SourceKind
    from brightline.config import Settings
    from brightline.server import UVICORN_LOGS, create_app
    from brightline.service import import_world
    from brightline.service.access import Authenticator, bootstrap
    from brightline.service.apikeys import create_key
    from brightline.service.cases import open_case
    from brightline.service.intake import grant_role, submit_report
    from brightline.service.ledger import LedgerKeys, ensure_key
    from brightline.service.restrictions import bootstrap_restrictions
    from brightline.store import open_store

    big = world_dir / BIG_WORLD
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="brightline-scale-console-") as scratch:
        settings = Settings(
            database_url=SecretStr(f"sqlite:///{Path(scratch) / 'console.db'}"),
            data_dir=Path(scratch) / "data",
            admin_rate_per_minute=1_000_000,
        )
        with open_store(settings) as store:
            ensure_key(settings)
            authenticator = Authenticator(store, settings)
            root = authenticator.principal_for(bootstrap(store, principal="root"))
            with _timed(figures, "console_setup_s"):
                import_world(store, big, actor=root, now=NOW)
                bootstrap_restrictions(store, big / "restrictions.yaml", actor=root)
            roles = (Role.INVESTIGATOR.value, Role.APPROVER.value)
            _, key = create_key(store, principal="ines", roles=roles, actor=root)
            for role in roles:
                grant_role(store, "ines", Role(role), actor=root)
            signal = Signal(SourceKind.JOURNALIST, (BIG_CUSTOMER,), ("mass-surveillance",), "bench")
            ref = submit_report(store, signal, actor=root).ref
            case = open_case(store, actor=root, title="bench", signals=[ref]).id
            signer = LedgerKeys.of(settings).signer()
            app = create_app(settings, store, signer)
            port = _free_port()
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, **UVICORN_LOGS)
            )
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            try:
                while not server.started:
                    time.sleep(0.02)
                url = f"http://127.0.0.1:{port}"
                with httpx.Client(base_url=url, timeout=120) as client:
                    # Timed once the server serves a bundle, as in production: the preview
                    # plans against it (before, it compiles the store's snapshot).
                    with _timed(figures, "console_ready_s"):
                        while client.get("/readyz").status_code != 200:
                            time.sleep(0.2)
                    form = client.get("/console/login").text
                    token = re.search(r'name="login_token" value="([^"]+)"', form)
                    assert token is not None
                    signed = client.post(
                        "/console/login",
                        data={"login_token": token.group(1), "credential": key, "next": ""},
                    )
                    assert signed.status_code == 303, signed.text
                    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/").text)
                    assert csrf is not None
                    _console_timings(client, figures, case, csrf.group(1))
            finally:
                server.should_exit = True
                thread.join(timeout=30)
    return figures


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _console_timings(client: Any, figures: dict[str, float], case: str, csrf: str) -> None:
    """Each console request: its first (cold) time and the median of the next runs, in ms."""
    import statistics

    sub = f"{BIG_CUSTOMER}-u03-s00101"
    htmx = {"HX-Request": "true"}
    calls: dict[str, Callable[[], Any]] = {
        "search_miss": lambda: client.get(
            "/console/tree", params={"q": "no-such-node"}, headers=htmx
        ),
        "search_hit": lambda: client.get(
            "/console/tree", params={"q": "big sub 3.10"}, headers=htmx
        ),
        "search_page": lambda: client.get("/console/tree", params={"q": "division 4"}),
        "node_customer": lambda: client.get(f"/console/tree/{BIG_CUSTOMER}"),
        "node_sub": lambda: client.get(f"/console/tree/{sub}"),
        "tester": lambda: client.get(
            f"/console/tree/{sub}/test",
            params={"service": "storage.blob", "operation": "read", "region": "westeurope"},
            headers=htmx,
        ),
        "plan": lambda: client.post(
            f"/console/cases/{case}/plan",
            data={"csrf": csrf, "restrictions": BIG_PLAN, "rationale": "bench"},
        ),
    }
    for name, call in calls.items():
        times = []
        for _ in range(1 + CONSOLE_RUNS):
            start = time.perf_counter()
            response = call()
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"console {name}: {response.status_code} {response.text[:300]}")
        figures[f"console_{name}_cold_ms"] = times[0]
        figures[f"console_{name}_ms"] = statistics.median(times[1:])


def _import_stage(backend: str) -> Callable[[Path, int, int], dict[str, float]]:
    def run(world_dir: Path, requests: int, repeat: int) -> dict[str, float]:
        return stage_import(backend, world_dir)  # one run: each import needs a fresh store

    return run


FLOOR_SERVE_READY_S = 5.0
FLOOR_SERVER_RSS_MIB = 1024.0


def stage_serve(world_dir: Path, requests: int, repeat: int) -> dict[str, float]:
    """``brightline serve`` on a fresh SQLite store, as a subprocess: its first start
    (imports the world, puts the restrictions in force, compiles, keeps the compiled
    snapshot), stopped, then started again from the kept snapshot; each timed until
    /readyz answers 200, with the server's CPU seconds and RSS (anonymous and
    file-backed: mapped pages of the snapshot) then."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="brightline-scale-serve-") as scratch:
        env = {
            **os.environ,
            "BRIGHTLINE_DATABASE_URL": f"sqlite:///{Path(scratch) / 'bench.db'}",
            "BRIGHTLINE_DATA_DIR": str(Path(scratch) / "data"),
        }
        for key, timeout in (("serve_first", 3600.0), ("serve_kept", 600.0)):
            figures.update(_serve_until_ready(key, world_dir, env, timeout))
        kept = list((Path(scratch) / "data" / "snapshots").glob("*.blsnap"))
        figures["kept_mib"] = sum(p.stat().st_size for p in kept) / 2**20
    return figures


def _serve_until_ready(
    key: str, world_dir: Path, env: dict[str, str], timeout: float
) -> dict[str, float]:
    import signal
    import socket
    import urllib.error
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", "from brightline.cli import main; main()", "serve"]
    command += ["--world", str(world_dir), "--port", str(port)]
    start = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"serve exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"serve not ready after {timeout:.0f} s")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        ready = time.perf_counter() - start
        status = Path(f"/proc/{server.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        stat = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    finally:
        server.send_signal(signal.SIGTERM)  # a snapshot being kept is finished first
        server.wait(timeout=600)
    kib = {name: float(fields[name].split()[0]) for name in ("VmRSS", "RssAnon", "RssFile")}
    return {
        f"{key}_s": ready,
        f"{key}_cpu_s": cpu,
        f"{key}_rss_mib": kib["VmRSS"] / 1024,
        f"{key}_anon_mib": kib["RssAnon"] / 1024,
        f"{key}_file_mib": kib["RssFile"] / 1024,
    }


def _rss(f: dict[str, float], key: str) -> str:
    return (
        f"{f[key + '_rss_mib']:,.0f} MiB ({f[key + '_anon_mib']:,.0f} anon, "
        f"{f[key + '_file_mib']:,.0f} file)"
    )


def serve_stages() -> list[Stage]:
    """The rows of ``stage_serve``: the first start (compiling) as the reference of the
    restart from the kept snapshot, both measured in the same run."""
    return [
        Stage(
            "serve: first start until /readyz (import, compile, keep)",
            lambda f: _seconds(f, "serve_first_s"),
            lambda f: f["serve_first_cpu_s"],
        ),
        Stage(
            "serve ready (from snapshot)",
            lambda f: _seconds(f, "serve_kept_s") + f", {f['kept_mib']:,.0f} MiB file",
            lambda f: f["serve_kept_cpu_s"],
            floor=f"≤ {FLOOR_SERVE_READY_S:.0f} s",
            ok=lambda f: f["serve_kept_s"] <= FLOOR_SERVE_READY_S,
        ),
        Stage("server RSS at ready, first start", lambda f: _rss(f, "serve_first")),
        Stage(
            "server RSS at ready (from snapshot)",
            lambda f: _rss(f, "serve_kept"),
            lambda f: f["serve_kept_rss_mib"],
            floor=f"≤ {FLOOR_SERVER_RSS_MIB:.0f} MiB",
            ok=lambda f: f["serve_kept_rss_mib"] <= FLOOR_SERVER_RSS_MIB,
        ),
    ]


STAGE_FUNCTIONS: dict[str, Callable[[Path, int, int], dict[str, float]]] = {
    "parse": stage_parse,
    "hold": stage_hold,
    "serve": stage_serve,
    **{f"import-{backend}": _import_stage(backend) for backend in BACKENDS},
    "console": stage_console,
}


@dataclass(frozen=True)
class Stage:
    """One row of the table: how to read its figure and its floor from a size's figures."""

    label: str
    figure: Callable[[dict[str, float]], str]
    value: Callable[[dict[str, float]], float] | None = None  # for the growth exponent
    floor: str = ""
    ok: Callable[[dict[str, float]], bool] | None = None


def _ratio(f: dict[str, float], load: str, bare: str) -> float:
    return f[load] / f[bare]


STAGES: list[Stage] = [
    Stage(
        "directory.jsonl: load_directory",
        lambda f: f"{f['jsonl_load_s']:.2f} s ({f['jsonl_load_cpu_s']:.2f} s CPU)",
        lambda f: f["jsonl_load_cpu_s"],
    ),
    Stage(
        "directory.jsonl: bare orjson, one loads a line",
        lambda f: f"{f['jsonl_bare_s']:.2f} s ({f['jsonl_bare_cpu_s']:.2f} s CPU)",
        lambda f: f["jsonl_bare_cpu_s"],
    ),
    Stage(
        "directory.jsonl: load ÷ bare (CPU)",
        lambda f: f"{_ratio(f, 'jsonl_load_cpu_s', 'jsonl_bare_cpu_s'):.2f}×",
        floor="≤ 3×",
        ok=lambda f: _ratio(f, "jsonl_load_cpu_s", "jsonl_bare_cpu_s") <= 3,
    ),
    Stage(
        "restrictions.yaml: load_restrictions",
        lambda f: f"{f['yaml_load_s']:.2f} s ({f['yaml_load_cpu_s']:.2f} s CPU)",
        lambda f: f["yaml_load_cpu_s"],
    ),
    Stage(
        "restrictions.yaml: bare CSafeLoader",
        lambda f: f"{f['yaml_bare_s']:.2f} s ({f['yaml_bare_cpu_s']:.2f} s CPU)",
        lambda f: f["yaml_bare_cpu_s"],
    ),
    Stage(
        "restrictions.yaml: load ÷ bare (CPU)",
        lambda f: f"{_ratio(f, 'yaml_load_cpu_s', 'yaml_bare_cpu_s'):.2f}×",
        floor="≤ 1.5×",
        ok=lambda f: _ratio(f, "yaml_load_cpu_s", "yaml_bare_cpu_s") <= 1.5,
    ),
    Stage(
        "snapshot compile",
        lambda f: f"{f['compile_s']:.2f} s ({f['compile_cpu_s']:.2f} s CPU)",
        lambda f: f["compile_cpu_s"],
    ),
    Stage(
        "RSS holding world + snapshot",
        lambda f: f"{f['rss_mib']:,.0f} MiB",
        lambda f: f["rss_mib"],
        floor="≤ 1024 MiB",
        ok=lambda f: f["rss_mib"] <= 1024,
    ),
    Stage(
        "peak RSS while loading and compiling",
        lambda f: f"{f['peak_rss_mib']:,.0f} MiB",
        lambda f: f["peak_rss_mib"],
    ),
    Stage(
        "single decision p99",
        lambda f: f"{f['p99_us']:.2f} µs",
        floor="≤ 5 µs",
        ok=lambda f: f["p99_us"] <= 5,
    ),
    *serve_stages(),
]


def _seconds(f: dict[str, float], key: str) -> str:
    return f"{f[key]:.2f} s ({f[key.removesuffix('_s') + '_cpu_s']:.2f} s CPU)"


def import_stages(backend: str) -> list[Stage]:
    """The rows of ``world import`` into a fresh store on ``backend``."""
    k = backend + "_"
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
    full_floor: dict[str, Any] = {}
    if backend == "sqlite":
        full_floor = {
            "floor": f"≤ {FLOOR_FULL_IMPORT_SQLITE_S:.0f} s",
            "ok": lambda f: f[k + "full_s"] <= FLOOR_FULL_IMPORT_SQLITE_S,
        }
    return [
        Stage(
            f"{name}: world import, full",
            lambda f: _seconds(f, k + "full_s"),
            lambda f: f[k + "full_cpu_s"],
            **full_floor,
        ),
        Stage(
            f"{name}: … its store part (add_world_version)",
            lambda f: _seconds(f, k + "full_store_s"),
            lambda f: f[k + "full_store_cpu_s"],
        ),
        Stage(
            f"{name}: world import, 1% changed",
            lambda f: _seconds(f, k + "again_s"),
            lambda f: f[k + "again_cpu_s"],
            floor=f"≤ {FLOOR_REIMPORT_S:.0f} s",
            ok=lambda f: f[k + "again_s"] <= FLOOR_REIMPORT_S,
        ),
        Stage(
            f"{name}: … its store part",
            lambda f: _seconds(f, k + "again_store_s"),
            lambda f: f[k + "again_store_cpu_s"],
        ),
        Stage(
            f"{name}: … rows written / nodes changed",
            lambda f: f"{f[k + 'written']:,.0f} / {f[k + 'changed']:,.0f}",
        ),
        Stage(
            f"{name}: … store part 1% ÷ full (wall)",
            lambda f: f"{_ratio(f, k + 'again_store_s', k + 'full_store_s'):.1%}",
        ),
        Stage(
            f"{name}: loading the newest world (latest_world)",
            lambda f: _seconds(f, k + "load_s"),
            lambda f: f[k + "load_cpu_s"],
        ),
        Stage(
            f"{name}: peak RSS of the importing process",
            lambda f: f"{f[k + 'peak_rss_mib']:,.0f} MiB",
            lambda f: f[k + "peak_rss_mib"],
        ),
    ]


def _ms(f: dict[str, float], name: str) -> str:
    return f"{f[f'console_{name}_ms']:,.0f} ms (first {f[f'console_{name}_cold_ms']:,.0f})"


def console_stages() -> list[Stage]:
    """The rows of the console stage (median of the runs after the first; the first's
    time beside it: a new world version builds the console's indexes then)."""
    rows = [
        ("tree search, no match (partial)", "search_miss", FLOOR_CONSOLE_MS),
        ("tree search, 1 match (partial)", "search_hit", FLOOR_CONSOLE_MS),
        ("tree search page", "search_page", FLOOR_CONSOLE_MS),
        ("node page: the 50k customer", "node_customer", FLOOR_CONSOLE_MS),
        ("node page: one of its subscriptions", "node_sub", FLOOR_CONSOLE_MS),
        ("tester: would this call be allowed?", "tester", FLOOR_CONSOLE_MS),
        ("impact plan over the 50k customer (preview)", "plan", FLOOR_PLAN_MS),
    ]
    return [
        Stage(
            f"console: {label}",
            lambda f, n=name: _ms(f, n),  # type: ignore[misc]
            lambda f, n=name: f[f"console_{n}_ms"],  # type: ignore[misc]
            floor=f"≤ {floor:,.0f} ms",
            ok=lambda f, n=name, fl=floor: f[f"console_{n}_ms"] <= fl,  # type: ignore[misc]
        )
        for label, name, floor in rows
    ]


def run_stage(name: str, world_dir: Path, requests: int, repeat: int) -> dict[str, float]:
    """Run one stage in a fresh interpreter; its figures come back as JSON."""
    command = [
        sys.executable,
        __file__,
        "--stage",
        name,
        "--world",
        str(world_dir),
        "--requests",
        str(requests),
        "--repeat",
        str(repeat),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.splitlines()[-1]))


def growth(a: float, b: float, n_a: int, n_b: int) -> float:
    """The exponent k in t ∝ nᵏ between two sizes."""
    return math.log(b / a) / math.log(n_b / n_a) if a > 0 and b > 0 else float("nan")


def print_table(
    results: list[tuple[dict[str, int], dict[str, float]]], stages: list[Stage]
) -> bool:
    table = Table(title="Provider scale — seeded worlds, one process per stage")
    table.add_column("stage")
    for counts, _ in results:
        table.add_column(
            f"{size_label(counts['size'])} nodes\n{counts['restrictions']:,} restr.",
            justify="right",
        )
    for i in range(1, len(results)):
        table.add_column(
            f"growth\n{size_label(results[i - 1][0]['size'])}→{size_label(results[i][0]['size'])}",
            justify="right",
        )
    table.add_column("floor", justify="right")
    table.add_column("", justify="center")
    all_ok = True
    for stage in stages:
        cells = [stage.figure(f) for _, f in results]
        for i in range(1, len(results)):
            if stage.value is None:
                cells.append("")
                continue
            (ca, fa), (cb, fb) = results[i - 1], results[i]
            cells.append(
                f"{growth(stage.value(fa), stage.value(fb), ca['nodes'], cb['nodes']):.2f}"
            )
        mark = ""
        if stage.ok is not None:
            # The floors are set at the largest size.
            ok = stage.ok(results[-1][1])
            all_ok &= ok
            mark = "[green]ok[/]" if ok else "[red]MISSED[/]"
        table.add_row(stage.label, *cells, stage.floor, mark)
    console.print(table)
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100k,500k,1.5m", help="Comma-separated node counts.")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help=f"Databases to import into, comma-separated ({', '.join(BACKENDS)}); "
        f"PostgreSQL from ${POSTGRES_URL_VARIABLE}. Empty: no import stages.",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200_000, help="Decisions timed for p99.")
    parser.add_argument("--repeat", type=int, default=2, help="Runs of each timing (best kept).")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument(
        "--console",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"Time the console over one more customer of {BIG_SUBSCRIPTIONS:,} subscriptions.",
    )
    parser.add_argument("--stage", choices=sorted(STAGE_FUNCTIONS), help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        figures = STAGE_FUNCTIONS[args.stage](args.world, args.requests, args.repeat)
        print(json.dumps(figures))
        return 0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"--backends: unknown {', '.join(unknown)} (known: {', '.join(BACKENDS)})")
    if "postgresql" in backends and not os.environ.get(POSTGRES_URL_VARIABLE):
        parser.error(
            f"--backends postgresql: ${POSTGRES_URL_VARIABLE} is not set; run under "
            "scripts/postgres-test-cluster.sh run env PYTHONPATH=src python bench/scale.py, "
            "or pass --backends sqlite"
        )
    stage_names = ["parse", "hold", "serve", *(f"import-{b}" for b in backends)]
    stages = STAGES + [row for b in backends for row in import_stages(b)]
    if args.console:
        stage_names.append("console")
        stages += console_stages()
    if hasattr(os, "sched_setaffinity"):  # one core, as the decision benchmark
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    results: list[tuple[dict[str, int], dict[str, float]]] = []
    for size in (parse_size(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="brightline-scale-") as tmp:
            with console.status(f"writing a world of {size_label(size)} nodes"):
                counts = {"size": size, **write_world(Path(tmp), size, args.seed)}
                if backends:
                    write_changed_world(Path(tmp), Path(tmp) / CHANGED_WORLD, args.seed)
                if args.console:
                    counts["big_nodes"] = write_big_customer(Path(tmp), Path(tmp) / BIG_WORLD)
            figures: dict[str, float] = {}
            for name in stage_names:
                with console.status(f"{size_label(size)}: {name}"):
                    figures.update(run_stage(name, Path(tmp), args.requests, args.repeat))
        console.print(f"{size_label(size)}: {json.dumps(figures)}", highlight=False)
        results.append((counts, figures))
    ok = print_table(results, stages)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps([{**c, **f} for c, f in results], indent=2), encoding="utf-8"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
