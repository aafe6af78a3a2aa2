from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings

from brightline.errors import InvalidInputError, UnknownReferenceError
from brightline.policy import Effect, Request, Snapshot, load_restrictions, parse_restrictions_text
from brightline.service.offline import load_world_dir
from brightline.world import load_world
from worldgen import Scenario, reference_decide, scenarios

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
OCT = datetime(2025, 10, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def example() -> Snapshot:
    return load_world_dir(EXAMPLE).snapshot()


def decide(snapshot: Snapshot, node: str, action: str, region: str, at: datetime = OCT):
    service, operation = action.split(":")
    return snapshot.decide(Request(node, service, operation, region, at))


def test_unit_storage_is_denied_in_listed_regions(example: Snapshot) -> None:
    decision = decide(example, "sub-9900-archive", "storage.blob:write", "westeurope")
    assert decision.effect is Effect.DENY
    assert decision.matched == ("r-0001",)
    assert "r-0001" in decision.explain()


def test_prefix_pattern_covers_every_storage_service(example: Snapshot) -> None:
    for action in ("storage.files:read", "storage.archive:restore", "storage.blob:list"):
        assert decide(example, "sub-9900-ingest", action, "northeurope").denied


def test_other_regions_stay_allowed(example: Snapshot) -> None:
    decision = decide(example, "sub-9900-archive", "storage.blob:write", "eastus")
    assert decision.effect is Effect.ALLOW
    assert "not region eastus" in decision.explain()


def test_exempt_subtree_is_allowed(example: Snapshot) -> None:
    decision = decide(example, "sub-9900-rescue", "storage.blob:write", "westeurope")
    assert decision.effect is Effect.ALLOW
    assert decision.would_deny == ()
    assert "exempt" in decision.explain()


def test_rest_of_the_customer_is_untouched(example: Snapshot) -> None:
    for node in ("sub-hq-mail", "sub-med-records", "mod-freedonia"):
        assert not decide(example, node, "storage.blob:write", "westeurope").denied


def test_before_not_before_is_allowed(example: Snapshot) -> None:
    before = datetime(2025, 9, 24, 23, 59, 59, tzinfo=UTC)
    assert not decide(
        example, "sub-9900-archive", "storage.blob:write", "westeurope", before
    ).denied
    start = datetime(2025, 9, 25, tzinfo=UTC)
    assert decide(example, "sub-9900-archive", "storage.blob:write", "westeurope", start).denied


def test_dry_run_reports_would_deny_without_denying(example: Snapshot) -> None:
    decision = decide(example, "sub-9900-translate", "ai.vision:analyze", "eastus")
    assert decision.effect is Effect.ALLOW
    assert decision.would_deny == ("r-0002",)
    assert "would deny" in decision.explain()


@pytest.mark.parametrize(
    ("node", "action", "region", "field"),
    [
        ("nobody", "storage.blob:write", "westeurope", "node"),
        ("sub-hq-mail", "storage.nope:write", "westeurope", "service"),
        ("sub-hq-mail", "storage.blob:transcribe", "westeurope", "operation"),
        ("sub-hq-mail", "storage.blob:write", "moon-1", "region"),
    ],
)
def test_unknown_names_are_errors_never_allow(
    example: Snapshot, node: str, action: str, region: str, field: str
) -> None:
    with pytest.raises(UnknownReferenceError) as info:
        decide(example, node, action, region)
    assert info.value.problems[0].where == field


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        Request.checked("n", "s", "o", "r", datetime(2025, 1, 1))


def test_not_after_is_exclusive() -> None:
    world = load_world(EXAMPLE)
    text = """
- id: r-win
  scope: unit-9900
  actions: ["ai.speech:transcribe"]
  not_before: 2025-10-01T00:00:00Z
  not_after: 2025-10-02T00:00:00Z
"""
    snapshot = Snapshot(world, parse_restrictions_text(text, world, name="r.yaml"))
    end = datetime(2025, 10, 2, tzinfo=UTC)
    inside = datetime(2025, 10, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert decide(snapshot, "sub-9900-transcribe", "ai.speech:transcribe", "eastus", inside).denied
    assert not decide(snapshot, "sub-9900-transcribe", "ai.speech:transcribe", "eastus", end).denied


def test_matched_ids_are_sorted() -> None:
    world = load_world(EXAMPLE)
    text = "\n".join(
        f"- {{id: {rid}, scope: {scope}, actions: ['ai.speech:*']}}"
        for rid, scope in (
            ("r-z", "mod-freedonia"),
            ("r-a", "unit-9900"),
            ("r-m", "sub-9900-ingest"),
        )
    )
    snapshot = Snapshot(world, parse_restrictions_text(text, world, name="r.yaml"))
    decision = decide(snapshot, "sub-9900-ingest", "ai.speech:transcribe", "eastus")
    assert decision.matched == ("r-a", "r-m", "r-z")


def test_version_is_a_content_hash() -> None:
    world = load_world(EXAMPLE)
    restrictions = load_restrictions(EXAMPLE / "restrictions.yaml", world)
    a = Snapshot(world, restrictions)
    b = Snapshot(world, tuple(reversed(restrictions)))
    assert a.version == b.version
    assert len(a.version) == 64
    c = Snapshot(world, restrictions[:1])
    assert c.version != a.version


def test_version_ignores_file_order(tmp_path: Path) -> None:
    shuffled = tmp_path / "world"
    shuffled.mkdir()
    lines = (EXAMPLE / "directory.jsonl").read_text().splitlines()
    (shuffled / "directory.jsonl").write_text("\n".join(reversed(lines)) + "\n")
    for name in ("catalog.yaml", "restrictions.yaml"):
        (shuffled / name).write_text((EXAMPLE / name).read_text())
    assert load_world_dir(shuffled).snapshot().version == load_world_dir(EXAMPLE).snapshot().version


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_decide_follows_the_design_rule(scenario: Scenario) -> None:
    snapshot = scenario.snapshot()
    for request in scenario.requests:
        decision = snapshot.decide(request)
        assert (decision.effect.value, decision.matched, decision.would_deny) == reference_decide(
            scenario, request
        )
        assert decision.explain()
