"""FOCUS exports as providers ship them: extra columns and Tags dropped unread, charges
that are not usage skipped, daily rows stored as daily quantities, service maps,
month-to-date re-deliveries counted once. Fixtures are hand-written in the shape of the
providers' public FOCUS documentation (tests/fixtures/focus)."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from brightline.cli import app
from brightline.errors import InvalidInputError
from brightline.telemetry import TelemetryDataset, ingest_file, load_service_map
from brightline.world import World, load_world

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "world"
FIXTURES = ROOT / "tests" / "fixtures" / "focus"
NOW = datetime(2025, 10, 10, tzinfo=UTC)
MTD_06 = FIXTURES / "azure-2025-10-mtd-06.csv"
MTD_10 = FIXTURES / "azure-2025-10-mtd-10.csv"


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(EXAMPLES)


def stored(dataset: TelemetryDataset) -> pa.Table:
    return pa.concat_tables(
        [pq.read_table(f, partitioning=None) for f in dataset.files()], promote_options="default"
    )


def total(table: pa.Table, unit: str) -> float:
    return float(pc.sum(table.filter(pc.equal(table["unit"], unit))["quantity"]).as_py() or 0)


def test_azure_daily_export_is_mapped_and_its_other_columns_never_stored(
    tmp_path: Path, world: World
) -> None:
    dataset = TelemetryDataset(tmp_path / "store")
    mapping = load_service_map(str(FIXTURES / "azure-map.yaml"))
    report = ingest_file(MTD_06, world, dataset, now=NOW, service_map=mapping)
    assert report.rows == 16
    assert report.skipped == {"credit": 1}
    assert report.accepted == 10  # speech and storage, five days each
    assert report.quarantined == {"unmapped_service": 5}
    assert report.unmapped == {"Azure Bastion / Basic Gateway": 5}
    assert {"Tags", "BilledCost", "ResourceId", "x_SkuMeterCategory"} <= set(report.dropped_columns)
    table = stored(dataset)
    assert set(table.schema.names) == {
        "ts", "subscription_id", "service", "operation", "region", "quantity", "unit", "hours"
    }  # fmt: skip
    text = json.dumps(table.to_pylist(), default=str)
    for secret in ("callcenter", "j.doe", "rg-speech", "Speech To Text", "8611537"):
        assert secret not in text
    speech = table.filter(pc.equal(table["service"], "ai.speech"))
    assert set(speech["hours"].to_pylist()) == {24}  # daily rows, stored as such
    assert {t.hour for t in speech["ts"].to_pylist()} == {0}
    assert total(table, "audio-minute") == 5 * 60 * 60  # 60 hours a day, in minutes
    assert set(table["subscription_id"].to_pylist()) == {"sub-9900-transcribe"}


def test_month_to_date_redelivery_is_counted_once(tmp_path: Path, world: World) -> None:
    dataset = TelemetryDataset(tmp_path / "store")
    mapping = load_service_map(str(FIXTURES / "azure-map.yaml"))
    ingest_file(MTD_06, world, dataset, now=NOW, service_map=mapping)
    report = ingest_file(MTD_10, world, dataset, now=NOW, service_map=mapping)
    assert report.skipped == {"credit": 1, "purchase": 1, "tax": 1}
    assert report.replaced_rows == 10
    assert [r.file for r in report.replaced] == [MTD_06.name]
    assert report.replaced_days == tuple(f"2025-10-0{d}" for d in range(1, 6))
    table = stored(dataset)
    assert total(table, "audio-minute") == 32_400  # 9 days of 3,600 minutes, not 50,400
    assert total(table, "GB-month") == pytest.approx(9 * 20.5)
    # The earlier delivery again (a retry) is recognised and changes nothing.
    again = ingest_file(MTD_06, world, dataset, now=NOW, service_map=mapping)
    assert again.duplicate
    assert total(stored(dataset), "audio-minute") == 32_400


def test_parts_of_one_delivery_never_replace_each_other(tmp_path: Path, world: World) -> None:
    lines = MTD_10.read_text().splitlines(keepends=True)
    first, second = tmp_path / "part-00001.csv", tmp_path / "part-00002.csv"
    first.write_text(lines[0] + "".join(lines[1:15]))
    second.write_text(lines[0] + "".join(lines[15:]))
    data = tmp_path / "data"
    map_file = str(FIXTURES / "azure-map.yaml")
    runner = CliRunner(env={"BRIGHTLINE_DATA_DIR": str(data)})
    result = runner.invoke(
        app,
        [
            "telemetry",
            "ingest",
            str(first),
            str(second),
            "--world",
            str(EXAMPLES),
            "--map",
            map_file,
        ],
    )
    assert result.exit_code == 0, (result.output, result.stderr)
    assert "replaced" not in result.output
    assert "columns dropped unread:" in result.output
    assert "unmapped Azure Bastion / Basic Gateway" in result.output
    assert total(stored(TelemetryDataset(data / "telemetry")), "audio-minute") == 32_400


def test_redelivery_reports_what_it_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner(env={"BRIGHTLINE_DATA_DIR": str(data)})
    args = ["--world", str(EXAMPLES), "--map", str(FIXTURES / "azure-map.yaml")]
    assert runner.invoke(app, ["telemetry", "ingest", str(MTD_06), *args]).exit_code == 0
    result = runner.invoke(app, ["telemetry", "ingest", str(MTD_10), *args])
    assert result.exit_code == 0, result.output
    assert "replaced 10 rows of earlier deliveries (2025-10-01 to 2025-10-05)" in result.output
    assert f"{MTD_06.name} (" in result.output


def test_gzip_csv_and_parquet_read_like_csv(tmp_path: Path, world: World) -> None:
    mapping = load_service_map(str(FIXTURES / "azure-map.yaml"))
    packed = tmp_path / "export.csv.gz"
    packed.write_bytes(gzip.compress(MTD_06.read_bytes()))
    report = ingest_file(
        packed, world, TelemetryDataset(tmp_path / "a"), now=NOW, service_map=mapping
    )
    assert (report.accepted, report.skipped) == (10, {"credit": 1})
    # Parquet as exports write it: times as timestamps, quantities as decimals.
    table = pa.csv.read_csv(MTD_06)  # type: ignore[attr-defined]
    table = table.set_column(
        table.schema.get_field_index("ConsumedQuantity"),
        "ConsumedQuantity",
        pc.cast(table["ConsumedQuantity"], pa.decimal128(18, 6)),
    )
    parquet = tmp_path / "export.parquet"
    pq.write_table(table, parquet)
    report = ingest_file(
        parquet, world, TelemetryDataset(tmp_path / "b"), now=NOW, service_map=mapping
    )
    assert (report.accepted, report.skipped) == (10, {"credit": 1})


HEADER_10 = (
    "BilledCost,BillingAccountId,BillingCurrency,ChargeCategory,ChargeClass,ChargePeriodStart,"
    "ChargePeriodEnd,ConsumedQuantity,ConsumedUnit,PricingUnit,ProviderName,RegionId,ResourceId,"
    "ServiceName,SubAccountId,Tags,x_Operation,x_UsageType"
)


def aws_row(start: str, end: str, quantity: str, *, service: str = "Amazon Transcribe") -> str:
    return (
        f"0.024,111122223333,USD,Usage,,{start},{end},{quantity},Seconds,Seconds,AWS,"
        f"eu-west-1,arn:aws:transcribe:eu-west-1:111122223333:job/x,{service},444455556666,"
        '"{""user:case"":""interview-17""}",StartTranscriptionJob,EU-TranscribeAudio'
    )


AWS_MAP = """\
extends: aws
accounts: {"444455556666": sub-9900-transcribe}
regions: {"eu-west-1": westeurope}
"""


def test_focus_1_0_without_skumeter_works_with_a_map(tmp_path: Path, world: World) -> None:
    source = tmp_path / "aws-focus-1.0.csv"
    source.write_text(
        HEADER_10
        + "\n"
        + aws_row("2025-10-01T10:00:00Z", "2025-10-01T11:00:00Z", "1800")
        + "\n"
        + aws_row("2025-10-01T10:00:00Z", "2025-10-01T10:30:00Z", "60")
        + "\n"
        + aws_row("2025-10-01T11:00:00Z", "2025-10-01T12:00:00Z", "60", service="Amazon Braket")
        + "\n"
    )
    dataset = TelemetryDataset(tmp_path / "store")
    with pytest.raises(InvalidInputError, match="SkuMeter"):
        ingest_file(source, world, dataset, now=NOW)
    map_file = tmp_path / "map.yaml"
    map_file.write_text(AWS_MAP)
    report = ingest_file(
        source, world, dataset, now=NOW, service_map=load_service_map(str(map_file))
    )
    assert report.accepted == 1
    assert report.quarantined == {"unmapped_service": 1, "unsupported_period": 1}
    assert report.unmapped == {"Amazon Braket": 1}
    row = stored(dataset).to_pylist()[0]
    assert (row["service"], row["operation"], row["region"]) == (
        "ai.speech",
        "transcribe",
        "westeurope",
    )
    assert row["quantity"] == pytest.approx(30.0)  # 1,800 seconds in minutes
    assert row["hours"] == 1
    quarantine = [
        json.loads(x) for x in Path(report.quarantine_file or "").read_text().splitlines()
    ]
    period = next(q for q in quarantine if q["reason"] == "unsupported_period")
    assert (period["row"], period["field"]) == (2, "ChargePeriodEnd")


def test_shipped_maps_load_and_name_the_providers_services() -> None:
    names = {
        "aws": {"Amazon Transcribe", "Amazon Translate", "Amazon Simple Storage Service",
                "Amazon Elastic Compute Cloud"},
        "azure": {"Azure AI Speech", "Translator", "Storage", "Virtual Machines"},
        "gcp": {"Cloud Speech-to-Text", "Cloud Translation", "Cloud Storage", "Compute Engine"},
    }  # fmt: skip
    for name, services in names.items():
        mapping = load_service_map(name)
        matched = {v for rule in mapping.rules for c, v in rule.match if c == "ServiceName"}
        assert services <= matched, name
    assert load_service_map("google").rules == load_service_map("gcp").rules


def test_a_bad_map_names_its_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text(
        "services:\n  - match: {ServiceName: X}\n    service: ai.speech\n    scale: -1\n"
    )
    with pytest.raises(InvalidInputError) as caught:
        load_service_map(str(bad))
    text = str(caught.value)
    assert f"{bad}:2" in text
    assert "operation" in text
    assert "scale" in text
    with pytest.raises(InvalidInputError, match="no such service map"):
        load_service_map("oracle")


METERING = "ts,subscription_id,service,operation,region,quantity,unit\n"
GOOD = "2025-10-01T10:00:00Z,sub-hq-mail,storage.blob,read,westeurope,12.5,requests\n"


def test_a_truncated_csv_line_is_quarantined_with_its_line(tmp_path: Path, world: World) -> None:
    source = tmp_path / "usage.csv"
    source.write_text(
        METERING
        + GOOD
        + "2025-10-01T11:00:00Z,sub-hq-mail,storage.bl\n"
        + GOOD.replace("10:", "12:")
    )
    dataset = TelemetryDataset(tmp_path / "store")
    report = ingest_file(source, world, dataset, now=NOW)
    assert (report.rows, report.accepted, report.quarantined) == (3, 2, {"malformed_line": 1})
    (record,) = [json.loads(x) for x in Path(report.quarantine_file or "").read_text().splitlines()]
    assert (record["row"], record["line"], record["reason"]) == (2, 3, "malformed_line")
    assert "storage.bl" not in json.dumps(record)


def test_a_utf8_bom_is_accepted(tmp_path: Path, world: World) -> None:
    source = tmp_path / "usage.csv"
    source.write_bytes(b"\xef\xbb\xbf" + (METERING + GOOD).encode())
    report = ingest_file(source, world, TelemetryDataset(tmp_path / "store"), now=NOW)
    assert report.accepted == 1


def test_a_huge_unit_is_quarantined_never_stored(tmp_path: Path, world: World) -> None:
    huge = "x" * (20 << 20)
    table = pa.table(
        {
            "ts": pa.array(
                [datetime(2025, 10, 1, 10, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")
            ),
            "subscription_id": ["sub-hq-mail"] * 2,
            "service": ["storage.blob"] * 2,
            "operation": ["read"] * 2,
            "region": ["westeurope"] * 2,
            "quantity": [1.0, 2.0],
            "unit": ["requests", huge],
        }
    )
    source = tmp_path / "usage.parquet"
    pq.write_table(table, source)
    dataset = TelemetryDataset(tmp_path / "store")
    report = ingest_file(source, world, dataset, now=NOW)
    assert (report.accepted, report.quarantined) == (1, {"too_long": 1})
    assert sum(f.stat().st_size for f in dataset.files()) < 100_000
    quarantine = Path(report.quarantine_file or "")
    assert quarantine.stat().st_size < 1_000
    record = json.loads(quarantine.read_text())
    assert (record["row"], record["field"]) == (2, "unit")
    # The same value in a CSV line is a malformed line (over Python's field limit).
    csv_source = tmp_path / "usage.csv"
    csv_source.write_text(METERING + GOOD.replace("requests", huge) + GOOD)
    report = ingest_file(csv_source, world, TelemetryDataset(tmp_path / "csv"), now=NOW)
    assert report.accepted == 1
    assert sum(report.quarantined.values()) == 1


def test_units_come_from_the_vocabulary(tmp_path: Path, world: World) -> None:
    source = tmp_path / "usage.csv"
    source.write_text(METERING + GOOD + GOOD.replace("requests", "minutes of the call"))
    report = ingest_file(source, world, TelemetryDataset(tmp_path / "store"), now=NOW)
    assert (report.accepted, report.quarantined) == (1, {"unknown_unit": 1})


def test_copying_the_fixture_dir_is_not_needed(tmp_path: Path) -> None:
    # The fixtures are read in place; a copy must give the same map.
    shutil.copy(FIXTURES / "azure-map.yaml", tmp_path / "m.yaml")
    assert load_service_map(str(tmp_path / "m.yaml")).accounts
