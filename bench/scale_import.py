"""`world import` at provider scale: full import, a 1% re-import, loading the newest world.

Worlds of about 9 nodes per customer (a customer, two units, three subscriptions under
each) are written as world files and imported through ``brightline.service.import_world``
(the same path as ``brightline world import``) into a fresh store on SQLite, and on
PostgreSQL when ``BRIGHTLINE_TEST_POSTGRES_URL`` is set (run under
``scripts/postgres-test-cluster.sh run``). The 1% change renames or re-attributes 0.6%
of the nodes, moves 0.2% to another unit and inserts 0.2% new subscriptions in the middle
of the file.

For each size and database it prints wall and CPU seconds of: the full import, the
store's part of it (``add_world_version``), the 1% re-import and its store part, and
loading the newest world (``latest_world``); the rows the re-import wrote; and the
re-import's store part against the full import's, measured in the same run; and the
process's peak RSS so far. Floors at 1.5M nodes: full import ≤ 60 s
on SQLite, 1% re-import ≤ 5 s.

    PYTHONPATH=src python bench/scale_import.py --sizes 100000,500000,1500000
    scripts/postgres-test-cluster.sh run env PYTHONPATH=src python bench/scale_import.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

import brightline.service.worlds as world_service
import brightline.store as store_api
from brightline.access import Principal, Role
from brightline.service import RemovalGuard, import_world
from brightline.store import Store, latest_world, open_store
from brightline.store.models import WorldNode

EXAMPLE = Path(__file__).parents[1] / "examples" / "world"
ADMIN = Principal("bench", frozenset({Role.ADMIN}), credential="bench")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FLOOR_FULL_SQLITE = 60.0
FLOOR_REIMPORT = 5.0
COUNTRIES = ("NL", "DE", "FR", "IL", "US", "JP")
SECTORS = ("retail", "defense", "health", "finance", "media")


@dataclass(slots=True)
class Timing:
    wall: float = 0.0
    cpu: float = 0.0

    def __str__(self) -> str:
        return f"{self.wall:7.2f} ({self.cpu:6.2f})"


@contextmanager
def timed(into: Timing) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.wall += time.perf_counter() - wall
    into.cpu += time.process_time() - cpu


def world_lines(nodes: int, seed: int) -> list[dict[str, Any]]:
    """About ``nodes`` nodes: per customer, a root, two units, three subscriptions each."""
    rng = random.Random(seed)
    lines: list[dict[str, Any]] = []
    for c in range(max(1, nodes // 9)):
        root = f"cust-{c}"
        attrs = {"country": rng.choice(COUNTRIES), "sector": rng.choice(SECTORS)}
        lines.append({"id": root, "parent": None, "kind": "customer", "name": root, "attrs": attrs})
        for u in range(2):
            unit = f"{root}.u{u}"
            lines.append({"id": unit, "parent": root, "kind": "unit", "name": unit, "attrs": {}})
            for s in range(3):
                sub = f"{unit}.s{s}"
                lines.append(
                    {"id": sub, "parent": unit, "kind": "subscription", "name": sub, "attrs": {}}
                )
    return lines


def changed_lines(lines: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """1% of the nodes changed: renamed or re-attributed, moved, or new in the middle."""
    rng = random.Random(seed)
    out = [dict(line) for line in lines]
    subscriptions = [i for i, line in enumerate(out) if line["kind"] == "subscription"]
    picked = rng.sample(subscriptions, k=max(3, len(lines) // 100))
    edits, moves, inserts = picked[: len(picked) * 6 // 10], picked[len(picked) * 6 // 10 :], []
    moves, inserts = moves[: len(moves) // 2], moves[len(moves) // 2 :]
    for i in edits:
        out[i] = {**out[i], "name": out[i]["name"] + " (renamed)", "attrs": {"tier": "gold"}}
    for i in moves:
        unit = out[i]["parent"]
        out[i] = {**out[i], "parent": unit[:-1] + ("1" if unit.endswith("0") else "0")}
    for n, i in enumerate(sorted(inserts, reverse=True)):
        new = {**out[i], "id": f"{out[i]['id']}.new{n}", "name": f"new {n}"}
        out.insert(i + 1, new)
    return out


def write_world(directory: Path, lines: list[dict[str, Any]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(EXAMPLE / "catalog.yaml", directory / "catalog.yaml")
    with (directory / "directory.jsonl").open("w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    admin = os.environ["BRIGHTLINE_TEST_POSTGRES_URL"]
    name = f"bench_{uuid.uuid4().hex[:10]}"
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
def store_part(into: Timing) -> Iterator[None]:
    """Time ``add_world_version`` inside an import (the service calls it by this name)."""
    original: Callable[..., int] = world_service.add_world_version

    def measured(*args: Any, **kwargs: Any) -> int:
        with timed(into):
            return original(*args, **kwargs)

    world_service.add_world_version = measured  # type: ignore[assignment]
    try:
        yield
    finally:
        world_service.add_world_version = original  # type: ignore[assignment]


def peak_rss_mib() -> int:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def node_rows(store: Store) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(WorldNode)) or 0)


def run(size: int, backend: str, tmp: Path) -> dict[str, Any]:
    lines = world_lines(size, seed=size)
    first, second = tmp / "v1", tmp / "v2"
    write_world(first, lines)
    write_world(second, changed_lines(lines, seed=size + 1))
    full, full_store, again, again_store, load = (Timing() for _ in range(5))
    guard = RemovalGuard(allow_removals_unsafe=True)
    with database(backend, tmp) as url, open_store(url) as store:
        with store_part(full_store), timed(full):
            import_world(store, first, actor=ADMIN, now=T0, guard=guard)
        before = node_rows(store)
        with store_part(again_store), timed(again):
            result = import_world(
                store, second, actor=ADMIN, now=T0 + timedelta(hours=1), guard=guard
            )
        written = node_rows(store) - before
        with timed(load), store.read() as session:
            stored = latest_world(session)
        assert stored is not None
        assert stored.version == result.version
        assert stored.digest == store_api.world_digest(stored.world)
    return {
        "nodes": len(lines),
        "backend": backend,
        "full": full,
        "full_store": full_store,
        "again": again,
        "again_store": again_store,
        "load": load,
        "written": written,
        "changed": sum(
            result.diff.counts()[k] for k in ("added_nodes", "changed_nodes", "moved_nodes")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100000,500000,1500000", help="node counts, comma-separated"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [
        b
        for b in args.backends.split(",")
        if b != "postgresql" or os.environ.get("BRIGHTLINE_TEST_POSTGRES_URL")
    ]
    print("seconds: wall (CPU)")
    header = (
        f"{'nodes':>9} {'db':<10} {'full import':>16} {'  store part':>16} {'1% re-import':>16} "
        f"{'  store part':>16} {'load newest':>16} {'rows written':>13} {'store 1%/full':>13} "
        f"{'peak RSS':>9}"
    )
    print(header)
    results = []
    for size in sizes:
        for backend in backends:
            with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
                r = run(size, backend, Path(tmp))
            results.append(r)
            ratio = r["again_store"].wall / r["full_store"].wall
            print(
                f"{r['nodes']:>9} {backend:<10} {r['full']!s:>16} {r['full_store']!s:>16} "
                f"{r['again']!s:>16} {r['again_store']!s:>16} {r['load']!s:>16} "
                f"{r['written']:>6}/{r['changed']:<6} {ratio:>13.1%} {peak_rss_mib():>6} MiB",
                flush=True,
            )
    for r in results:
        if r["nodes"] < 1_400_000:
            continue
        if r["backend"] == "sqlite":
            verdict = "met" if r["full"].wall <= FLOOR_FULL_SQLITE else "NOT met"
            print(
                f"floor full import <= {FLOOR_FULL_SQLITE:.0f} s on SQLite "
                f"at {r['nodes']}: {verdict}"
            )
        verdict = "met" if r["again"].wall <= FLOOR_REIMPORT else "NOT met"
        print(
            f"floor 1% re-import <= {FLOOR_REIMPORT:.0f} s on {r['backend']} "
            f"at {r['nodes']}: {verdict}"
        )


if __name__ == "__main__":
    main()
