"""Units come from the catalog: a row's unit must be declared for its service (or for every
service) or be one of the common FOCUS units; anything else is quarantined as
``unknown_unit``, naming the unit (cut to the quarantine's bound)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from brightline.telemetry import TelemetryDataset, ingest_file, load_service_map
from brightline.telemetry.units import (
    BRIGHTLINE_UNITS,
    DEFAULT_UNITS,
    FOCUS_UNITS,
    units_by_service,
)
from brightline.world import World, load_world

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "world"
NOW = datetime(2025, 10, 5, tzinfo=UTC)
HEADER = "ts,subscription_id,service,operation,region,quantity,unit\n"


def row(service: str, operation: str, unit: str, hour: int = 10) -> str:
    return f"2025-10-01T{hour:02d}:00:00Z,sub-hq-mail,{service},{operation},westeurope,1,{unit}\n"


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(EXAMPLE)


def _ingest(tmp_path: Path, world: World, *rows: str) -> tuple[int, list[dict[str, object]]]:
    source = tmp_path / "usage.csv"
    source.write_text(HEADER + "".join(rows))
    report = ingest_file(source, world, TelemetryDataset(tmp_path / "store"), now=NOW)
    quarantine = Path(report.quarantine_file) if report.quarantine_file else None
    records = (
        [json.loads(line) for line in quarantine.read_text().splitlines()] if quarantine else []
    )
    assert sum(report.quarantined.values()) == len(records)
    return report.accepted, records


def test_a_unit_the_catalog_declares_for_the_service_passes(tmp_path: Path, world: World) -> None:
    accepted, quarantined = _ingest(
        tmp_path,
        world,
        row("ai.speech", "transcribe", "audio-minute"),
        row("ai.translator", "translate", "characters"),
        row("storage.blob", "write", "GB-month"),
        row("compute.vm", "start", "vm-hour"),
    )
    assert (accepted, quarantined) == (4, [])


def test_a_unit_declared_for_every_service_passes_for_each(tmp_path: Path, world: World) -> None:
    assert world.catalog.units == ("requests",)
    accepted, quarantined = _ingest(
        tmp_path,
        world,
        row("ai.vision", "analyze", "requests"),
        row("net.egress", "transfer", "requests"),
    )
    assert (accepted, quarantined) == (2, [])


def test_common_focus_units_pass_for_every_service(tmp_path: Path, world: World) -> None:
    accepted, quarantined = _ingest(
        tmp_path,
        world,
        row("compute.vm", "start", "Hours"),
        row("storage.blob", "write", "GB-Mo"),
        row("ai.translator", "translate", "1M Characters"),
        row("ai.speech", "transcribe", "Seconds"),
        row("db.sql", "query", "Requests/Second"),
    )
    assert (accepted, quarantined) == (5, [])


def test_a_unit_declared_for_another_service_is_quarantined(tmp_path: Path, world: World) -> None:
    accepted, quarantined = _ingest(
        tmp_path,
        world,
        row("ai.speech", "transcribe", "audio-minute"),
        row("storage.blob", "read", "audio-minute"),
        row("compute.vm", "start", "characters"),
    )
    assert accepted == 1
    assert [(r["row"], r["reason"], r["field"], r["unit"]) for r in quarantined] == [
        (2, "unknown_unit", "unit", "audio-minute"),
        (3, "unknown_unit", "unit", "characters"),
    ]


def test_an_undeclared_unit_is_quarantined_naming_it(tmp_path: Path, world: World) -> None:
    # Brightline's own ``tokens`` is declared for ai.language only in the example catalog.
    accepted, quarantined = _ingest(
        tmp_path,
        world,
        row("ai.speech", "transcribe", "furlongs"),
        row("ai.speech", "transcribe", "tokens"),
        row("ai.speech", "transcribe", "u" * 64),
    )
    assert accepted == 0
    assert [(r["reason"], r["field"], r["unit"]) for r in quarantined] == [
        ("unknown_unit", "unit", "furlongs"),
        ("unknown_unit", "unit", "tokens"),
        ("unknown_unit", "unit", "u" * 64),
    ]


def test_a_unit_over_its_bound_is_too_long_and_cut_in_quarantine(
    tmp_path: Path, world: World
) -> None:
    accepted, quarantined = _ingest(tmp_path, world, row("ai.speech", "transcribe", "m" * 5000))
    assert accepted == 0
    [record] = quarantined
    assert (record["reason"], record["field"]) == ("too_long", "unit")
    assert record["unit"] == f"{'m' * 128}… (5000 characters)"


def test_a_catalog_declaring_no_units_keeps_brightlines_own(tmp_path: Path) -> None:
    bare = tmp_path / "world"
    shutil.copytree(EXAMPLE, bare)
    text = (bare / "catalog.yaml").read_text().replace(",\n     units:", ", units:")
    (bare / "catalog.yaml").write_text(
        "\n".join(
            line.split(", units:")[0] + ("}" if ", units:" in line else "")
            for line in text.splitlines()
            if not line.startswith("units:")
        )
        + "\n"
    )
    world = load_world(bare)
    assert not world.catalog.declares_units
    assert set(units_by_service(world.catalog).values()) == {BRIGHTLINE_UNITS}
    accepted, quarantined = _ingest(
        tmp_path,
        world,
        row("storage.blob", "read", "audio-minute"),
        row("ai.speech", "transcribe", "Hours"),
        row("ai.speech", "transcribe", "furlongs"),
    )
    assert accepted == 2
    assert [(r["reason"], r["unit"]) for r in quarantined] == [("unknown_unit", "furlongs")]


def test_the_units_declared_follow_the_catalog(world: World) -> None:
    declared = units_by_service(world.catalog)
    assert declared["ai.speech"] == {"requests", "audio-minute", "audio-hour", "characters"}
    assert declared["net.egress"] == {"requests", "GB"}
    assert "audio-minute" not in FOCUS_UNITS


@pytest.mark.parametrize("name", ["aws", "azure", "gcp"])
def test_starter_maps_give_units_the_example_catalog_accepts(name: str, world: World) -> None:
    service_map = load_service_map(name)
    declared = units_by_service(world.catalog)
    common = DEFAULT_UNITS | service_map.units
    assert [
        (rule.service, rule.unit)
        for rule in service_map.rules
        if rule.unit is not None
        and rule.unit not in common
        and rule.unit not in declared[rule.service]
    ] == []
