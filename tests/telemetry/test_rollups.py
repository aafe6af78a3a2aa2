"""Daily rollups follow the raw rows through ingest, re-delivery, failure and retention,
and ``rebuild`` / ``check`` recompute and compare them exactly."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brightline.errors import StorageError
from brightline.telemetry import (
    StaticHolds,
    TelemetryDataset,
    check_rollups,
    ingest_file,
    prune,
    rebuild_rollups,
    rollups_cover,
)
from brightline.telemetry import rollups as rollup_module
from brightline.world import World, load_world

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "world"
NOW = datetime(2025, 10, 10, tzinfo=UTC)
HEADER = "ts,subscription_id,service,operation,region,quantity,unit,hours\n"
SUBS = ("sub-hq-mail", "sub-hq-payroll")
WORLD: World = load_world(EXAMPLES)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return path


def day_rows(sub: str, day: int, quantity: float, *, daily: bool = False) -> list[str]:
    if daily:
        return [
            f"2025-10-0{day}T00:00:00Z,{sub},storage.blob,read,westeurope,{quantity},requests,24"
        ]
    return [
        f"2025-10-0{day}T0{h}:00:00Z,{sub},storage.blob,read,westeurope,{quantity / 4},requests,1"
        for h in range(4)
    ]


def raw_totals(dataset: TelemetryDataset) -> dict[tuple[str, str], tuple[float, int]]:
    out: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for file in dataset.files():
        day = file.parent.name.removeprefix("day=")
        for row in pq.read_table(file, partitioning=None).to_pylist():
            entry = out[(day, row["subscription_id"])]
            entry[0] += row["quantity"]
            entry[1] += 1
    return {k: (round(v[0], 9), int(v[1])) for k, v in out.items()}


def rolled_totals(dataset: TelemetryDataset) -> dict[tuple[str, str], tuple[float, int]]:
    out: dict[tuple[str, str], tuple[float, int]] = {}
    for day, path in rollup_module.rollup_files(dataset.root).items():
        for row in pq.read_table(path, partitioning=None).to_pylist():
            assert row["epoch_day"] == rollup_module.epoch_day(day)
            out[(day, row["subscription_id"])] = (round(row["quantity"], 9), row["rows"])
    return out


def assert_consistent(dataset: TelemetryDataset) -> None:
    assert rollups_cover(dataset)
    assert check_rollups(dataset).mismatched == ()
    assert rolled_totals(dataset) == raw_totals(dataset)


def test_ingest_writes_the_rollups_of_its_days(tmp_path: Path) -> None:
    dataset = TelemetryDataset(tmp_path / "store")
    source = write(
        tmp_path / "a.csv", day_rows(SUBS[0], 1, 8) + day_rows(SUBS[1], 2, 24, daily=True)
    )
    ingest_file(source, WORLD, dataset, now=NOW)
    assert sorted(rollup_module.fingerprints(dataset.root)) == ["2025-10-01", "2025-10-02"]
    assert rolled_totals(dataset) == {
        ("2025-10-01", SUBS[0]): (8.0, 4),
        ("2025-10-02", SUBS[1]): (24.0, 1),
    }
    assert_consistent(dataset)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deliveries=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(SUBS),
                st.integers(1, 3),
                st.integers(0, 40),
                st.booleans(),
            ),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_rollups_follow_any_redeliveries(
    deliveries: list[list[tuple[str, int, int, bool]]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = TelemetryDataset(root / "store")
        for number, groups in enumerate(deliveries):
            lines = [
                line for sub, day, q, daily in groups for line in day_rows(sub, day, q, daily=daily)
            ]
            ingest_file(write(root / f"d{number}.csv", lines), WORLD, dataset, now=NOW)
        assert_consistent(dataset)


def test_a_failed_ingest_leaves_the_rollups_as_the_raw_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = TelemetryDataset(tmp_path / "store")
    ingest_file(write(tmp_path / "a.csv", day_rows(SUBS[0], 1, 8)), WORLD, dataset, now=NOW)
    before = rolled_totals(dataset)

    def full_disk(self: TelemetryDataset, entry: object) -> None:
        raise StorageError(self.root / "_manifest.jsonl", "No space left on device")

    monkeypatch.setattr(TelemetryDataset, "record", full_disk)
    again = write(tmp_path / "b.csv", day_rows(SUBS[0], 1, 100) + day_rows(SUBS[1], 2, 4))
    with pytest.raises(StorageError):
        ingest_file(again, WORLD, dataset, now=NOW)
    assert rolled_totals(dataset) == before
    assert_consistent(dataset)


def test_a_killed_writer_leaves_its_days_pending_and_the_next_one_recomputes(
    tmp_path: Path,
) -> None:
    dataset = TelemetryDataset(tmp_path / "store")
    ingest_file(write(tmp_path / "a.csv", day_rows(SUBS[0], 1, 8)), WORLD, dataset, now=NOW)
    # As if killed after marking and moving rows, before the rollups were rewritten.
    rollup_module.mark(dataset.root, ["2025-10-01"])
    shutil.rmtree(rollup_module.rollup_root(dataset.root) / "day=2025-10-01")
    assert not rollups_cover(dataset)
    assert check_rollups(dataset).mismatched
    ingest_file(write(tmp_path / "b.csv", day_rows(SUBS[1], 2, 4)), WORLD, dataset, now=NOW)
    assert_consistent(dataset)


def test_prune_keeps_rollups_of_held_rows_only(tmp_path: Path) -> None:
    dataset = TelemetryDataset(tmp_path / "store")
    lines = day_rows(SUBS[0], 1, 8) + day_rows(SUBS[1], 1, 4) + day_rows(SUBS[1], 2, 4)
    ingest_file(write(tmp_path / "a.csv", lines), WORLD, dataset, now=NOW)
    prune(
        dataset,
        now=datetime(2025, 10, 4, tzinfo=UTC),
        holds=StaticHolds(frozenset({SUBS[0]})),
        directory=WORLD.directory,
        retention_days=1,
    )
    assert rolled_totals(dataset) == {("2025-10-01", SUBS[0]): (8.0, 4)}
    assert_consistent(dataset)


def test_rebuild_recomputes_rollups_a_dataset_lacks(tmp_path: Path) -> None:
    dataset = TelemetryDataset(tmp_path / "store")
    lines = day_rows(SUBS[0], 1, 8) + day_rows(SUBS[1], 3, 4)
    ingest_file(write(tmp_path / "a.csv", lines), WORLD, dataset, now=NOW)
    shutil.rmtree(rollup_module.rollup_root(dataset.root))
    assert not rollups_cover(dataset)
    report = rebuild_rollups(dataset)
    assert (report.days, report.rewritten) == (2, ("2025-10-01", "2025-10-03"))
    assert_consistent(dataset)
    assert rebuild_rollups(dataset).rewritten == ()  # the same content, the same names


def test_a_day_is_sorted_by_subscription_in_small_row_groups(tmp_path: Path) -> None:
    """Each row group covers its own run of subscriptions, so that a reader of a few
    subscriptions skips the others' groups; the summed read equals summing by hand."""
    import pyarrow as pa

    subs = [f"sub-{n:05d}" for n in range(3 * rollup_module.ROW_GROUP)]
    raw = tmp_path / "raw.parquet"
    count = len(subs) * 2
    pq.write_table(
        pa.table(
            {
                "subscription_id": [subs[(n * 7919) % len(subs)] for n in range(count)],
                "service": ["storage.blob"] * count,
                "operation": ["read", "write"] * len(subs),
                "region": ["westeurope"] * count,
                "unit": ["requests"] * count,
                "quantity": [float(n % 97) / 3 for n in range(count)],
            }
        ),
        raw,
    )
    day = "2025-10-01"
    paths = [
        rollup_module.write_day(tmp_path / d, day, rollup_module.compute(day, [raw]))
        for d in ("a", "b")
    ]
    assert None not in paths
    meta = pq.ParquetFile(paths[0]).metadata
    assert meta.num_row_groups > 1
    column = meta.schema.names.index("subscription_id")
    bounds = [
        (
            meta.row_group(i).column(column).statistics.min,
            meta.row_group(i).column(column).statistics.max,
        )
        for i in range(meta.num_row_groups)
    ]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(bounds))
    wanted = [subs[5], subs[-1], "sub-nowhere"]
    got = rollup_module.read_summed([p for p in paths if p], wanted).to_pylist()
    table = pq.read_table(paths[0])
    want: defaultdict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for row in table.to_pylist():  # the same day twice: each sum doubled
        if row["subscription_id"] in wanted:
            want[row["subscription_id"], row["operation"]][0] += 2 * row["quantity"]
            want[row["subscription_id"], row["operation"]][1] += 2 * row["rows"]
    assert len(got) == len(want) > 0
    for r in got:
        quantity, rows = want[r["subscription_id"], r["operation"]]
        assert (r["quantity"], r["rows"]) == (pytest.approx(quantity), rows)
