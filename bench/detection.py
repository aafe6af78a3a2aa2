"""Benchmark: synthetic metering → ingest → the built-in pack on DuckDB and Spark, and a
plain pandas implementation of one anomaly rule as the naive reference.

    .venv/bin/python bench/detection.py                       # 50M rows, 30 days, 50k subs
    .venv/bin/python bench/detection.py --rows 5000000 --subscriptions 5000 --skip-spark

Each phase runs in a fresh process so that its peak memory (max RSS) is its own. Floors
(issue 5): the full pack over 50M rows in <= 60 s on DuckDB with peak <= 4 GiB; DuckDB at
least 10x the pandas reference on the same rule. Issue 18: the pack over the rollups beside
the pack over raw rows; one new day run incrementally beside a full run (<= 2 s over 50M
rows on DuckDB; the full pack <= 20 s); a case's 30-day usage from the rollups beside the
raw rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

SPIKE_RULE = "ms-speech-spike"


def _in_child(job: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    """(result, seconds, peak GiB) of ``job(*args)`` in a fresh process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_measured, job, *args).result()


def _measured(job: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    start = time.perf_counter()
    result = job(*args)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)
    return result, seconds, peak


def generate(out: str, subscriptions: int, days: int, rows: int, seed: int) -> int:
    from brightline.synth import synthesize

    return synthesize(Path(out), subscriptions=subscriptions, days=days, seed=seed, rows=rows).rows


def ingest(world_dir: str, data_dir: str) -> dict[str, Any]:
    from brightline.config import Settings
    from brightline.service.offline import load_world_dir
    from brightline.service.telemetry import ingest_files

    world = load_world_dir(Path(world_dir)).world
    settings = Settings(data_dir=Path(data_dir))
    metering = Path(world_dir) / "telemetry" / "metering.parquet"
    [report] = ingest_files(settings, [metering], world=world, now=datetime.now(UTC))
    return {"rows": report.rows, "accepted": report.accepted, "quarantined": report.quarantined}


def _world(world_dir: str, begun: float) -> tuple[Any, float]:
    """The world of ``world_dir``, and the seconds since ``begun`` (the job's start): its
    imports and the world's loading.

    Both sides of the rule comparison load the same world the same way; that set-up is
    reported apart from the rule's own work (reading the usage through to the keys).
    """
    from brightline.world import load_world

    world = load_world(Path(world_dir))
    return world, time.perf_counter() - begun


def detect(
    world_dir: str, data_dir: str, engine: str, only: str | None, rollups: bool = True
) -> dict[str, Any]:
    """The pack (or one rule) over the daily rollups, or over the raw rows."""
    begun = time.perf_counter()
    from brightline.config import Settings
    from brightline.detection import Pack, Usage, create_engine, load_pack, run_pack
    from brightline.telemetry import TelemetryDataset
    from brightline.telemetry.rollups import rollup_files

    # The engine's own library is start-up, like importing pandas on the other side.
    if engine == "duckdb":
        import duckdb  # noqa: F401
    else:
        import pyspark  # noqa: F401
    world, setup = _world(world_dir, begun)
    pack = load_pack("mass-surveillance")
    if only:
        pack = Pack(pack.spec, tuple(r for r in pack.rules if r.id == only), pack.directory)
    # The data directory's layout, as brightline.service.telemetry lays it out; that
    # module is not imported here only because it pulls in the store.
    dataset = TelemetryDataset(Settings(data_dir=Path(data_dir)).data_dir / "telemetry")
    if rollups:
        stored = rollup_files(dataset.root)
        usage = Usage.from_rollups(stored[d] for d in sorted(stored))
    else:
        usage = Usage.from_files(dataset.files())
    runner = create_engine(engine, spark_master="local[2]")
    try:
        run = run_pack(pack, world, runner, usage, now=datetime.now(UTC))
    finally:
        runner.close()
    return {
        "alerts": sorted(a.node for a in run.alerts),
        "firings": len(run.firings),
        "keys": sorted((f.node, f.window_start.isoformat()) for f in run.firings),
        "setup": setup,
    }


def incremental_day(world_dir: str, data_dir: str, engine: str) -> dict[str, Any]:
    """One new day over the history: a full run over the rollups of every day but the
    last (not timed), then the last day evaluated incrementally (timed), against a full
    run over all the rollups (timed, the baseline)."""
    from brightline.detection import Since, Usage, create_engine, load_pack, run_pack
    from brightline.telemetry.rollups import epoch_day, rollup_files

    world, _ = _world(world_dir, time.perf_counter())
    pack = load_pack("mass-surveillance")
    stored = rollup_files(Path(data_dir) / "telemetry")
    days = sorted(stored)
    usage = Usage.from_rollups(stored[d] for d in days)
    runner = create_engine(engine, spark_master="local[2]")
    try:
        now = datetime.now(UTC)
        before = Usage.from_rollups(stored[d] for d in days[:-1])
        earlier = run_pack(pack, world, runner, before, now=now)
        start = time.perf_counter()
        full = run_pack(pack, world, runner, usage, now=now)
        full_s = time.perf_counter() - start
        since = Since(epoch_day(days[-1]), tuple(sorted([*earlier.firings, *earlier.suppressed])))
        start = time.perf_counter()
        step = run_pack(pack, world, runner, usage, now=now, since=since)
        step_s = time.perf_counter() - start
    finally:
        runner.close()
    return {
        "full": full_s,
        "incremental": step_s,
        "same": [a.to_dict() for a in step.alerts] == [a.to_dict() for a in full.alerts]
        and step.firings == full.firings,
        "days": len(days),
    }


def case_usage_read(data_dir: str) -> dict[str, Any]:
    """A case page's usage: 30 days of one customer's subscriptions summed per key, from
    the rollups (whole days) against from the raw rows (the baseline)."""
    from datetime import timedelta

    import pyarrow.parquet as pq

    from brightline.service.usage import read_usage, read_usage_summary, summarise
    from brightline.telemetry import TelemetryDataset

    dataset = TelemetryDataset(Path(data_dir) / "telemetry")
    last = pq.read_table(dataset.files()[-1], columns=["ts"])["ts"]
    until = max(last.to_pylist()).replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(days=30)
    subs = sorted(
        set(pq.read_table(dataset.files()[-1], columns=["subscription_id"])[0].to_pylist())
    )[:40]
    timings = {}
    for name, read in (
        (
            "raw",
            lambda: summarise(read_usage(dataset, subscriptions=subs, since=since, until=until)),
        ),
        (
            "rollups",
            lambda: read_usage_summary(dataset, subscriptions=subs, since=since, until=until),
        ),
    ):
        read()  # warm the page cache alike
        start = time.perf_counter()
        table = read()
        timings[name] = (time.perf_counter() - start, table.num_rows)
    return timings


def pandas_spike(world_dir: str, data_dir: str) -> dict[str, Any]:
    """The speech spike rule written plainly in pandas: the naive reference.

    It reads the five columns it needs of every row (the span of days is that of all of
    the usage, as on the engines), filters, maps each distinct subscription to its
    customer once, sums per customer and day and applies the rule's gates over a
    trailing 14-day window.
    """
    begun = time.perf_counter()
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]

    world, setup = _world(world_dir, begun)
    directory = world.directory
    speech = {s.id for s in world.catalog.services.values() if "speech-to-text" in s.tags}
    frame = pd.read_parquet(
        Path(data_dir) / "telemetry",
        columns=["ts", "subscription_id", "service", "unit", "quantity"],
    )
    days = pd.date_range(frame["ts"].min().floor("D"), frame["ts"].max().floor("D"), freq="D")
    frame = frame[frame["service"].isin(speech) & (frame["unit"] == "audio-minute")]
    customer = {s: directory.root(s) for s in frame["subscription_id"].unique()}
    frame = frame.assign(day=frame["ts"].dt.floor("D"), node=frame["subscription_id"].map(customer))
    daily = frame.groupby(["node", "day"])["quantity"].sum().unstack(fill_value=0.0)
    daily = daily.reindex(columns=days, fill_value=0.0)
    base = daily.T.shift(1).rolling(14, min_periods=14)
    mean, sd = base.mean().T, base.std(ddof=1).T
    z = (daily - mean) / np.maximum(sd, 1e-6)
    fired = (mean > 0) & (daily >= 50000) & (daily >= 3 * mean) & (z >= 6)
    keys = [
        (node, day.date().isoformat())
        for node, row in fired.iterrows()
        for day, hit in row.items()
        if hit and (day - days[0]).days >= 14
    ]
    return {"keys": sorted(keys), "setup": setup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--subscriptions", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: detect over the world and data already there (no generate, "
        "no ingest)",
    )
    args = parser.parse_args()
    if args.reuse and args.workdir is None:
        parser.error("--reuse needs --workdir")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="brightline-bench-"))
    world_dir, data_dir = str(work / "world"), str(work / "data")
    try:
        if args.reuse:
            rows = _stored_rows(Path(data_dir))
            print(f"reusing {work}: {rows:,} rows")
        else:
            rows = _generate_and_ingest(args, world_dir, data_dir)
        truth = json.loads((Path(world_dir) / "truth.json").read_text())
        planted = {t["customer"] for t in truth["planted"]}
        decoys = {t["customer"] for t in truth["decoys"]}
        engines = ["duckdb"] + ([] if args.skip_spark else ["spark"])
        results = {}
        for engine in engines:
            raw, raw_s, _ = _in_child(detect, world_dir, data_dir, engine, None, False)
            print(f"pack/{engine:6} over raw rows {raw_s:7.1f} s (the baseline)")
            result, seconds, peak = _in_child(detect, world_dir, data_dir, engine, None)
            print(
                f"pack/{engine:6} over rollups {seconds:7.1f} s: {raw_s / seconds:.1f}x; "
                f"identical firings: {raw['keys'] == result['keys']}"
            )
            results[engine] = result
            alerted = set(result["alerts"])
            print(
                f"pack/{engine:6} {rows:>10,} rows {seconds:7.1f} s "
                f"{rows / seconds:>12,.0f} rows/s peak {peak:.2f} GiB (driver process) "
                f"alerts {len(alerted)}: planted found {len(planted & alerted)}/{len(planted)}, "
                f"decoys alerted {len(decoys & alerted)}/{len(decoys)}"
            )
        if "spark" in results:
            same = results["spark"]["keys"] == results["duckdb"]["keys"]
            print(f"duckdb and spark firings identical: {same}")
        for engine in engines:
            step, _, peak = _in_child(incremental_day, world_dir, data_dir, engine)
            print(
                f"new day/{engine:6} over {step['days']} days: incremental "
                f"{step['incremental']:.2f} s, full over rollups {step['full']:.2f} s: "
                f"{step['full'] / step['incremental']:.1f}x; identical alerts: {step['same']}"
            )
        reads, _, _ = _in_child(case_usage_read, data_dir)
        (raw_s, raw_n), (rolled_s, rolled_n) = reads["raw"], reads["rollups"]
        print(
            f"case usage (40 subscriptions, 30 days): rollups {rolled_s * 1000:.0f} ms, raw rows "
            f"{raw_s * 1000:.0f} ms: {raw_s / rolled_s:.1f}x; same keys: {raw_n == rolled_n}"
        )
        if not args.skip_pandas:
            duck, duck_s, _ = _in_child(detect, world_dir, data_dir, "duckdb", SPIKE_RULE)
            ref, ref_s, ref_peak = _in_child(pandas_spike, world_dir, data_dir)
            duck_rule, ref_rule = duck_s - duck["setup"], ref_s - ref["setup"]
            print(
                f"rule {SPIKE_RULE}: duckdb {duck_rule:.1f} s, pandas {ref_rule:.1f} s "
                f"(peak {ref_peak:.2f} GiB): {ref_rule / duck_rule:.1f}x; "
                f"same keys: {duck['keys'] == ref['keys']} ({len(ref['keys'])} keys)"
            )
            print(
                f"  with imports and world loading (duckdb {duck['setup']:.1f} s, pandas "
                f"{ref['setup']:.1f} s): duckdb {duck_s:.1f} s, pandas {ref_s:.1f} s: "
                f"{ref_s / duck_s:.1f}x"
            )
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _generate_and_ingest(args: argparse.Namespace, world_dir: str, data_dir: str) -> int:
    rows: int
    rows, seconds, peak = _in_child(
        generate, world_dir, args.subscriptions, args.days, args.rows, args.seed
    )
    print(
        f"generate  {rows:>12,} rows {seconds:7.1f} s {rows / seconds:>12,.0f} rows/s "
        f"peak {peak:.2f} GiB"
    )
    report, seconds, peak = _in_child(ingest, world_dir, data_dir)
    print(
        f"ingest    {report['rows']:>12,} rows {seconds:7.1f} s "
        f"{report['rows'] / seconds:>12,.0f} rows/s peak {peak:.2f} GiB "
        f"quarantined {report['quarantined']}"
    )
    return rows


def _stored_rows(data_dir: Path) -> int:
    import pyarrow.parquet as pq

    files = sorted((data_dir / "telemetry").glob("day=*/*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


if __name__ == "__main__":
    main()
