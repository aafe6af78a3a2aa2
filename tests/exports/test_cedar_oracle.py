"""Cedar as an oracle: for random worlds, restrictions and requests, Cedar's authorizer
(through cedarpy) must give Brightline's decision, its matched restrictions and, on the
dry-run policy set, its would-deny list."""

from __future__ import annotations

import json
from pathlib import Path

import cedarpy
from hypothesis import given, settings

from brightline.exports import BASELINE_ID, export_cedar, policy_ids, request_for
from brightline.exports.cedar import dry_run, enforcing
from brightline.policy import Snapshot, to_micros
from brightline.service.offline import load_world_dir
from worldgen import Scenario, scenarios

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


def cedar_matches(result: cedarpy.AuthzResult, ids: dict[str, str]) -> tuple[str, ...]:
    assert not result.diagnostics.errors, result.diagnostics.errors
    return tuple(sorted(ids[p] for p in result.diagnostics.reasons if ids[p] != BASELINE_ID))


def check_against_cedar(snapshot: Snapshot, requests) -> None:
    export = export_cedar(snapshot)
    validation = cedarpy.validate_policies(export.policies, export.schema)
    assert validation.validation_passed, validation.errors
    assert cedarpy.validate_policies(export.dry_run_policies, export.schema).validation_passed
    entities = cedarpy.Entities.from_json_str(json.dumps(export.entities), schema=export.schema)
    enforce_set = cedarpy.PolicySet.from_str(export.policies)
    dry_set = cedarpy.PolicySet.from_str(export.dry_run_policies)
    enforce_ids = policy_ids(enforcing(snapshot))
    dry_ids = policy_ids(dry_run(snapshot))
    cedar_requests = [
        request_for(r.node, r.service, r.operation, r.region, to_micros(r.at)) for r in requests
    ]
    # The schema is checked on a few requests; the rest run without it, for speed.
    for cedar_request in cedar_requests[:5]:
        checked = cedarpy.is_authorized(cedar_request, enforce_set, entities, schema=export.schema)
        assert not checked.diagnostics.errors
    enforced_all = cedarpy.is_authorized_batch(cedar_requests, enforce_set, entities)
    would_all = cedarpy.is_authorized_batch(cedar_requests, dry_set, entities)
    for request, enforced, would in zip(requests, enforced_all, would_all, strict=True):
        decision = snapshot.decide(request)
        expected = "deny" if enforced.decision == cedarpy.Decision.Deny else "allow"
        assert decision.effect.value == expected, (request, export.policies)
        if decision.denied:
            assert decision.matched == cedar_matches(enforced, enforce_ids)
        if would.decision == cedarpy.Decision.Deny:
            assert decision.would_deny == cedar_matches(would, dry_ids)
        else:
            assert decision.would_deny == ()


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_brightline_agrees_with_cedar(scenario: Scenario) -> None:
    check_against_cedar(scenario.snapshot(), scenario.requests)


def test_example_world_agrees_with_cedar() -> None:
    from brightline.policy import Request
    from worldgen import TIMES

    snapshot = load_world_dir(EXAMPLE).snapshot()
    world = snapshot.world
    requests = [
        Request(node, service, operation, region, at)
        for node in sorted(world.directory.nodes)
        for service, operation in snapshot.actions
        for region in sorted(world.catalog.regions)
        for at in TIMES[:3]
    ]
    assert any(snapshot.decide(r).denied for r in requests)
    check_against_cedar(snapshot, requests)


def test_export_writes_the_files(tmp_path: Path) -> None:
    snapshot = load_world_dir(EXAMPLE).snapshot()
    written = export_cedar(snapshot).write(tmp_path)
    assert sorted(p.name for p in written) == [
        "dry-run.cedar",
        "entities.json",
        "policies.cedar",
        "schema.cedarschema",
    ]
    policies = (tmp_path / "policies.cedar").read_text()
    assert '@id("r-0001")' in policies
    assert '@id("r-0002")' not in policies  # dry-run restrictions never deny
    assert '@id("r-0002")' in (tmp_path / "dry-run.cedar").read_text()
