"""Catalog units: declared for every service (``units:``) or per service, validated on
load with file, line and field, and written back as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from brightline.errors import InvalidInputError
from brightline.world import load_catalog, load_world
from brightline.world.export import write_world

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"

CATALOG = """\
services:
  - {id: storage.blob, operations: [read, write], units: [GB-month, GB]}
  - {id: ai.speech, operations: [transcribe], units: [audio-minute, 1K Characters]}
  - {id: net.egress, operations: [transfer]}
regions:
  - {id: westeurope, country: NL}
units: [requests, Requests/Second]
"""


def _catalog_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as info:
        load_catalog(path)
    return [str(p) for p in info.value.problems]


def test_a_catalog_declares_units_for_every_service_and_per_service(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    catalog = load_catalog(path)
    assert catalog.declares_units
    assert catalog.units == ("requests", "Requests/Second")
    assert catalog.services["storage.blob"].units == ("GB-month", "GB")
    assert catalog.units_of("ai.speech") == (
        "requests",
        "Requests/Second",
        "audio-minute",
        "1K Characters",
    )
    assert catalog.units_of("net.egress") == ("requests", "Requests/Second")


def test_units_are_optional(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("services:\n  - {id: storage.blob, operations: [read]}\nregions: []\n")
    catalog = load_catalog(path)
    assert not catalog.declares_units
    assert catalog.units_of("storage.blob") == ()


def test_the_example_catalog_declares_the_units_its_services_use() -> None:
    catalog = load_world(EXAMPLE).catalog
    assert "audio-minute" in catalog.units_of("ai.speech")
    assert "characters" in catalog.units_of("ai.translator")
    assert "GB-month" in catalog.units_of("storage.blob")
    assert "vm-hour" in catalog.units_of("compute.vm")
    assert "requests" in catalog.units_of("ai.vision")
    assert "audio-minute" not in catalog.units_of("storage.blob")


def test_bad_units_are_refused_naming_file_line_and_field(tmp_path: Path) -> None:
    text = "\n".join(
        _catalog_problems(
            tmp_path,
            """\
services:
  - id: ai.speech
    operations: [transcribe]
    units:
      - "audio minute!"
      - " GB"
      - ""
      - %s
      - 12
regions: []
units: ["<script>"]
"""
            % ("x" * 65),
        )
    )
    why = "a unit is 1–64 characters"
    assert f"catalog.yaml:5: services[0].units[0]: Value error, {why}" in text
    assert f"catalog.yaml:6: services[0].units[1]: Value error, {why}" in text
    assert f"catalog.yaml:7: services[0].units[2]: Value error, {why}" in text
    assert f"catalog.yaml:8: services[0].units[3]: Value error, {why}" in text
    assert "catalog.yaml:9: services[0].units[4]: Input should be a valid string" in text
    assert f"catalog.yaml:11: units[0]: Value error, {why}" in text
    assert "x" * 65 not in text


def test_a_huge_unit_is_refused_quickly_without_being_echoed(tmp_path: Path) -> None:
    found = _catalog_problems(tmp_path, f"services: []\nregions: []\nunits: [{'a' * 2_000_000}]\n")
    assert len(found) == 1
    assert found[0].startswith("catalog.yaml:3: units[0]: Value error, a unit is 1–64")
    assert len(found[0]) < 200


def test_duplicate_units_are_refused(tmp_path: Path) -> None:
    text = "\n".join(
        _catalog_problems(
            tmp_path,
            """\
services:
  - {id: storage.blob, operations: [read], units: [GB, GB-month, GB]}
  - {id: ai.speech, operations: [transcribe], units: [requests]}
regions: []
units: [requests, tokens, requests]
""",
        )
    )
    assert (
        "catalog.yaml:2: services[0].units[2]: duplicate unit 'GB' "
        "(first listed at catalog.yaml:2: services[0].units[0])"
    ) in text
    assert (
        "catalog.yaml:3: services[1].units[0]: unit 'requests' is already declared for "
        "every service (at catalog.yaml:5: units[0])"
    ) in text
    assert "catalog.yaml:5: units[2]: duplicate unit 'requests'" in text


def test_the_same_unit_may_be_declared_for_two_services(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "services:\n"
        "  - {id: storage.blob, operations: [read], units: [GB]}\n"
        "  - {id: net.egress, operations: [transfer], units: [GB]}\n"
        "regions: []\n"
    )
    assert load_catalog(path).units_of("net.egress") == ("GB",)


def test_written_world_keeps_its_units(tmp_path: Path) -> None:
    world = load_world(EXAMPLE)
    write_world(world, tmp_path)
    assert load_world(tmp_path).catalog == world.catalog
