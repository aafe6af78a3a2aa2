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
