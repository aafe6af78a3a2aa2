"""Re-delivering any set of subscriptions' periods, any number of times, never changes
the stored totals: a later delivery replaces the rows of the periods it covers."""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brightline.telemetry import TelemetryDataset, ingest_file
from brightline.world import World, load_world

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "world"
NOW = datetime(2025, 10, 10, tzinfo=UTC)
HEADER = "ts,subscription_id,service,operation,region,quantity,unit,hours\n"
SUBS = ("sub-hq-mail", "sub-hq-payroll")
WORLD: World = load_world(EXAMPLES)


def rows(groups: list[tuple[str, int, bool]]) -> str:
    """Each group is a subscription's day, delivered as one daily row or as hourly rows
    (hours 0–3), always 24 units in all."""
    out = []
    for sub, day, daily in groups:
        if daily:
            out.append(
                f"2025-10-0{day}T00:00:00Z,{sub},storage.blob,read,westeurope,24,requests,24"
            )
        else:
            out += [
                f"2025-10-0{day}T0{h}:00:00Z,{sub},storage.blob,read,westeurope,6,requests,1"
                for h in range(4)
            ]
    return HEADER + "".join(line + "\n" for line in out)


def total(dataset: TelemetryDataset) -> float:
    return sum(
        sum(pq.read_table(f, partitioning=None)["quantity"].to_pylist()) for f in dataset.files()
    )


ALL = [(s, d) for s, d in itertools.product(SUBS, range(1, 4))]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    daily=st.lists(st.booleans(), min_size=len(ALL), max_size=len(ALL)),
    redeliveries=st.lists(
        st.tuples(
            st.sets(st.sampled_from(ALL), min_size=1),
            st.booleans(),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_redelivering_any_periods_never_changes_the_totals(
    daily: list[bool], redeliveries: list[tuple[set[tuple[str, int]], bool]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = TelemetryDataset(root / "store")
        first = root / "first.csv"
        first.write_text(rows([(s, d, k) for (s, d), k in zip(ALL, daily, strict=True)]))
        ingest_file(first, WORLD, dataset, now=NOW)
        assert total(dataset) == 24 * len(ALL)
        for n, (periods, as_daily) in enumerate(redeliveries):
            again = root / f"again-{n}.csv"
            again.write_text(rows([(s, d, as_daily) for s, d in sorted(periods)]))
            for _ in range(2):  # the same periods twice, the second time an identical file
                ingest_file(again, WORLD, dataset, now=NOW)
            assert total(dataset) == 24 * len(ALL)
