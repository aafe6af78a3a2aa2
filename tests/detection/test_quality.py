"""The quality benchmark's floors, on one seed per scenario family (fast)."""

from __future__ import annotations

from pathlib import Path

from brightline.service.detection_quality import measure_quality


def test_one_seed_per_family_meets_the_floors(tmp_path: Path) -> None:
    quality = measure_quality(tmp_path, seeds=[1], background=20)
    recall, _, named = quality.overall()
    assert recall >= 0.9
    for family in quality.families:
        if family.planted:
            assert family.detected == family.scenarios, family
        else:
            assert family.false_alerts == 0, family
    assert named >= 0.9
    evasion = [f for f in quality.families if f.family.startswith("evasion")]
    assert evasion
    assert all(f.named == f.scenarios for f in evasion)
    growth = next(f for f in quality.families if f.family == "sibling-growth")
    assert growth.false_alerts == 0


def test_evasion_alert_names_where_the_usage_went_and_its_case(tmp_path: Path) -> None:
    from datetime import timedelta

    from brightline.detection import DuckDBEngine, Usage, load_pack, run_pack
    from brightline.service.detection import watches_in_force
    from brightline.service.offline import load_world_dir
    from brightline.synth.scenarios import DAYS, START, scenario_world

    scenario = scenario_world(tmp_path, seed=3, families=("evasion-sibling",), background=0)
    loaded = load_world_dir(scenario.out)
    now = START + timedelta(days=DAYS)
    engine = DuckDBEngine()
    run = run_pack(
        load_pack("mass-surveillance"),
        loaded.world,
        engine,
        Usage.from_table(scenario.usage),
        now=now,
        watches=watches_in_force(loaded.restrictions, loaded.world, now),
    )
    engine.close()
    (truth,) = scenario.truth
    evasion = [a for a in run.alerts if a.rules == ("evasion-watch",)]
    assert [a.node for a in evasion] == [truth.node]
    context = evasion[0].context["evasion"]
    assert context["restriction"] == truth.restriction
    assert context["case"].startswith("C-")
    assert context["went"]["regions"]
    assert context["went"]["services"]
