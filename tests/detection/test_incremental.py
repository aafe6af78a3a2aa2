"""Incremental runs give the firings and alerts of a full run: a full run up to day D,
then new (or re-delivered) days evaluated incrementally, equals a full run over all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brightline.detection import DuckDBEngine, Pack, Since, Usage, load_pack, run_pack
from brightline.telemetry import METERING_SCHEMA

NOW = datetime(2025, 10, 5, tzinfo=UTC)
PACK = load_pack("mass-surveillance")
WORLD = PACK.fixture_world()
START = datetime(2025, 1, 6, tzinfo=UTC)
#: What the pack's rules read, from their own fixtures (service, operation, region, unit).
COMBOS = sorted(
    {
        (u.service, u.operation, u.region, u.unit)
        for rule in PACK.rules
        for case in (*rule.spec.tests.positive, *rule.spec.tests.negative)
        for u in case.usage
    }
)
SUBS = sorted(n.id for n in WORLD.directory if not WORLD.directory.children(n.id))
LEVELS = [0.0, 100.0, 5_000.0, 30_000.0, 200_000.0, 9_000_000.0]


def widened(pack: Pack, days: int) -> Pack:
    """The pack with every rule's window ``days`` days long."""
    rules = tuple(
        replace(r, spec=r.spec.model_copy(update={"window_days": days})) for r in pack.rules
    )
    return replace(pack, rules=rules)


def table(cells: dict[tuple[int, int, int], float]) -> pa.Table:
    """One row per (day, subscription, combo) cell with usage, at noon of the day."""
    columns: dict[str, list[object]] = {name: [] for name in METERING_SCHEMA.names}
    for (day, sub, combo), quantity in sorted(cells.items()):
        service, operation, region, unit = COMBOS[combo]
        columns["ts"].append(START + timedelta(days=day, hours=12))
        columns["subscription_id"].append(SUBS[sub])
        columns["service"].append(service)
        columns["operation"].append(operation)
        columns["region"].append(region)
        columns["quantity"].append(quantity)
        columns["unit"].append(unit)
        columns["hours"].append(1)
    return pa.table(columns, schema=METERING_SCHEMA)


def before(rows: pa.Table, day: int) -> pa.Table:
    return rows.filter(pc.less(rows["ts"], pa.scalar(START + timedelta(days=day), rows["ts"].type)))


def epoch_day(day: int) -> int:
    return (START + timedelta(days=day) - datetime(1970, 1, 1, tzinfo=UTC)).days


def every_firing(run: object) -> tuple[object, ...]:
    return tuple(sorted([*run.firings, *run.suppressed]))  # type: ignore[attr-defined]


Cell = tuple[int, int, int]
cell = st.tuples(st.integers(0, 39), st.integers(0, len(SUBS) - 1), st.integers(0, len(COMBOS) - 1))


@st.composite
def usage_cells(draw: st.DrawFn) -> dict[Cell, float]:
    """Steady runs of days (baselines) with single days drawn over them (spikes)."""
    out: dict[Cell, float] = {}
    runs = st.tuples(cell, st.integers(1, 30), st.sampled_from(LEVELS))
    for (day, sub, combo), length, level in draw(st.lists(runs, max_size=4)):
        for d in range(day, min(day + length, 40)):
            out[(d, sub, combo)] = level
    out.update(draw(st.dictionaries(cell, st.sampled_from(LEVELS), max_size=40)))
    return out


cells = usage_cells()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=cells,
    cut=st.integers(1, 39),
    redelivered=st.dictionaries(cell, st.sampled_from(LEVELS), max_size=10),
    width=st.sampled_from([1, 1, 3]),
)
def test_incremental_after_full_equals_full_on_random_usage(
    first: dict[Cell, float],
    cut: int,
    redelivered: dict[Cell, float],
    width: int,
) -> None:
    pack = widened(PACK, width) if width > 1 else PACK
    # Day 0 always has usage, so that the first day stays where it was.
    first = {(0, 0, 0): 1.0, **first}
    engine = DuckDBEngine(threads=1)
    try:
        all_rows = table(first)
        earlier = run_pack(pack, WORLD, engine, Usage.from_table(before(all_rows, cut)), now=NOW)
        # New days from ``cut`` on, and re-delivered cells (changing days from the
        # earliest one re-delivered).
        changed = {**first, **{k: v for k, v in redelivered.items() if k[0] >= 1}}
        since = min([cut, *(k[0] for k in redelivered if k[0] >= 1)])
        rows = table(changed)
        full = run_pack(pack, WORLD, engine, Usage.from_table(rows), now=NOW)
        step = Since(epoch_day(since), every_firing(earlier))
        incremental = run_pack(pack, WORLD, engine, Usage.from_table(rows), now=NOW, since=step)
    finally:
        engine.close()
    assert every_firing(incremental) == every_firing(full)
    assert [f.values for f in every_firing(incremental)] == [f.values for f in every_firing(full)]
    assert [a.to_dict() for a in incremental.alerts] == [a.to_dict() for a in full.alerts]
