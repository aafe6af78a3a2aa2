from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import brightline.telemetry as telemetry
from brightline.errors import InvalidInputError
from brightline.telemetry import (
    METERING_SCHEMA,
    StaticHolds,
    TelemetryDataset,
    ingest_file,
    prune,
)
from brightline.world import World, load_world

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "world"
NOW = datetime(2025, 10, 5, tzinfo=UTC)
HEADER = "ts,subscription_id,service,operation,region,quantity,unit\n"
GOOD = "2025-10-01T10:00:00Z,sub-hq-mail,storage.blob,read,westeurope,12.5,requests\n"


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(EXAMPLES)


def stored_rows(dataset: TelemetryDataset) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in dataset.files())


def test_public_api_is_exported() -> None:
    for name in telemetry.__all__:
        assert hasattr(telemetry, name)


def test_bad_rows_are_quarantined_with_their_reason(tmp_path: Path, world: World) -> None:
    source = tmp_path / "usage.csv"
    source.write_text(
        HEADER
        + GOOD
        + "2025-10-01T10:30:00Z,sub-hq-mail,storage.blob,read,westeurope,1,requests\n"
        + "2025-10-01T11:00:00Z,sub-nope,storage.blob,read,westeurope,1,requests\n"
        + "2025-10-01T11:00:00Z,sub-hq-mail,storage.nope,read,westeurope,1,requests\n"
        + "2025-10-01T11:00:00Z,sub-hq-mail,storage.blob,fly,westeurope,1,requests\n"
        + "2025-10-01T11:00:00Z,sub-hq-mail,storage.blob,read,mars,1,requests\n"
        + "2025-10-01T11:00:00Z,sub-hq-mail,storage.blob,read,westeurope,-1,requests\n"
        + "2025-10-01T11:00:00Z,sub-hq-mail,storage.blob,read,westeurope,abc,requests\n"
        + "2025-10-01T11:00:00,sub-hq-mail,storage.blob,read,westeurope,1,requests\n"
        + "2025-10-01T11:00:00Z,sub-hq-mail,storage.blob,read,,1,requests\n"
    )
    dataset = TelemetryDataset(tmp_path / "store")
    report = ingest_file(source, world, dataset, now=NOW)
    assert report.rows == 10
    assert report.accepted == 1
    assert report.quarantined == {
        "missing_field": 1,
        "negative_quantity": 1,
        "not_hour_start": 1,
        "unknown_operation": 1,
        "unknown_region": 1,
        "unknown_service": 1,
        "unknown_subscription": 1,
        "wrong_type": 2,
    }
    assert report.quarantine_file is not None
    lines = [json.loads(x) for x in Path(report.quarantine_file).read_text().splitlines()]
    assert {x["row"] for x in lines} == set(range(2, 11))
    assert stored_rows(dataset) == 1


def test_column_outside_the_schema_refuses_the_whole_file(tmp_path: Path, world: World) -> None:
    source = tmp_path / "usage.csv"
    source.write_text(HEADER.rstrip("\n") + ",message\n" + GOOD.rstrip("\n") + ",hello\n")
    dataset = TelemetryDataset(tmp_path / "store")
    with pytest.raises(InvalidInputError, match="'message'"):
        ingest_file(source, world, dataset, now=NOW)
    assert dataset.is_empty()
    assert dataset.manifest() == {}


def test_json_lines_with_an_extra_key_is_refused_and_nothing_stored(
    tmp_path: Path, world: World
) -> None:
    good = {
        "ts": "2025-10-01T10:00:00Z",
        "subscription_id": "sub-hq-mail",
        "service": "storage.blob",
        "operation": "read",
        "region": "westeurope",
        "quantity": 3,
        "unit": "requests",
    }
    source = tmp_path / "usage.jsonl"
    source.write_text(json.dumps(good) + "\n" + json.dumps({**good, "body": "x"}) + "\n")
    dataset = TelemetryDataset(tmp_path / "store")
    with pytest.raises(InvalidInputError, match="'body'"):
        ingest_file(source, world, dataset, now=NOW, batch_rows=1)
    assert dataset.is_empty()


def test_json_lines_wrong_types_and_malformed_lines(tmp_path: Path, world: World) -> None:
    good = {
        "ts": "2025-10-01T10:00:00Z",
        "subscription_id": "sub-hq-mail",
        "service": "storage.blob",
        "operation": "read",
        "region": "westeurope",
        "quantity": 3,
        "unit": "requests",
    }
    source = tmp_path / "usage.jsonl"
    source.write_text(
        "\n".join([json.dumps(good), json.dumps({**good, "quantity": "3"}), "{not json"]) + "\n"
    )
    report = ingest_file(source, world, TelemetryDataset(tmp_path / "store"), now=NOW)
    assert report.accepted == 1
    assert report.quarantined == {"malformed_line": 1, "wrong_type": 1}


def test_the_same_file_twice_does_not_count_twice(tmp_path: Path, world: World) -> None:
    source = tmp_path / "usage.csv"
    source.write_text(HEADER + GOOD)
    dataset = TelemetryDataset(tmp_path / "store")
    first = ingest_file(source, world, dataset, now=NOW)
    again = ingest_file(source, world, dataset, now=NOW)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert stored_rows(dataset) == 1


def test_parquet_input_with_naive_timestamps(tmp_path: Path, world: World) -> None:
    table = pa.table(
        {
            "ts": pa.array([datetime(2025, 10, 1, 10)], pa.timestamp("us")),
            "subscription_id": ["sub-hq-mail"],
            "service": ["storage.blob"],
            "operation": ["read"],
            "region": ["westeurope"],
            "quantity": [1.0],
            "unit": ["requests"],
        }
    )
    source = tmp_path / "usage.parquet"
    pq.write_table(table, source)
    dataset = TelemetryDataset(tmp_path / "store")
    assert ingest_file(source, world, dataset, now=NOW).accepted == 1
    stored = pq.read_table(dataset.files()[0])
    assert stored.schema.field("ts").type == METERING_SCHEMA.field("ts").type


FOCUS_HEADER = (
    "BillingAccountId,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,SubAccountId,"
    "ServiceName,SkuId,SkuMeter,RegionId,ConsumedQuantity,ConsumedUnit,BilledCost,"
    "BillingCurrency\n"
)


def test_focus_export_is_mapped_and_non_usage_charges_skipped(tmp_path: Path, world: World) -> None:
    source = tmp_path / "focus.csv"
    source.write_text(
        FOCUS_HEADER + "acct,Usage,2025-10-01T10:00:00Z,2025-10-01T11:00:00Z,sub-hq-mail,ai.speech,"
        "SKU1,transcribe,westeurope,120,audio-minute,1.20,EUR\n"
        + "acct,Purchase,2025-10-01T00:00:00Z,2025-11-01T00:00:00Z,sub-hq-mail,compute.vm,"
        "SKU2,create,westeurope,,,300,EUR\n"
    )
    dataset = TelemetryDataset(tmp_path / "store")
    report = ingest_file(source, world, dataset, now=NOW)
    assert (report.accepted, report.quarantined, report.skipped) == (1, {}, {"purchase": 1})
    row = pq.read_table(dataset.files()[0]).to_pylist()[0]
    assert row["service"] == "ai.speech"
    assert row["operation"] == "transcribe"
    assert row["quantity"] == 120.0
    assert row["unit"] == "audio-minute"


def test_focus_extension_column_is_dropped_unread_and_reported(
    tmp_path: Path, world: World
) -> None:
    source = tmp_path / "focus.csv"
    source.write_text(
        FOCUS_HEADER.rstrip("\n") + ",x_Notes\n"
        "acct,Usage,2025-10-01T10:00:00Z,2025-10-01T11:00:00Z,sub-hq-mail,ai.speech,"
        "SKU1,transcribe,westeurope,120,audio-minute,1.20,EUR,call the informant\n"
    )
    dataset = TelemetryDataset(tmp_path / "store")
    report = ingest_file(source, world, dataset, now=NOW)
    assert report.accepted == 1
    assert "x_Notes" in report.dropped_columns
    stored = pq.read_table(dataset.files()[0])
    assert "informant" not in str(stored.to_pylist())


def test_prune_keeps_the_rows_of_held_subtrees(tmp_path: Path, world: World) -> None:
    rows = [
        f"2025-01-0{d}T10:00:00Z,{sub},storage.blob,read,westeurope,1,requests\n"
        for d in (1, 2)
        for sub in ("sub-hq-mail", "sub-hq-payroll")
    ]
    source = tmp_path / "usage.csv"
    source.write_text(HEADER + "".join(rows) + GOOD)
    dataset = TelemetryDataset(tmp_path / "store")
    ingest_file(source, world, dataset, now=NOW)
    node = world.directory["sub-hq-payroll"].id
    report = prune(
        dataset,
        now=NOW,
        holds=StaticHolds(frozenset({node})),
        directory=world.directory,
        retention_days=30,
    )
    assert report.rows_removed == 2
    assert report.rows_kept_for_holds == 2
    remaining = pq.read_table(dataset.files(), columns=["subscription_id", "ts"]).to_pylist()
    old = [r for r in remaining if r["ts"].month == 1]
    assert {r["subscription_id"] for r in old} == {"sub-hq-payroll"}
    assert stored_rows(dataset) == 3


def test_prune_without_holds_removes_whole_days(tmp_path: Path, world: World) -> None:
    source = tmp_path / "usage.csv"
    source.write_text(
        HEADER + "2025-01-01T10:00:00Z,sub-hq-mail,storage.blob,read,westeurope,1,requests\n" + GOOD
    )
    dataset = TelemetryDataset(tmp_path / "store")
    ingest_file(source, world, dataset, now=NOW)
    report = prune(dataset, now=NOW, holds=StaticHolds(), directory=None, retention_days=30)
    assert report.days_removed == ("2025-01-01",)
    assert stored_rows(dataset) == 1
