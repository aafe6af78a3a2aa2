"""The impact plan's decision diff and replay, decided on the overlay, equal the slow
reference: the snapshot with the proposal compiled whole and every (node, action,
region) under the proposal's scopes decided in one batch (the plan's former code)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.config import Settings
from brightline.policy import Restriction, Snapshot
from brightline.policy.overlay import Overlay
from brightline.service import compile_snapshot_at
from brightline.service.plans import (
    DIFF_SAMPLE,
    InForce,
    _diff,
    _replay,
    plan_text,
    restricted_actions,
)
from brightline.service.restrictions import bootstrap_restrictions
from brightline.store import Store
from brightline.world import World
from service.store_scenarios import EXAMPLE, SETUP, T0
from worldgen import TIMES, Scenario, proposal, scenarios


@st.composite
def proposals(draw: st.DrawFn) -> tuple[Scenario, tuple[Restriction, ...], datetime]:
    scenario = draw(scenarios(max_restrictions=4, n_requests=20, unknown=True))
    return scenario, draw(proposal(scenario.world)), draw(st.sampled_from(TIMES))


def _after(scenario: Scenario, proposal: tuple[Restriction, ...]) -> Snapshot:
    ids = {r.id for r in proposal}
    kept = [r for r in scenario.restrictions if r.id not in ids]
    return Snapshot(scenario.world, [*kept, *proposal])


def reference_diff(
    world: World, before: Snapshot, after: Snapshot, proposal: Any, at: datetime
) -> dict[str, Any]:
    directory = world.directory
    nodes = sorted({n for r in proposal for n in directory.subtree(r.scope)})
    actions = restricted_actions(world, proposal)
    regions = sorted(world.catalog.regions)
    combos = [(n, s, o, g) for n in nodes for s, o in actions for g in regions]
    if not combos:
        return {"changes": 0, "sample": []}
    columns = {
        "node": [c[0] for c in combos],
        "service": [c[1] for c in combos],
        "operation": [c[2] for c in combos],
        "region": [c[3] for c in combos],
    }
    names = {0: "allow", 1: "deny", 2: "error"}
    was = before.decide_batch(columns, at=at).effect
    now = after.decide_batch(columns, at=at).effect
    changed = [i for i in range(len(combos)) if was[i] != now[i]]
    sample = [
        {
            "node": combos[i][0],
            "action": f"{combos[i][1]}:{combos[i][2]}",
            "region": combos[i][3],
            "before": names[int(was[i])],
            "after": names[int(now[i])],
        }
        for i in changed[:DIFF_SAMPLE]
    ]
    return {"changes": len(changed), "sample": sample}


def reference_replay(
    before: Snapshot, after: Snapshot, rows: pa.Table, at: datetime
) -> dict[str, Any]:
    total = sum(rows["rows"].to_pylist())
    columns = {
        "node": rows["subscription_id"],
        "service": rows["service"],
        "operation": rows["operation"],
        "region": rows["region"],
    }
    was = before.decide_batch(columns, at=at).effect
    now = after.decide_batch(columns, at=at).effect
    counts: Counter[tuple[str, str]] = Counter()
    denied = 0
    for i, weight in enumerate(rows["rows"].to_pylist()):
        if now[i] == 1 and was[i] != 1:
            counts[(rows["service"][i].as_py(), rows["region"][i].as_py())] += weight
            denied += weight
    return {
        "rows": total,
        "denied": denied,
        "share": round(denied / total, 6),
        "by_service_region": [
            {"service": s, "region": r, "denied": n} for (s, r), n in sorted(counts.items())
        ],
    }


@settings(max_examples=150, deadline=None)
@given(proposals())
def test_the_diff_on_the_overlay_equals_the_compiled_reference(
    case: tuple[Scenario, tuple[Restriction, ...], datetime],
) -> None:
    scenario, proposal, at = case
    before = scenario.snapshot()
    expected = reference_diff(scenario.world, before, _after(scenario, proposal), proposal, at)
    assert _diff(scenario.world, Overlay(before, proposal), proposal, at) == expected


@settings(max_examples=150, deadline=None)
@given(proposals(), st.data())
def test_the_replay_on_the_overlay_equals_the_compiled_reference(
    case: tuple[Scenario, tuple[Restriction, ...], datetime], data: st.DataObject
) -> None:
    scenario, proposal, at = case
    reqs = scenario.requests  # unknown names among them: neither side denies those rows
    weights = data.draw(st.lists(st.integers(1, 50), min_size=len(reqs), max_size=len(reqs)))
    rows = pa.table(
        {
            "subscription_id": [r.node for r in reqs],
            "service": [r.service for r in reqs],
            "operation": [r.operation for r in reqs],
            "region": [r.region for r in reqs],
            "rows": pa.array(weights, pa.int64()),
        }
    )
    before = scenario.snapshot()
    expected = reference_replay(before, _after(scenario, proposal), rows, at)
    assert _replay(Overlay(before, proposal), rows, at) == expected


PROPOSAL = """\
- id: r-0001
  scope: mod-freedonia
  actions: ["storage.*:*"]
  exempt: [mod-medical]
  mode: enforce
  reason: {policy: mass-surveillance}
- id: r-9901
  scope: unit-9900
  actions: ["ai.speech:transcribe"]
  regions: [westeurope]
  not_before: 2025-10-01T00:00:00Z
  mode: dry-run
  reason: {policy: mass-surveillance}
"""


def test_a_plan_against_the_snapshot_in_force_equals_one_compiled_from_the_store(
    world_store: Store, tmp_path: Path
) -> None:
    bootstrap_restrictions(world_store, EXAMPLE / "restrictions.yaml", actor=SETUP, now=T0)
    settings = Settings(data_dir=tmp_path / "data")
    now = T0 + timedelta(days=30)
    compiled = compile_snapshot_at(world_store, now)
    in_force = InForce(compiled.snapshot, compiled.world_version)
    plan = plan_text(world_store, settings, PROPOSAL, name="p", now=now)
    served = plan_text(world_store, settings, PROPOSAL, name="p", now=now, in_force=in_force)
    assert served.to_json() == plan.to_json()
    assert plan.document["phases"][0]["diff"]["changes"] > 0


def test_a_snapshot_of_an_older_world_is_not_planned_against(
    world_store: Store, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    now = T0 + timedelta(days=30)
    compiled = compile_snapshot_at(world_store, now)
    stale = InForce(compiled.snapshot, compiled.world_version - 1)
    plan = plan_text(world_store, settings, PROPOSAL, name="p", now=now, in_force=stale)
    assert plan.document["world_version"] == compiled.world_version
