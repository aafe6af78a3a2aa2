"""The whole built-in pack on both engines over the same synthetic data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brightline.detection import (
    DuckDBEngine,
    Suppression,
    Usage,
    load_pack,
    read_alerts,
    run_pack,
    write_alerts,
)
from brightline.detection.spark import SparkEngine
from brightline.service.offline import load_world_dir
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
