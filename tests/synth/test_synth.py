from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from brightline.service.offline import load_world_dir
from brightline.synth import synthesize


def test_synth_is_deterministic_and_writes_world_metering_and_truth(tmp_path: Path) -> None:
    a = synthesize(tmp_path / "a", subscriptions=120, days=20, seed=5)
    b = synthesize(tmp_path / "b", subscriptions=120, days=20, seed=5)
    assert pq.read_table(a.metering).equals(pq.read_table(b.metering))
    world = load_world_dir(tmp_path / "a").world
    leaves = [n for n in world.directory if n.kind == "subscription"]
    assert len(leaves) == 120
    truth = json.loads((tmp_path / "a" / "truth.json").read_text())
    assert truth["planted"]
    assert truth["decoys"]
    assert a.rows == truth["rows"] == pq.ParquetFile(a.metering).metadata.num_rows


def test_rows_option_sets_the_volume(tmp_path: Path) -> None:
    result = synthesize(tmp_path / "w", subscriptions=100, days=10, seed=1, rows=100_000)
    assert 90_000 <= result.rows <= 130_000


def test_story_world_plants_the_intelligence_unit_and_names_the_look_alikes(
    tmp_path: Path,
) -> None:
    from brightline.synth.story import EXEMPT, LOOK_ALIKES, MINISTRY, UNIT

    result = synthesize(tmp_path / "s", subscriptions=100, days=30, seed=2, story=True)
    world = load_world_dir(tmp_path / "s").world
    assert len([n for n in world.directory if n.kind == "subscription"]) == 100
    assert world.directory[EXEMPT].parent == UNIT
    assert world.directory[UNIT].parent == MINISTRY
    assert "ingest.streams" in world.catalog.services
    assert result.planted == (MINISTRY,)
    assert result.decoys == LOOK_ALIKES
    usage = pq.read_table(result.metering).to_pylist()
    abroad = {
        (r["service"], r["region"])
        for r in usage
        if r["subscription_id"].startswith("sub-9900-") and r["subscription_id"] != EXEMPT
    }
    assert {("ai.speech", "westeurope"), ("storage.blob", "northeurope")} <= abroad
