from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brightline.cli import app


def test_synth_ingest_detect_offline(
    tmp_path: Path, synth_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIGHTLINE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    metering = str(synth_dir / "telemetry" / "metering.parquet")
    world = ["--world", str(synth_dir)]
    result = runner.invoke(app, ["telemetry", "ingest", metering, *world])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["telemetry", "ingest", metering, *world])
    assert "usage is not counted twice" in " ".join(again.output.split())
    out = tmp_path / "alerts.jsonl"
    for _ in range(2):
        result = runner.invoke(app, ["detect", "run", *world, "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert "0 new" in " ".join(result.output.split())
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    truth = json.loads((synth_dir / "truth.json").read_text())
    assert {a["customer"] for a in alerts} == {t["customer"] for t in truth["planted"]}

    # The same rules rolled up per unit name units inside the planted customers.
    from brightline.world import load_world

    directory = load_world(synth_dir).directory
    per_unit = tmp_path / "units.jsonl"
    result = runner.invoke(
        app, ["detect", "run", *world, "--out", str(per_unit), "--level", "unit"]
    )
    assert result.exit_code == 0, result.output
    units = [json.loads(line) for line in per_unit.read_text().splitlines()]
    assert units
    assert all(directory[a["node"]].kind == "unit" for a in units)
    assert {directory.root(a["node"]) for a in units} <= {a["customer"] for a in alerts}
    wrong = runner.invoke(app, ["detect", "run", *world, "--level", "galaxy"])
    assert wrong.exit_code == 2
    assert "galaxy" in wrong.output


def test_detect_test_runs_the_pack_fixtures() -> None:
    result = CliRunner().invoke(app, ["detect", "test"])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def test_refused_file_exits_with_invalid_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIGHTLINE_DATA_DIR", str(tmp_path / "data"))
    source = tmp_path / "u.csv"
    source.write_text("ts,subscription_id,service,operation,region,quantity,unit,payload\n")
    examples = Path(__file__).resolve().parents[2] / "examples" / "world"
    result = CliRunner().invoke(app, ["telemetry", "ingest", str(source), "--world", str(examples)])
    assert result.exit_code == 2
    assert "payload" in result.output


def test_rollup_check_detect_since_and_watch_once(
    tmp_path: Path, synth_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIGHTLINE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    world = ["--world", str(synth_dir)]
    metering = str(synth_dir / "telemetry" / "metering.parquet")
    assert runner.invoke(app, ["telemetry", "ingest", metering, *world]).exit_code == 0
    check = runner.invoke(app, ["telemetry", "rollup", "--check"])
    assert check.exit_code == 0, check.output
    assert "rollups match the raw rows" in check.output
    rebuilt = runner.invoke(app, ["telemetry", "rollup", "--rebuild"])
    assert "0 rewritten" in rebuilt.output, rebuilt.output
    full = runner.invoke(app, ["detect", "run", *world, "--since", "2099-01-01"])
    assert "full run (no earlier run to continue)" in " ".join(full.output.split())
    step = runner.invoke(app, ["detect", "run", *world, "--since", "2099-01-01"])
    assert "incremental" in step.output
    assert "0 new" in " ".join(step.output.split())
    watched = runner.invoke(app, ["detect", "watch", *world, "--once"])
    assert watched.exit_code == 0, watched.output
    assert "incremental: no day changed" in watched.output
