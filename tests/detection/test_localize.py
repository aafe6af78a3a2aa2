"""Alerts name the narrowest node that carries the pattern, with context."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from brightline.detection import DuckDBEngine, Usage, load_pack, run_pack
from brightline.service.intake import alert_context_text
from brightline.service.offline import load_world_dir
from brightline.synth import synthesize
from brightline.synth.story import MINISTRY, UNIT

NOW = datetime(2025, 10, 5, tzinfo=UTC)


def test_story_alert_names_the_unit_not_the_ministry(tmp_path: Path) -> None:
    synthesize(tmp_path, subscriptions=200, days=30, seed=7, story=True)
    world = load_world_dir(tmp_path).world
    usage = Usage.from_files([tmp_path / "telemetry" / "metering.parquet"])
    engine = DuckDBEngine()
    pack = load_pack("mass-surveillance")
    localized = run_pack(pack, world, engine, usage, now=NOW)
    fixed = run_pack(pack, world, engine, usage, now=NOW, localize=False)
    engine.close()
    assert [a.node for a in fixed.alerts] == [MINISTRY]
    (alert,) = localized.alerts
    assert (alert.node, alert.node_kind, alert.customer) == (UNIT, "unit", MINISTRY)
    context = alert.context
    assert context["localized"] is True
    assert [a["node"] for a in context["ancestors"]] == [MINISTRY]
    assert {s["node"] for s in context["siblings"]} == {"mod-hq", "mod-medical", "mod-academy"}
    assert all(s["score"] < alert.threshold for s in context["siblings"])
    assert set(context["shares"]) == set(alert.rules)
    text = alert_context_text(alert.to_dict())
    assert f"unit {UNIT} of customer {MINISTRY}" in text
    assert "mod-hq 0" in text
