from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from brightline.errors import InvalidInputError
from brightline.policy import ActionPattern, Mode, parse_restrictions_text, restriction_from_mapping
from brightline.world import World, load_world

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(EXAMPLE)


def problems(text: str, world: World) -> list[str]:
    with pytest.raises(InvalidInputError) as info:
        parse_restrictions_text(text, world, name="restrictions.yaml")
    return [str(p) for p in info.value.problems]


def test_full_restriction_parses(world: World) -> None:
    (r,) = parse_restrictions_text(
        """
- id: r-1
  scope: unit-9900
  actions: ["storage.*:*", "ai.speech:transcribe"]
  regions: [westeurope]
  exempt: [sub-9900-rescue]
  not_before: 2025-09-25T00:00:00Z
  not_after: "2026-09-25T02:00:00+02:00"
  mode: dry-run
  reason: {case: C-17, policy: mass-surveillance}
""",
        world,
        name="r.yaml",
    )
    assert r.actions == (ActionPattern("storage.*", "*"), ActionPattern("ai.speech", "transcribe"))
    assert r.regions == frozenset({"westeurope"})
    assert r.not_before == datetime(2025, 9, 25, tzinfo=UTC)
    assert r.not_after == datetime(2026, 9, 25, tzinfo=UTC)
    assert r.mode is Mode.DRY_RUN
    assert dict(r.reason) == {"case": "C-17", "policy": "mass-surveillance"}


def test_dates_mean_midnight_utc_and_mode_defaults_to_enforce(world: World) -> None:
    (r,) = parse_restrictions_text(
        "- {id: r, scope: unit-9900, actions: ['*:*'], not_before: 2025-09-25}", world, name="r"
    )
    assert r.not_before == datetime(2025, 9, 25, tzinfo=UTC)
    assert r.mode is Mode.ENFORCE


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "scope: ghost, actions: ['*:*']",
            "restrictions.yaml:1: [0].scope: restriction 'r-1': unknown node 'ghost'",
        ),
        ("scope: unit-9900, actions: ['nosuch.*:*']", "'nosuch.*:*' matches no service"),
        (
            "scope: unit-9900, actions: ['storage.blob:transcribe']",
            "unknown operation 'transcribe'",
        ),
        ("scope: unit-9900, actions: ['storage.blob']", "is not service:operation"),
        ("scope: unit-9900, actions: ['stor*:read']", "service part must be"),
        ("scope: unit-9900, actions: []", "[0].actions: List should have at least 1 item"),
        (
            "scope: unit-9900, actions: ['*:*'], regions: [mars]",
            "[0].regions[0]: restriction 'r-1': unknown region 'mars'",
        ),
        (
            "scope: unit-9900, actions: ['*:*'], regions: []",
            "[0].regions: List should have at least 1 item",
        ),
        (
            "scope: unit-9900, actions: ['*:*'], exempt: [sub-hq-mail]",
            "exempt node 'sub-hq-mail' is not below scope 'unit-9900'",
        ),
        ("scope: unit-9900, actions: ['*:*'], exempt: [unit-9900]", "is not below scope"),
        (
            "scope: unit-9900, actions: ['*:*'], exempt: [ghost]",
            "[0].exempt[0]: restriction 'r-1': unknown node 'ghost'",
        ),
        (
            "scope: unit-9900, actions: ['*:*'], not_before: 2025-10-02, not_after: 2025-10-01",
            "[0].not_after: restriction 'r-1': not_after must be later than not_before",
        ),
        (
            "scope: unit-9900, actions: ['*:*'], not_before: 2025-10-01, not_after: 2025-10-01",
            "not_after must be later",
        ),
        (
            "scope: unit-9900, actions: ['*:*'], not_before: '2025-10-01T00:00:00'",
            "must carry a time zone",
        ),
        (
            "scope: unit-9900, actions: ['*:*'], mode: maybe",
            "[0].mode: Input should be 'enforce' or 'dry-run'",
        ),
        ("scope: unit-9900, actions: ['*:*'], colour: red", "[0].colour: unknown field"),
    ],
)
def test_invalid_restrictions_name_id_and_field(body: str, expected: str, world: World) -> None:
    found = problems(f"- {{id: r-1, {body}}}", world)
    assert any(expected in p for p in found), found


def test_all_problems_are_reported_with_lines(world: World) -> None:
    text = """\
- id: r-1
  scope: ghost
  actions: ["*:*"]
- id: r-2
  scope: unit-9900
  actions: ["*:*"]
  regions: [mars]
- id: r-1
  scope: unit-9900
  actions: ["*:*"]
"""
    found = problems(text, world)
    assert found == [
        "restrictions.yaml:2: [0].scope: restriction 'r-1': unknown node 'ghost'",
        "restrictions.yaml:7: [1].regions[0]: restriction 'r-2': unknown region 'mars'",
        "restrictions.yaml:8: [2].id: duplicate restriction id 'r-1' (first at item 0)",
    ]


def test_empty_file_means_no_restrictions(world: World) -> None:
    assert parse_restrictions_text("", world, name="r") == ()


def test_top_level_must_be_a_list(world: World) -> None:
    assert problems("42", world) == ["restrictions.yaml:1: expected a list of restrictions"]


def test_mapping_form_reports_the_real_lines(world: World) -> None:
    text = """\
# one restriction, written as a mapping (a proposal file)
id: r-1
scope: ghost
actions: ["storage.blob:shred"]
regions: [westeurope, mars]
"""
    assert problems(text, world) == [
        "restrictions.yaml:3: scope: restriction 'r-1': unknown node 'ghost'",
        "restrictions.yaml:4: actions[0]: restriction 'r-1': 'storage.blob:shred': "
        "unknown operation 'shred' for storage.blob",
        "restrictions.yaml:5: regions[1]: restriction 'r-1': unknown region 'mars'",
    ]


def test_a_time_without_a_zone_hides_no_other_problem(world: World) -> None:
    text = """\
- id: r-1
  scope: ghost
  actions: ["*:*"]
  regions: [mars]
  exempt: [sub-9900-rescue]
  not_before: 2025-09-25T00:00:00
  mode: sometimes
- id: r-2
  scope: unit-9900
  actions: ["ai.nothing:*"]
"""
    assert problems(text, world) == [
        "restrictions.yaml:6: [0].not_before: Value error, "
        "time must carry a time zone (for example 2025-09-25T00:00:00Z)",
        "restrictions.yaml:7: [0].mode: Input should be 'enforce' or 'dry-run'",
        "restrictions.yaml:2: [0].scope: restriction 'r-1': unknown node 'ghost'",
        "restrictions.yaml:4: [0].regions[0]: restriction 'r-1': unknown region 'mars'",
        "restrictions.yaml:10: [1].actions[0]: restriction 'r-2': "
        "'ai.nothing:*' matches no service in the catalog",
    ]


def test_fields_that_failed_are_not_checked_again(world: World) -> None:
    text = """\
id: "bad id"
scope: [not, an, id]
actions: ["*:*"]
regions: [mars]
"""
    assert problems(text, world) == [
        "restrictions.yaml:1: id: String should match pattern '^[A-Za-z0-9._:\\-]{1,128}$'",
        "restrictions.yaml:2: scope: Input should be a valid string",
        "restrictions.yaml:4: regions[0]: restriction: unknown region 'mars'",
    ]


def test_a_stored_record_with_a_zone_less_time_lists_its_other_problems(world: World) -> None:
    with pytest.raises(InvalidInputError) as info:
        restriction_from_mapping(
            {"id": "r-1", "scope": "ghost", "actions": ["*:*"], "not_after": "2026-01-01T00:00"},
            world,
        )
    assert [str(p) for p in info.value.problems] == [
        "not_after: Value error, time must carry a time zone (for example 2025-09-25T00:00:00Z)",
        "scope: restriction 'r-1': unknown node 'ghost'",
    ]
