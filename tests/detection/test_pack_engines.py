"""The whole built-in pack on both engines over the same synthetic data: raw rows,
rollups, and incremental runs after new and re-delivered days give the same alerts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from brightline.config import Settings
from brightline.detection import (
    DetectionRun,
    DuckDBEngine,
    Engine,
    Suppression,
    Usage,
    load_pack,
    read_alerts,
    run_pack,
    write_alerts,
)
from brightline.detection.spark import SparkEngine
from brightline.service.detection import DetectResult, detect
from brightline.service.offline import load_world_dir
from brightline.service.telemetry import ingest_files
from brightline.telemetry.rollups import rollup_files
from brightline.world import World

NOW = datetime(2025, 10, 5, tzinfo=UTC)
PACK = load_pack("mass-surveillance")


@pytest.fixture(scope="module")
def world(synth_dir: Path) -> World:
    return load_world_dir(synth_dir).world


@pytest.fixture(scope="module")
def usage(synth_dir: Path) -> Usage:
    return Usage.from_files([synth_dir / "telemetry" / "metering.parquet"])


def test_pack_gives_identical_alerts_on_duckdb_and_spark(
    synth_dir: Path, world: World, usage: Usage, spark_engine: SparkEngine
) -> None:
    duck = DuckDBEngine()
    on_duckdb = run_pack(PACK, world, duck, usage, now=NOW)
    duck.close()
    on_spark = run_pack(PACK, world, spark_engine, usage, now=NOW)
    assert on_duckdb.firings == on_spark.firings
    assert [f.values for f in on_duckdb.firings] == [f.values for f in on_spark.firings]
    assert [a.to_dict() for a in on_duckdb.alerts] == [a.to_dict() for a in on_spark.alerts]
    truth = json.loads((synth_dir / "truth.json").read_text())
    alerted = {a.customer for a in on_duckdb.alerts}
    assert alerted == {t["customer"] for t in truth["planted"]}
    assert not alerted & {t["customer"] for t in truth["decoys"]}


def test_rerun_updates_alerts_instead_of_duplicating(
    tmp_path: Path, world: World, usage: Usage
) -> None:
    engine = DuckDBEngine()
    run = run_pack(PACK, world, engine, usage, now=NOW)
    out = tmp_path / "alerts.jsonl"
    first = write_alerts(out, run.alerts, now=NOW)
    again = write_alerts(out, run_pack(PACK, world, engine, usage, now=NOW).alerts, now=NOW)
    engine.close()
    assert (first.new, again.new, again.updated) == (len(run.alerts), 0, len(run.alerts))
    alerts = read_alerts(out)
    assert len(alerts) == len(run.alerts)
    for alert in alerts:
        assert {"rules", "node", "score", "window_start", "window_end", "values"} <= set(alert)
        assert alert["score"] >= alert["threshold"]


def test_suppression_silences_a_rule_until_it_expires(world: World, usage: Usage) -> None:
    engine = DuckDBEngine()
    plain = run_pack(PACK, world, engine, usage, now=NOW)
    target = plain.alerts[0]
    silence = [
        Suppression(rule="*", node=target.node, until=NOW + timedelta(days=1), reason="reviewed")
    ]
    silenced = run_pack(PACK, world, engine, usage, suppressions=silence, now=NOW)
    expired = run_pack(
        PACK, world, engine, usage, suppressions=silence, now=NOW + timedelta(days=2)
    )
    engine.close()
    assert target.node not in {a.node for a in silenced.alerts}
    assert {f.node for f in silenced.suppressed} <= set(world.directory.subtree(target.node))
    assert target.node in {a.node for a in expired.alerts}


# -- rollups and incremental runs ----------------------------------------------------------


def _split(synth_dir: Path, out: Path, days_before_end: int) -> tuple[Path, Path, date]:
    """The synthetic metering as two files: the days before the last ``days_before_end``,
    and those; with the first day of the second."""
    rows = pq.read_table(synth_dir / "telemetry" / "metering.parquet")
    last = pc.max(rows["ts"]).as_py()
    cut = (last - timedelta(days=days_before_end - 1)).replace(hour=0, minute=0, second=0)
    late = pc.greater_equal(rows["ts"], pa.scalar(cut, rows["ts"].type))
    early_file, late_file = out / "early.parquet", out / "late.parquet"
    pq.write_table(rows.filter(pc.invert(late)), early_file)
    pq.write_table(rows.filter(late), late_file)
    return early_file, late_file, cut.date()


def _incremental_after_full(
    tmp_path: Path, synth_dir: Path, world: World, engine: Engine
) -> tuple[DetectResult, DetectResult, Settings]:
    """A full run over all days but the last two, then those ingested and run
    incrementally, through the use case."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=tmp_path / "data")
    early, late, cut = _split(synth_dir, tmp_path, 2)
    ingest_files(settings, [early], world=world, now=NOW)
    first = detect(settings, world=world, now=NOW, engine_instance=engine, since=cut)
    assert first.incremental_from is None  # no earlier run: a full one
    ingest_files(settings, [late], world=world, now=NOW)
    second = detect(settings, world=world, now=NOW, engine_instance=engine, incremental=True)
    assert second.incremental_from == cut
    return first, second, settings


def _same(a: DetectionRun, b: DetectionRun) -> None:
    assert a.firings == b.firings
    assert [f.values for f in a.firings] == [f.values for f in b.firings]
    assert [x.to_dict() for x in a.alerts] == [x.to_dict() for x in b.alerts]


def test_rollups_give_the_alerts_of_raw_rows_on_both_engines(
    tmp_path: Path, synth_dir: Path, world: World, usage: Usage, spark_engine: SparkEngine
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ingest_files(settings, [synth_dir / "telemetry" / "metering.parquet"], world=world, now=NOW)
    root = settings.data_dir / "telemetry"
    stored = rollup_files(root)
    rolled = Usage.from_rollups(stored[d] for d in sorted(stored))
    duck = DuckDBEngine()
    raw = run_pack(PACK, world, duck, usage, now=NOW)
    on_duckdb = run_pack(PACK, world, duck, rolled, now=NOW)
    duck.close()
    _same(raw, on_duckdb)
    _same(raw, run_pack(PACK, world, spark_engine, rolled, now=NOW))


def test_incremental_run_after_new_days_equals_a_full_run_on_both_engines(
    tmp_path: Path, synth_dir: Path, world: World, usage: Usage, spark_engine: SparkEngine
) -> None:
    duck = DuckDBEngine()
    full = run_pack(PACK, world, duck, usage, now=NOW)
    _, on_duckdb, settings = _incremental_after_full(tmp_path / "duck", synth_dir, world, duck)
    duck.close()
    _same(full, on_duckdb.run)
    _, on_spark, _ = _incremental_after_full(tmp_path / "spark", synth_dir, world, spark_engine)
    _same(full, on_spark.run)
    # The alerts file holds each alert once, as a full run writes it.
    alerts = read_alerts(settings.data_dir / "alerts.jsonl")
    assert sorted(a["id"] for a in alerts) == sorted(a.id for a in full.alerts)


def test_a_redelivered_old_day_is_evaluated_again(
    tmp_path: Path, synth_dir: Path, world: World
) -> None:
    duck = DuckDBEngine()
    _, _, settings = _incremental_after_full(tmp_path, synth_dir, world, duck)
    # Re-deliver one day in the middle, ten times the usage of every row.
    rows = pq.read_table(synth_dir / "telemetry" / "metering.parquet")
    day = (pc.min(rows["ts"]).as_py() + timedelta(days=12)).replace(hour=0)
    one_day = rows.filter(
        pc.and_(
            pc.greater_equal(rows["ts"], pa.scalar(day, rows["ts"].type)),
            pc.less(rows["ts"], pa.scalar(day + timedelta(days=1), rows["ts"].type)),
        )
    )
    again = tmp_path / "again.parquet"
    pq.write_table(one_day.set_column(5, "quantity", pc.multiply(one_day["quantity"], 10.0)), again)
    ingest_files(settings, [again], world=world, now=NOW)
    result = detect(settings, world=world, now=NOW, engine_instance=duck, incremental=True)
    assert result.incremental_from == day.date()
    root = settings.data_dir / "telemetry"
    stored = rollup_files(root)
    full = run_pack(
        PACK, world, duck, Usage.from_rollups(stored[d] for d in sorted(stored)), now=NOW
    )
    duck.close()
    _same(full, result.run)
