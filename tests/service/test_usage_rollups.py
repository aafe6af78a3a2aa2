"""A case's and a plan's usage read from the daily rollups equals the same usage summed
from the raw rows, whatever hour the window starts and ends at."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brightline.service.usage import read_usage, read_usage_summary, summarise
from brightline.telemetry import TelemetryDataset, ingest_file, rollups_cover
from brightline.telemetry.rollups import rollup_root
from brightline.world import load_world

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "world"
SUBS = ["sub-hq-mail", "sub-hq-payroll"]


def rows_of(table: object) -> list[tuple[object, ...]]:
    data = table.to_pylist()  # type: ignore[attr-defined]
    return sorted(
        (r["subscription_id"], r["service"], r["unit"], round(r["quantity"], 9), r["rows"])
        for r in data
    )


@pytest.mark.parametrize(("start_hour", "end_hour"), [(0, 0), (7, 13), (23, 1)])
def test_summary_from_rollups_equals_raw_rows(
    tmp_path: Path, start_hour: int, end_hour: int
) -> None:
    world = load_world(EXAMPLES)
    source = tmp_path / "usage.csv"
    lines = ["ts,subscription_id,service,operation,region,quantity,unit,hours"]
    for day in range(1, 9):
        for hour in range(0, 24, 5):
            for n, sub in enumerate(SUBS):
                lines.append(
                    f"2025-10-0{day}T{hour:02d}:00:00Z,{sub},storage.blob,read,westeurope,"
                    f"{day * 10 + hour + n / 3},requests,1"
                )
        lines.append(
            f"2025-10-0{day}T00:00:00Z,{SUBS[0]},storage.blob,write,westeurope,5,GB-month,24"
        )
    source.write_text("\n".join(lines) + "\n")
    dataset = TelemetryDataset(tmp_path / "store")
    ingest_file(source, world, dataset, now=datetime(2025, 10, 10, tzinfo=UTC))
    assert rollups_cover(dataset)
    since = datetime(2025, 10, 2, start_hour, tzinfo=UTC)
    until = datetime(2025, 10, 7, end_hour, tzinfo=UTC) + timedelta(days=end_hour == 1)
    raw = summarise(read_usage(dataset, subscriptions=SUBS, since=since, until=until))
    rolled = read_usage_summary(
        dataset, subscriptions=SUBS[:1] + SUBS[1:], since=since, until=until
    )
    assert rows_of(rolled) == rows_of(raw)
    assert rows_of(raw)
    shutil.rmtree(rollup_root(dataset.root))  # without rollups: the raw rows, the same
    assert rows_of(
        read_usage_summary(dataset, subscriptions=SUBS, since=since, until=until)
    ) == rows_of(raw)


def test_a_kept_partial_day_follows_a_later_ingest(tmp_path: Path) -> None:
    """The partial days' summaries kept between reads are those of the files read: rows
    ingested later into the same day are counted."""
    world = load_world(EXAMPLES)
    dataset = TelemetryDataset(tmp_path / "store")
    header = "ts,subscription_id,service,operation,region,quantity,unit,hours\n"

    def ingest(name: str, hour: int, quantity: int) -> None:
        source = tmp_path / name
        source.write_text(
            header
            + "".join(
                f"2025-10-0{day}T{hour:02d}:00:00Z,{SUBS[0]},storage.blob,read,westeurope,"
                f"{quantity},requests,1\n"
                for day in range(1, 5)
            )
        )
        ingest_file(source, world, dataset, now=datetime(2025, 10, 10, tzinfo=UTC))

    since, until = datetime(2025, 10, 1, 6, tzinfo=UTC), datetime(2025, 10, 4, 18, tzinfo=UTC)
    ingest("a.csv", 9, 1)
    first = read_usage_summary(dataset, subscriptions=SUBS, since=since, until=until)
    ingest("b.csv", 12, 10)
    assert rollups_cover(dataset)
    again = read_usage_summary(dataset, subscriptions=SUBS, since=since, until=until)
    raw = summarise(read_usage(dataset, subscriptions=SUBS, since=since, until=until))
    assert rows_of(again) == rows_of(raw) != rows_of(first)
