"""Decision benchmark: Brightline's engine against cedarpy, on one core, in one run.

    python bench/decision.py [--subscriptions 50000] [--requests 1000000] [--seed 7]

Generates a seeded world (about 50,000 subscriptions under 2,000 customers, units
nested up to depth 4, 200 services × ~10 operations, 20 regions), 1,000 restrictions
(exact, prefix and wildcard action patterns, region lists, exemptions, time windows,
dry-run) and 1,000,000 requests (about 1% denied). Measures compile time, snapshot
memory, single-call latency (p50/p99) and throughput, batch throughput over integer-
and dictionary-encoded columns, then the same requests through cedarpy configured at
its best — one pre-parsed policy set and entity slice per customer, so that Cedar only
evaluates that customer's restrictions — checks that every decision agrees, and prints
the ratios. Floors (issue 2): p99 ≤ 5 µs; single-call throughput ≥ 30× cedarpy's;
batch ≥ 3,000,000 decisions/s; compile ≤ 2 s; snapshot memory ≤ 200 MiB.

Files of requests (issue 19), also alone with ``--check-file``: writes 1,000,000 CSV
rows over a world directory (``--check-world``, default ``examples/world``), times the
whole ``brightline check --world W --requests FILE --out FILE`` command as a subprocess
(process start and imports included; wall and CPU time, best and median of
``--check-runs``), and beside it a plain in-memory Python reference in this process
(the csv module, ``Snapshot.decide`` per row, ``csv.writer``), checks that both decide
every row alike, and prints both rates and the ratio. Floor: ≥ 1,000,000 rows/s whole
process (best run).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from brightline.errors import InvalidInputError
from brightline.exports import (
    BASELINE_ID,
    policy_ids,
    policy_set_text,
    render_entities,
    request_for,
)
from brightline.policy import ActionPattern, Mode, Request, Restriction, Snapshot, to_micros
from brightline.service.offline import load_world_dir
from brightline.world import Catalog, Directory, Node, Region, Service, World

console = Console()
NOW = datetime(2026, 6, 1, tzinfo=UTC)
OPERATIONS = [
    "read",
    "write",
    "delete",
    "list",
    "create",
    "update",
    "get",
    "put",
    "start",
    "stop",
    "query",
    "invoke",
    "transcribe",
    "translate",
    "analyze",
    "publish",
    "consume",
    "restore",
    "scale",
    "tag",
    "export",
    "import",
    "attach",
    "detach",
    "encrypt",
    "sign",
    "train",
    "embed",
    "complete",
    "watch",
]


def make_world(rng: random.Random, subscriptions: int, customers: int) -> World:
    nodes: dict[str, Node] = {}
    per_customer = subscriptions / customers
    made = 0
    for c in range(customers):
        cid = f"cust-{c:05d}"
        nodes[cid] = Node(cid, None, "customer", f"Customer {c}", MappingProxyType({}))
        containers = [(cid, 0)]
        for u in range(rng.randint(1, 6)):
            parent, depth = rng.choice([x for x in containers if x[1] < 3])
            uid = f"{cid}-u{u}"
            nodes[uid] = Node(uid, parent, "unit", uid, MappingProxyType({}))
            containers.append((uid, depth + 1))
        target = (
            subscriptions - made if c == customers - 1 else round(per_customer * (c + 1)) - made
        )
        for s in range(max(target, 0)):
            parent, _ = rng.choice(containers)
            sid = f"{cid}-s{s}"
            nodes[sid] = Node(sid, parent, "subscription", sid, MappingProxyType({}))
            made += 1
    services = {}
    for f in range(20):
        for k in range(10):
            sid = f"fam{f:02d}.svc{k}"
            ops = tuple(rng.sample(OPERATIONS, rng.randint(7, 13)))
            services[sid] = Service(sid, ops, frozenset())
    regions = {f"region-{i:02d}": Region(f"region-{i:02d}", "NL") for i in range(20)}
    return World(
        Directory(nodes),
        Catalog(MappingProxyType(services), MappingProxyType(regions)),
    )


def make_restrictions(rng: random.Random, world: World, count: int) -> list[Restriction]:
    directory = world.directory
    catalog = world.catalog
    services = sorted(catalog.services)
    regions = sorted(catalog.regions)
    scopes = sorted(n.id for n in directory if n.kind != "subscription")
    out = []
    for i in range(count):
        scope = rng.choice(scopes)
        patterns = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.random()
            service = rng.choice(services)
            if kind < 0.4:
                patterns.append(
                    ActionPattern(service, rng.choice(catalog.services[service].operations))
                )
            elif kind < 0.7:
                patterns.append(ActionPattern(service, "*"))
            elif kind < 0.95:
                patterns.append(ActionPattern(service.split(".")[0] + ".*", "*"))
            else:
                patterns.append(ActionPattern("*", rng.choice(["delete", "write", "train"])))
        below = [n for n in directory.subtree(scope) if n != scope]
        exempt = tuple(sorted(set(rng.sample(below, min(len(below), rng.randint(1, 2))))))
        window = rng.random()
        not_before = NOW - timedelta(days=rng.randint(1, 300)) if window < 0.5 else None
        not_after = None
        if window > 0.85:
            not_after = NOW + timedelta(days=rng.randint(-30, 90))
            if not_before is not None and not_after <= not_before:
                not_after = None
        out.append(
            Restriction(
                id=f"r-{i:05d}",
                scope=scope,
                actions=tuple(dict.fromkeys(patterns)),
                regions=frozenset(rng.sample(regions, rng.randint(1, 5)))
                if rng.random() < 0.5
                else None,
                exempt=exempt if rng.random() < 0.3 else (),
                not_before=not_before,
                not_after=not_after,
                mode=Mode.DRY_RUN if rng.random() < 0.15 else Mode.ENFORCE,
            )
        )
    return out


def make_requests(rng: random.Random, snapshot: Snapshot, n: int) -> list[Request]:
    world = snapshot.world
    subs = sorted(node.id for node in world.directory if node.kind == "subscription")
    catalog = world.catalog
    services = sorted(catalog.services)
    regions = sorted(catalog.regions)
    # Requests aimed at restricted subtrees, so that about 1% end up denied.
    targeted: list[tuple[str, Restriction]] = []
    by_scope = defaultdict(list)
    for r in snapshot.restrictions:
        by_scope[r.scope].append(r)
    for sub in subs:
        for ancestor in world.directory.ancestors(sub):
            for r in by_scope.get(ancestor, ()):
                targeted.append((sub, r))
    out = []
    for _ in range(n):
        at = NOW + timedelta(seconds=rng.randint(-86_400 * 30, 86_400 * 30))
        if rng.random() < 0.035 and targeted:
            sub, r = rng.choice(targeted)
            pattern = rng.choice(r.actions)
            service, operation = rng.choice(pattern.actions(catalog))
            region = rng.choice(sorted(r.regions)) if r.regions else rng.choice(regions)
            out.append(Request(sub, service, operation, region, at))
            continue
        service = rng.choice(services)
        out.append(
            Request(
                rng.choice(subs),
                service,
                rng.choice(catalog.services[service].operations),
                rng.choice(regions),
                at,
            )
        )
    return out


def measure_single(snapshot: Snapshot, requests: list[Request]) -> dict[str, float]:
    decide = snapshot.decide
    for r in requests[:20_000]:
        decide(r)
    gc.collect()
    # Throughput: a plain loop, as a gateway would call it.
    start = time.perf_counter()
    for r in requests:
        decide(r)
    elapsed = time.perf_counter() - start
    # Latency: each call timed on its own (the timer's own cost is measured and removed).
    clock = time.perf_counter_ns
    sample = requests[:300_000]
    overhead = min(-(clock() - clock()) for _ in range(10_000))
    lat = np.empty(len(sample), dtype=np.int64)
    for i, r in enumerate(sample):
        t0 = clock()
        decide(r)
        lat[i] = clock() - t0
    lat = np.maximum(lat - overhead, 0)
    return {
        "single_rate": len(requests) / elapsed,
        "p50_us": float(np.percentile(lat, 50)) / 1000,
        "p99_us": float(np.percentile(lat, 99)) / 1000,
        "p999_us": float(np.percentile(lat, 99.9)) / 1000,
    }


def measure_batch(snapshot: Snapshot, requests: list[Request]) -> tuple[dict[str, float], object]:
    arrays = snapshot.batch_arrays
    columns_str = {
        "node": pa.array([r.node for r in requests]).dictionary_encode(),
        "service": pa.array([r.service for r in requests]).dictionary_encode(),
        "operation": pa.array([r.operation for r in requests]).dictionary_encode(),
        "region": pa.array([r.region for r in requests]).dictionary_encode(),
        "time": np.array([to_micros(r.at) for r in requests], dtype=np.int64),
    }
    columns_int = {
        name: arrays.encode(name, columns_str[name])
        for name in ("node", "service", "operation", "region")
    }
    columns_int["time"] = columns_str["time"]
    out: dict[str, float] = {}
    result = None
    for label, columns in (("batch_int_rate", columns_int), ("batch_dict_rate", columns_str)):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            result = snapshot.decide_batch(columns)
            best = min(best, time.perf_counter() - start)
        out[label] = len(requests) / best
    return out, result


def measure_cedar(
    snapshot: Snapshot, requests: list[Request], single_sample: int
) -> tuple[dict[str, float], list[tuple[str, tuple[str, ...]]]]:
    import cedarpy

    world = snapshot.world
    directory = world.directory
    by_customer_restrictions: dict[str, list[Restriction]] = defaultdict(list)
    for r in snapshot.restrictions:
        if r.enforcing:
            by_customer_restrictions[directory.root(r.scope)].append(r)
    by_customer_requests: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(requests):
        by_customer_requests[directory.root(r.node)].append(i)
    start = time.perf_counter()
    prepared = {}
    for customer in by_customer_requests:
        restrictions = by_customer_restrictions.get(customer, [])
        nodes = list(directory.subtree(customer))
        prepared[customer] = (
            cedarpy.PolicySet.from_str(policy_set_text(restrictions, snapshot)),
            cedarpy.Entities.from_json_str(json.dumps(render_entities(snapshot, nodes))),
            policy_ids(restrictions),
        )
    prepare_s = time.perf_counter() - start
    cedar_requests = [
        request_for(r.node, r.service, r.operation, r.region, to_micros(r.at)) for r in requests
    ]
    results: list[tuple[str, tuple[str, ...]]] = [("", ())] * len(requests)
    start = time.perf_counter()
    for customer, rows in by_customer_requests.items():
        policies, entities, ids = prepared[customer]
        answers = cedarpy.is_authorized_batch([cedar_requests[i] for i in rows], policies, entities)
        for i, answer in zip(rows, answers, strict=True):
            effect = "deny" if answer.decision == cedarpy.Decision.Deny else "allow"
            matched = tuple(
                sorted(ids[p] for p in answer.diagnostics.reasons if ids[p] != BASELINE_ID)
            )
            results[i] = (effect, matched if effect == "deny" else ())
    batch_s = time.perf_counter() - start
    # Single calls, one request at a time, on a sample (a gateway's view).
    sample = list(range(min(single_sample, len(requests))))
    start = time.perf_counter()
    for i in sample:
        policies, entities, _ = prepared[directory.root(requests[i].node)]
        cedarpy.is_authorized(cedar_requests[i], policies, entities)
    single_s = time.perf_counter() - start
    return (
        {
            "cedar_prepare_s": prepare_s,
            "cedar_batch_rate": len(requests) / batch_s,
            "cedar_single_rate": len(sample) / single_s,
        },
        results,
    )


EXAMPLE_WORLD = Path(__file__).parents[1] / "examples" / "world"


def write_request_file(snapshot: Snapshot, path: Path, rows: int, seed: int) -> None:
    """``rows`` requests over the world's nodes, actions and regions, a time each."""
    rng = random.Random(seed)
    world = snapshot.world
    nodes = sorted(node.id for node in world.directory)
    actions = sorted((s.id, op) for s in world.catalog.services.values() for op in s.operations)
    regions = sorted(world.catalog.regions)
    times = [
        f"{(NOW - timedelta(days=300) + timedelta(hours=h)):%Y-%m-%dT%H:%M:%SZ}"
        for h in range(0, 24 * 400, 7)
    ]
    with path.open("w", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["node", "service", "operation", "region", "time"])
        for _ in range(rows):
            out.writerow(
                [rng.choice(nodes), *rng.choice(actions), rng.choice(regions), rng.choice(times)]
            )


def reference_check_file(snapshot: Snapshot, source: Path, out: Path) -> list[str]:
    """The plain way, in memory in this process: csv in, one decision a row, csv out."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    effects = []
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "node",
                "service",
                "operation",
                "region",
                "time",
                "decision",
                "restrictions",
                "would_deny",
                "error",
            ]
        )
        for row in rows:
            request = (row["node"], row["service"], row["operation"], row["region"])
            try:
                at = datetime.fromisoformat(row["time"])
                decision = snapshot.decide(Request.checked(*request, at))
            except (InvalidInputError, ValueError) as exc:
                effects.append("error")
                writer.writerow([*request, row["time"], "error", "", "", str(exc)])
                continue
            effects.append(decision.effect.value)
            writer.writerow(
                [
                    *request,
                    row["time"],
                    decision.effect.value,
                    ";".join(decision.matched),
                    ";".join(decision.would_deny),
                    "",
                ]
            )
    return effects


def measure_check_file(
    world_dir: Path, rows: int, runs: int, seed: int, cores: set[int]
) -> dict[str, float]:
    snapshot = load_world_dir(world_dir).snapshot()
    with tempfile.TemporaryDirectory(prefix="brightline-bench-") as tmp:
        source, out, ref_out = (
            Path(tmp) / "requests.csv",
            Path(tmp) / "decided.csv",
            Path(tmp) / "ref.csv",
        )
        with console.status(f"writing {rows:,} requests"):
            write_request_file(snapshot, source, rows, seed)
        script = Path(sys.executable).with_name("brightline")
        launcher = (
            [str(script)]
            if script.is_file()
            else [sys.executable, "-c", "from brightline.cli import main; main()"]
        )
        command = [
            *launcher,
            "check",
            "--world",
            str(world_dir),
            "--requests",
            str(source),
            "--out",
            str(out),
            "--at",
            f"{NOW:%Y-%m-%dT%H:%M:%SZ}",
        ]
        console.print(f"command: {shlex.join(command)}", highlight=False, soft_wrap=True)
        walls, cpus = [], []
        for run in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                # Every core the machine gives, as a user's shell would (main() pins one).
                preexec_fn=lambda: os.sched_setaffinity(0, cores),
            )
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            console.print(
                f"  run {run + 1}: {walls[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU "
                f"→ {rows / walls[-1]:,.0f} rows/s",
                highlight=False,
            )
        with console.status("plain Python reference"):
            start_cpu, start = time.process_time(), time.perf_counter()
            effects = reference_check_file(snapshot, source, ref_out)
            ref_wall, ref_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        with out.open(newline="") as handle:
            decided = [row["decision"] for row in csv.DictReader(handle)]
    mismatches = sum(a != b for a, b in zip(decided, effects, strict=True))
    best = min(walls)
    return {
        "file_rows": rows,
        "file_wall_best_s": best,
        "file_wall_median_s": statistics.median(walls),
        "file_cpu_best_s": min(cpus),
        "file_rate_best": rows / best,
        "file_rate_median": rows / statistics.median(walls),
        "file_reference_wall_s": ref_wall,
        "file_reference_cpu_s": ref_cpu,
        "file_reference_rate": rows / ref_wall,
        "file_vs_reference": ref_wall / best,
        "file_mismatches": mismatches,
    }


def print_check_file(figures: dict[str, float]) -> bool:
    table = Table(title=f"check --requests — {figures['file_rows']:,.0f} CSV rows, whole process")
    for column in ("measure", "figure", "floor", ""):
        table.add_column(column, justify="left" if column == "measure" else "right")
    ok = figures["file_rate_best"] >= 1e6 and figures["file_mismatches"] == 0
    table.add_row(
        "brightline check (best)",
        f"{figures['file_wall_best_s']:.2f} s wall, {figures['file_cpu_best_s']:.2f} s CPU",
    )
    table.add_row(
        "rows/s (best run)",
        f"{figures['file_rate_best']:,.0f}",
        "≥ 1,000,000",
        "[green]ok[/]" if figures["file_rate_best"] >= 1e6 else "[red]MISSED[/]",
    )
    table.add_row("rows/s (median run)", f"{figures['file_rate_median']:,.0f}")
    table.add_row(
        "plain Python reference (in memory)",
        f"{figures['file_reference_wall_s']:.2f} s wall, "
        f"{figures['file_reference_cpu_s']:.2f} s CPU, "
        f"{figures['file_reference_rate']:,.0f} rows/s",
    )
    table.add_row("command vs reference", f"{figures['file_vs_reference']:.1f}×")
    table.add_row(
        "rows decided differently",
        f"{figures['file_mismatches']:,.0f}",
        "0",
        "[green]ok[/]" if figures["file_mismatches"] == 0 else "[red]MISSED[/]",
    )
    console.print(table)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscriptions", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--restrictions", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--cedar-single-sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--check-file", action="store_true", help="Only the file of requests.")
    parser.add_argument("--check-world", type=Path, default=EXAMPLE_WORLD)
    parser.add_argument("--check-rows", type=int, default=1_000_000)
    parser.add_argument("--check-runs", type=int, default=3)
    args = parser.parse_args()
    cores = os.sched_getaffinity(0)
    if args.check_file:
        file_figures = measure_check_file(
            args.check_world, args.check_rows, args.check_runs, args.seed, cores
        )
        ok = print_check_file(file_figures)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(file_figures, indent=2))
        return 0 if ok else 1
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    rng = random.Random(args.seed)
    # Memory: everything a decider holds — the world model, the compiled snapshot and its
    # batch arrays — traced from before the world is built (tracemalloc slows allocation,
    # so the compile time is measured again below, without it).
    gc.collect()
    tracemalloc.start()
    with console.status("generating the world"):
        world = make_world(rng, args.subscriptions, args.customers)
        restrictions = make_restrictions(rng, world, args.restrictions)
    traced = Snapshot(world, restrictions)
    _ = traced.batch_arrays
    gc.collect()
    snapshot_bytes, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced
    console.print(
        f"world: {len(world.directory):,} nodes, {len(world.catalog.services)} services, "
        f"{sum(len(s.operations) for s in world.catalog.services.values()):,} actions, "
        f"{len(world.catalog.regions)} regions, {len(restrictions):,} restrictions"
    )
    gc.collect()
    start = time.perf_counter()
    snapshot = Snapshot(world, restrictions)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    _ = snapshot.batch_arrays
    arrays_s = time.perf_counter() - start

    with console.status("generating requests"):
        requests = make_requests(rng, snapshot, args.requests)
    with console.status("single calls"):
        single = measure_single(snapshot, requests)
    with console.status("batch"):
        batch, batch_result = measure_batch(snapshot, requests)
    with console.status("cedarpy (per-customer policy sets and entity slices)"):
        cedar, cedar_results = measure_cedar(snapshot, requests, args.cedar_single_sample)

    mismatches = 0
    denied = 0
    effects = batch_result.effects()  # type: ignore[attr-defined]
    for i, r in enumerate(requests):
        d = snapshot.decide(r)
        denied += d.denied
        got = (d.effect.value, d.matched)
        if got != cedar_results[i] or effects[i] != d.effect.value:
            mismatches += 1
    figures = {
        "nodes": len(world.directory),
        "restrictions": len(restrictions),
        "requests": len(requests),
        "denied_share": denied / len(requests),
        "compile_s": compile_s,
        "batch_arrays_s": arrays_s,
        "snapshot_mib": snapshot_bytes / 2**20,
        "compile_peak_mib": peak_bytes / 2**20,
        **single,
        **batch,
        **cedar,
        "mismatches": mismatches,
    }
    figures["single_vs_cedar_single"] = single["single_rate"] / cedar["cedar_single_rate"]
    figures["single_vs_cedar_batch"] = single["single_rate"] / cedar["cedar_batch_rate"]
    figures["batch_vs_cedar_batch"] = batch["batch_int_rate"] / cedar["cedar_batch_rate"]

    table = Table(
        title=f"Decision benchmark — {len(requests):,} requests, "
        f"{denied / len(requests):.2%} denied, one core"
    )
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("floor", justify="right")
    table.add_column("", justify="center")

    def row(name: str, value: str, floor: str = "", ok: bool | None = None) -> None:
        mark = "" if ok is None else ("[green]ok[/]" if ok else "[red]MISSED[/]")
        table.add_row(name, value, floor, mark)

    row("compile (snapshot)", f"{compile_s:.2f} s")
    row("compile (batch arrays)", f"{arrays_s:.2f} s")
    total_compile = compile_s + arrays_s
    row("compile (both)", f"{total_compile:.2f} s", "≤ 2 s", total_compile <= 2)
    row(
        "memory: world + snapshot + arrays",
        f"{snapshot_bytes / 2**20:.0f} MiB",
        "≤ 200 MiB",
        snapshot_bytes <= 200 * 2**20,
    )
    row("single decision p50", f"{single['p50_us']:.2f} µs")
    row("single decision p99", f"{single['p99_us']:.2f} µs", "≤ 5 µs", single["p99_us"] <= 5)
    row("single decision p99.9", f"{single['p999_us']:.2f} µs")
    row("single-call throughput", f"{single['single_rate']:,.0f} /s")
    row(
        "batch throughput (integer codes)",
        f"{batch['batch_int_rate']:,.0f} /s",
        "≥ 3,000,000 /s",
        batch["batch_int_rate"] >= 3e6,
    )
    row("batch throughput (dictionary columns)", f"{batch['batch_dict_rate']:,.0f} /s")
    row("cedarpy single-call throughput", f"{cedar['cedar_single_rate']:,.0f} /s")
    row("cedarpy batch throughput", f"{cedar['cedar_batch_rate']:,.0f} /s")
    row(
        "single vs cedarpy single",
        f"{figures['single_vs_cedar_single']:.1f}×",
        "≥ 30×",
        figures["single_vs_cedar_single"] >= 30,
    )
    row(
        "single vs cedarpy batch",
        f"{figures['single_vs_cedar_batch']:.1f}×",
        "≥ 30×",
        figures["single_vs_cedar_batch"] >= 30,
    )
    row("batch vs cedarpy batch", f"{figures['batch_vs_cedar_batch']:.1f}×")
    row("decisions that differ from Cedar", f"{mismatches:,}", "0", mismatches == 0)
    console.print(table)
    file_figures = measure_check_file(
        args.check_world, args.check_rows, args.check_runs, args.seed, cores
    )
    print_check_file(file_figures)
    figures.update(file_figures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
