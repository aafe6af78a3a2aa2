"""AWS SCP export: on a world imported from AWS Organizations, every policy passes
parliament (the IAM linter), fits the SCP size limit, attaches around exemptions, carries
region and time conditions, and everything it cannot say is reported."""

from __future__ import annotations

import fnmatch
import itertools
import json
import shutil
import warnings
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.errors import InvalidInputError
from brightline.exports import (
    RESERVED_PER_TARGET,
    SCP_SIZE_LIMIT,
    SCPS_PER_TARGET,
    AwsActionMap,
    ScpExport,
    Status,
    attachment_nodes,
    export_aws_scp,
    grammar_problems,
    load_aws_map,
)
from brightline.policy import ActionPattern, Request, Restriction, Snapshot
from brightline.service.offline import load_world_dir
from brightline.world import Catalog, Service, World
from brightline.world.importers import aws_organizations_records
from worldgen import worlds

FIXTURES = Path(__file__).parents[1] / "fixtures"
ORGANIZATION = FIXTURES / "aws" / "organization.json"
EXPORTS = FIXTURES / "exports" / "aws"
EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
ROOT, HQ, UNIT, COLLECTION = "r-f7dn", "ou-f7dn-hq8x2k1a", "ou-f7dn-9900abcd", "ou-f7dn-c011ect1"
MANAGEMENT, MAIL, INGEST, RESCUE = "111111111111", "222233334444", "555566667777", "888899990000"


@cache
def parliament() -> ModuleType:
    # parliament 1.6 opens its data files without closing them and imports pkg_resources:
    # both warn on import, and only there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import parliament as module
    return module


def lint(policy_text: str, *, community: bool = False) -> list[tuple[str, str, Any]]:
    """Every parliament finding (issue, severity, detail) for one policy.

    ``community`` adds parliament's community auditors (slower: 0.1 s a policy).
    """
    module = parliament()
    policy = module.analyze_policy_string(policy_text, include_community_auditors=community)
    return [(f.issue, module.enhance_finding(f).severity, f.detail) for f in policy.findings]


def imported_world(
    tmp_path: Path, restrictions: Path | None = EXPORTS / "restrictions.yaml"
) -> Path:
    """A world directory: the organization imported as the CLI does, plus a catalog."""
    world = tmp_path / "world"
    world.mkdir()
    records = aws_organizations_records(ORGANIZATION.read_text())
    (world / "directory.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))
    shutil.copy(EXPORTS / "catalog.yaml", world / "catalog.yaml")
    if restrictions is not None:
        shutil.copy(restrictions, world / "restrictions.yaml")
    return world


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    return load_world_dir(imported_world(tmp_path)).snapshot()


@pytest.fixture
def export(snapshot: Snapshot) -> ScpExport:
    return export_aws_scp(snapshot)


def restriction(rid: str, scope: str, actions: list[str], **fields: Any) -> Restriction:
    return Restriction(
        id=rid, scope=scope, actions=tuple(ActionPattern.parse(a) for a in actions), **fields
    )


def statements_of(export: ScpExport, rid: str) -> list[dict[str, Any]]:
    return [
        dict(s.document) for p in export.policies for s in p.statements if rid in s.restrictions
    ]


def test_every_policy_passes_parliament_with_no_finding(export: ScpExport) -> None:
    assert export.policies
    for policy in export.policies:
        assert lint(policy.text, community=True) == [], policy.text


def test_the_default_map_names_only_actions_iam_knows() -> None:
    action_map = load_aws_map()
    actions = sorted(
        {
            name
            for entry in action_map.services.values()
            if entry is not None
            for names in entry.operations.values()
            for name in names
        }
        | {f"{p}:*" for e in action_map.services.values() if e is not None for p in e.prefixes}
    )
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": actions, "Resource": "*"}],
    }
    assert lint(json.dumps(document)) == []


def test_region_condition_lists_the_restrictions_regions(export: ScpExport) -> None:
    (statement,) = statements_of(export, "r-0001")
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == "*"
    assert statement["Condition"]["StringEquals"] == {
        "aws:RequestedRegion": ["eu-central-1", "eu-west-1"]
    }
    assert {"s3:*", "glacier:*", "elasticfilesystem:*", "transcribe:*", "polly:*"} <= set(
        statement["Action"]
    )


def test_no_regions_means_no_region_condition(snapshot: Snapshot) -> None:
    every_region = restriction("r-every", COLLECTION, ["ai.speech:transcribe"])
    export = export_aws_scp(Snapshot(snapshot.world, [every_region]))
    (statement,) = statements_of(export, "r-every")
    assert statement["Action"] == ["transcribe:Start*"]
    assert "Condition" not in statement
    assert lint(export.policies[0].text) == []


def test_time_window_becomes_current_time_conditions(export: ScpExport) -> None:
    (statement,) = statements_of(export, "r-0004")
    assert statement["Condition"]["DateGreaterThanEquals"] == {
        "aws:CurrentTime": "2025-10-01T00:00:00Z"
    }
    assert statement["Condition"]["DateLessThan"] == {"aws:CurrentTime": "2026-04-01T00:00:00Z"}
    (policy,) = [p for p in export.policies if "r-0004" in p.restrictions]
    assert any("2026-04-01T00:00:00Z" in note for note in policy.notes)


def test_exempt_account_is_left_out_by_attaching_to_its_siblings(export: ScpExport) -> None:
    (policy,) = [p for p in export.policies if "r-0001" in p.restrictions]
    # The unit's rescue account is exempt: attach to the unit's other child, not the unit.
    assert [(t.target_id, t.type) for t in policy.targets] == [(COLLECTION, "ORGANIZATIONAL_UNIT")]
    report = {r.id: r for r in export.restrictions}["r-0001"]
    assert report.status is Status.EXPORTED
    assert any("non-exempt descendants" in note for note in report.notes)


def test_attachment_splits_recursively_around_a_deep_exemption(snapshot: Snapshot) -> None:
    directory = snapshot.world.directory
    assert attachment_nodes(directory, ROOT, (INGEST,)) == (MANAGEMENT, RESCUE, HQ)
    assert attachment_nodes(directory, ROOT, ()) == (ROOT,)
    assert attachment_nodes(directory, UNIT, (COLLECTION, RESCUE)) == ()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_attachments_cover_exactly_the_scope_minus_exempt_subtrees(data: st.DataObject) -> None:
    """Exactly, for leaves (accounts: the only AWS nodes that make calls); soundly for all.

    A unit split around an exempt node is not covered itself: an OU makes no API call.
    """
    world: World = data.draw(worlds(max_nodes=20))
    directory = world.directory
    scope = data.draw(st.sampled_from(sorted(directory.nodes)))
    below = [n for n in directory.subtree(scope) if n != scope]
    exempt = tuple(data.draw(st.lists(st.sampled_from(below), unique=True)) if below else ())
    targets = attachment_nodes(directory, scope, exempt)
    for node in directory.nodes:
        covered = any(directory.is_within(node, t) for t in targets)
        expected = directory.is_within(node, scope) and not any(
            directory.is_within(node, e) for e in exempt
        )
        if covered or not directory.children(node):
            assert covered == expected, (node, scope, exempt, targets)


def test_unmapped_services_and_regions_are_reported_not_dropped(export: ScpExport) -> None:
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "mapped to null" in gaps[("r-0003", "net.egress:*")]
    assert "not an AWS region name" in gaps[("r-0003", "region freedonia-1")]
    (statement,) = statements_of(export, "r-0003")
    assert statement["Condition"]["StringEquals"] == {"aws:RequestedRegion": ["eu-west-3"]}
    assert {r.id: r.status for r in export.restrictions}["r-0003"] is Status.PARTIAL
    listed = {(g["restriction"], g["item"]) for g in export.manifest()["not_exportable"]}
    assert ("r-0003", "net.egress:*") in listed


def test_a_service_missing_from_the_map_is_not_exportable(snapshot: Snapshot) -> None:
    services = dict(snapshot.world.catalog.services)
    services["ai.lipreading"] = Service("ai.lipreading", ("read",))
    catalog = Catalog(MappingProxyType(services), snapshot.world.catalog.regions)
    world = World(snapshot.world.directory, catalog)
    only = restriction("r-lip", COLLECTION, ["ai.lipreading:*"])
    export = export_aws_scp(Snapshot(world, [only]))
    assert export.policies == ()
    (gap,) = export.gaps
    assert (gap.item, gap.reason) == ("ai.lipreading:*", "service not in the map: no IAM action")
    assert export.restrictions[0].status is Status.NOT_EXPORTED


def test_management_account_is_a_gap(export: ScpExport) -> None:
    gaps = {(g.restriction, g.item) for g in export.gaps}
    assert ("r-0003", f"account {MANAGEMENT}") in gaps
    assert not any(g.item.startswith("account") for g in export.gaps if g.restriction == "r-0001")


def test_dry_run_restrictions_are_not_exported_and_say_so(export: ScpExport) -> None:
    assert all("r-0002" not in p.restrictions for p in export.policies)
    manifest = export.manifest()
    assert manifest["dry_run_not_exported"] == ["r-0002"]
    assert {r["id"]: r["status"] for r in manifest["restrictions"]}["r-0002"] == (
        "dry-run-not-exported"
    )
    assert any("Dry-run restrictions are not exported" in n for n in manifest["notes"])


def test_nodes_not_imported_from_aws_are_not_exportable() -> None:
    export = export_aws_scp(load_world_dir(EXAMPLE).snapshot())
    assert export.policies == ()
    assert {g.item for g in export.gaps} == {"scope unit-9900"}
    assert {r.status for r in export.restrictions if r.id == "r-0001"} == {Status.NOT_EXPORTED}


def _many_actions() -> list[str]:
    """Real IAM action names (from parliament's IAM database) for a large operation."""
    definition = parliament().iam_definition
    ec2 = next(s for s in definition if s["prefix"] == "ec2")
    return sorted(f"ec2:{p['privilege']}" for p in ec2["privileges"])


def _blob_read_map(tmp_path: Path, names: list[str]) -> AwsActionMap:
    map_file = tmp_path / "map.yaml"
    map_file.write_text(json.dumps({"services": {"storage.blob": {"operations": {"read": names}}}}))
    return load_aws_map(map_file)


def test_many_restrictions_are_split_into_policies_within_the_size_limit(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    names = _many_actions()[:250]
    action_map = _blob_read_map(tmp_path, names)
    regions = frozenset({"eu-west-1", "eu-central-1", "eu-west-3", "us-east-1"})
    restrictions = [
        restriction("r-big-000", COLLECTION, ["storage.blob:read"], regions=regions)
    ] + [
        restriction(
            f"r-small-{i:03d}",
            UNIT,
            ["ai.speech:transcribe", "ai.translator:translate", "ai.vision:*"],
            regions=regions,
            not_before=datetime(2025, 9, 25, tzinfo=UTC),
        )
        for i in range(30)
    ]
    export = export_aws_scp(Snapshot(snapshot.world, restrictions), action_map)
    assert len(export.policies) > 3
    for policy in export.policies:
        assert len(policy.text) <= SCP_SIZE_LIMIT
        assert json.loads(policy.text) == policy.document
        sids = [s.sid for s in policy.statements]
        assert len(set(sids)) == len(sids)
        assert lint(policy.text) == [], policy.name
        assert grammar_problems(policy.text) == []
    big = statements_of(export, "r-big-000")
    assert len(big) > 1, "one restriction's actions were cut into several statements"
    assert sorted(a for s in big for a in s["Action"]) == sorted(names)
    assert [s["Sid"] for s in big] == [f"rbig000P{i}" for i in range(1, len(big) + 1)]
    for r in restrictions:
        assert statements_of(export, r.id), r.id
    # Small statements share policies: packing is not one policy per restriction.
    assert len(export.policies) < len(restrictions)
    assert max(export.per_target().values()) <= SCPS_PER_TARGET - RESERVED_PER_TARGET


def _filling(tmp_path: Path, snapshot: Snapshot, count: int, scope: str) -> list[Restriction]:
    """``count`` restrictions on ``scope`` whose statements each fill most of an SCP and
    differ in their region condition, so that no two share a policy or merge."""
    regions = ["eu-west-1", "eu-central-1", "eu-west-3", "us-east-1"]
    combos = [frozenset(c) for n in (1, 2, 3) for c in itertools.combinations(regions, n)]
    return [
        restriction(f"r-fill-{i}", scope, ["storage.blob:read"], regions=combos[i])
        for i in range(count)
    ]


def test_six_scps_on_one_account_fail_naming_the_account_and_the_count(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    # Each statement is about 3,000 characters: two never fit in one 5,120-character SCP.
    action_map = _blob_read_map(tmp_path, _many_actions()[:90])
    restrictions = _filling(tmp_path, snapshot, 6, INGEST)
    with pytest.raises(InvalidInputError) as caught:
        export_aws_scp(Snapshot(snapshot.world, restrictions), action_map)
    (problem,) = caught.value.problems
    assert problem.where == f"account {INGEST} '9900-ingest' (node {INGEST})"
    assert "needs 6 Brightline SCPs" in problem.message
    assert "at most 5 SCPs" in problem.message
    assert "FullAWSAccess" in problem.message
    assert "r-fill-0" in problem.message
    assert "r-fill-5" in problem.message


def test_four_full_scps_fit_beside_full_aws_access_and_five_do_not(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    action_map = _blob_read_map(tmp_path, _many_actions()[:90])
    four = export_aws_scp(
        Snapshot(snapshot.world, _filling(tmp_path, snapshot, 4, INGEST)), action_map
    )
    assert four.per_target() == {INGEST: 4}
    five = Snapshot(snapshot.world, _filling(tmp_path, snapshot, 5, INGEST))
    with pytest.raises(InvalidInputError, match="needs 5 Brightline SCPs"):
        export_aws_scp(five, action_map)
    # Without FullAWSAccess (an allow-list organization), all five places are Brightline's.
    allowed = export_aws_scp(five, action_map, reserved_per_target=0)
    assert allowed.per_target() == {INGEST: 5}
    assert allowed.manifest()["limits"]["brightline_scps_per_target"] == 5
    with pytest.raises(InvalidInputError, match="reserved_per_target"):
        export_aws_scp(five, action_map, reserved_per_target=5)


def test_statements_with_identical_conditions_merge_to_fit_the_target(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    action_map = _blob_read_map(tmp_path, _many_actions()[:90])
    same = frozenset({"eu-west-1"})
    restrictions = [
        restriction(f"r-same-{i}", INGEST, ["storage.blob:read", "ai.speech:*"], regions=same)
        for i in range(6)
    ]
    export = export_aws_scp(Snapshot(snapshot.world, restrictions), action_map)
    (policy,) = export.policies
    (statement,) = policy.statements
    assert statement.restrictions == tuple(f"r-same-{i}" for i in range(6))
    assert statement.sid.startswith("Merged")
    # Exactly what the six statements denied together, nothing more.
    assert set(statement.document["Action"]) == set(_many_actions()[:90]) | {
        "transcribe:*",
        "polly:*",
    }
    assert statement.document["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}
    }
    assert any("merged" in note for note in policy.notes)
    assert lint(policy.text) == []
    assert {r.id: r.policies for r in export.restrictions}["r-same-3"] == (policy.name,)


def test_a_target_gets_its_statements_from_every_restriction_in_shared_policies(
    snapshot: Snapshot,
) -> None:
    """r-a attaches to the collection OU and the hq OU (around an exemption); r-b to the
    collection OU only: the collection OU holds one policy with both, hq one with r-a."""
    split = restriction("r-a", ROOT, ["ai.speech:*"], exempt=(MANAGEMENT, RESCUE))
    own = restriction("r-b", COLLECTION, ["ai.translator:*"])
    export = export_aws_scp(Snapshot(snapshot.world, [split, own]))
    held = {
        t.target_id: sorted(r for r in p.restrictions) for p in export.policies for t in p.targets
    }
    assert export.per_target() == {HQ: 1, COLLECTION: 1}
    assert held == {HQ: ["r-a"], COLLECTION: ["r-a", "r-b"]}


def test_an_action_outside_the_scp_grammar_is_a_gap(tmp_path: Path, snapshot: Snapshot) -> None:
    action_map = _blob_read_map(tmp_path, ["s3:Get*Tagging", "s3:GetObject"])
    only = restriction("r-wild", INGEST, ["storage.blob:read"])
    export = export_aws_scp(Snapshot(snapshot.world, [only]), action_map)
    (statement,) = statements_of(export, "r-wild")
    assert statement["Action"] == ["s3:GetObject"]
    gaps = {g.item: g.reason for g in export.gaps}
    assert "wildcard may only end" in gaps["action s3:Get*Tagging"]
    assert {r.id: r.status for r in export.restrictions}["r-wild"] is Status.PARTIAL


def test_a_policy_one_character_over_the_limit_is_split(tmp_path: Path, snapshot: Snapshot) -> None:
    """A restriction whose single-statement SCP would be exactly 5,120 characters is one
    SCP; one character more and it becomes two, each within the limit."""
    names = _many_actions()[:200]
    only = restriction("r-edge", INGEST, ["storage.blob:read"])

    def export_with(actions: list[str]) -> ScpExport:
        return export_aws_scp(Snapshot(snapshot.world, [only]), _blob_read_map(tmp_path, actions))

    # Find a prefix of the list whose policy is under the limit, then pad its last action.
    fitting = next(
        names[:n] for n in range(len(names), 0, -1) if len(export_with(names[:n]).policies) == 1
    )
    size = len(export_with(fitting).policies[0].text)
    pad = SCP_SIZE_LIMIT - size
    assert 0 <= pad < 64
    exact = [*fitting[:-1], fitting[-1] + "X" * pad]
    (policy,) = export_with(exact).policies
    assert len(policy.text) == SCP_SIZE_LIMIT
    over = export_with([*fitting[:-1], fitting[-1] + "X" * (pad + 1)])
    assert len(over.policies) == 2
    assert all(len(p.text) <= SCP_SIZE_LIMIT for p in over.policies)
    assert sorted(
        a for p in over.policies for s in p.statements for a in s.document["Action"]
    ) == sorted([*fitting[:-1], fitting[-1] + "X" * (pad + 1)])


def test_a_smaller_limit_packs_the_same_statements_into_more_policies(snapshot: Snapshot) -> None:
    normal = export_aws_scp(snapshot)
    tight = export_aws_scp(snapshot, size_limit=400)
    assert len(tight.policies) >= len(normal.policies)
    assert all(len(p.text) <= 400 for p in tight.policies)
    assert sorted(
        a for p in normal.policies for s in p.statements for a in s.document["Action"]
    ) == (sorted(a for p in tight.policies for s in p.statements for a in s.document["Action"]))


@cache
def _default_map() -> AwsActionMap:
    return load_aws_map()


@cache
def _probe_actions(service: str, operation: str) -> tuple[str, ...]:
    """IAM names standing for one Brightline action (the map's own, or the prefixes')."""
    entry = _default_map().services.get(service)
    if entry is None:
        return ()
    return tuple(entry.operations.get(operation, ())) or tuple(f"{p}:Probe" for p in entry.prefixes)


def _scp_denies(export: ScpExport, snapshot: Snapshot, request: Request) -> bool:
    directory = snapshot.world.directory
    lineage = set(directory.ancestors(request.node))
    probes = _probe_actions(request.service, request.operation)
    for policy in export.policies:
        if not any(t.node in lineage for t in policy.targets):
            continue
        for statement in policy.statements:
            doc = statement.document
            condition = doc.get("Condition", {})
            regions = condition.get("StringEquals", {}).get("aws:RequestedRegion")
            if regions is not None and request.region not in regions:
                continue
            moment = request.at.strftime("%Y-%m-%dT%H:%M:%SZ")
            start = condition.get("DateGreaterThanEquals", {}).get("aws:CurrentTime")
            end = condition.get("DateLessThan", {}).get("aws:CurrentTime")
            if (start and moment < start) or (end and moment >= end):
                continue
            if any(fnmatch.fnmatchcase(p, a) for p in probes for a in doc["Action"]):
                return True
    return False


def _shares_actions(snapshot: Snapshot, request: Request) -> bool:
    """Another operation of the service, denied here, maps to the same IAM actions."""
    probes = _probe_actions(request.service, request.operation)
    for other in snapshot.world.catalog.services[request.service].operations:
        if (
            other != request.operation
            and _probe_actions(request.service, other) == probes
            and snapshot.decide(request._replace(operation=other)).denied
        ):
            return True
    return False


def test_scps_deny_what_brightline_denies_and_nothing_else(
    export: ScpExport, snapshot: Snapshot
) -> None:
    """Soundness everywhere; completeness for restrictions exported without gaps."""
    world = snapshot.world
    exported = {r.id for r in export.restrictions if r.status is Status.EXPORTED}
    accounts = [n.id for n in world.directory if n.attrs.get("aws_type") == "account"]
    times = [datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)]
    times.append(datetime(2026, 6, 1, tzinfo=UTC))
    checked = 0
    for node in accounts:
        for service, operation in snapshot.actions:
            for region in world.catalog.regions:
                for at in times:
                    request = Request(node, service, operation, region, at)
                    decision = snapshot.decide(request)
                    scp = _scp_denies(export, snapshot, request)
                    if scp and not decision.denied:
                        # Only where the map says two operations share IAM actions.
                        assert _shares_actions(snapshot, request), request
                    if set(decision.matched) & exported and node != MANAGEMENT:
                        assert scp, request
                        checked += 1
    assert checked > 20


def test_map_file_renames_regions_and_replaces_services(tmp_path: Path, snapshot: Snapshot) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text(
        "regions: {freedonia-1: eu-south-1}\n"
        "services:\n"
        "  ai.vision:\n"
        "    operations: {analyze: ['rekognition:DetectFaces']}\n"
    )
    export = export_aws_scp(snapshot, load_aws_map(map_file))
    (statement,) = statements_of(export, "r-0003")
    assert statement["Action"] == ["rekognition:DetectFaces"]
    assert statement["Condition"]["StringEquals"] == {
        "aws:RequestedRegion": ["eu-south-1", "eu-west-3"]
    }
    assert not any(g.item.startswith("region") for g in export.gaps)


def test_a_map_that_extends_nothing_exports_nothing(tmp_path: Path, snapshot: Snapshot) -> None:
    map_file = tmp_path / "map.json"
    map_file.write_text('{"extends": "none", "services": {}}')
    export = export_aws_scp(snapshot, load_aws_map(map_file))
    assert export.policies == ()
    assert {r.status for r in export.restrictions} == {Status.NOT_EXPORTED, Status.DRY_RUN}


def test_a_bad_map_file_names_file_line_and_field(tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text("services:\n  storage.blob:\n    prefixes: ['S3 bad']\n")
    with pytest.raises(InvalidInputError) as caught:
        load_aws_map(map_file)
    assert "map.yaml:3: services.storage.blob.prefixes[0]" in str(caught.value)


def test_write_emits_minified_policies_and_a_manifest(tmp_path: Path, export: ScpExport) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "brightline-scp-000000000000-9.json"
    stale.write_text("{}")
    written = export.write(out)
    assert not stale.exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["snapshot"] == export.snapshot
    assert manifest["size_limit"] == SCP_SIZE_LIMIT
    for entry in manifest["policies"]:
        text = (out / entry["file"]).read_text()
        assert len(text) == entry["size"] <= SCP_SIZE_LIMIT
        assert "\n" not in text
        assert " " not in text
        assert entry["targets"]
        assert entry["restrictions"]
        assert lint(text) == []
    assert {p.name for p in written} == {e["file"] for e in manifest["policies"]} | {
        "manifest.json"
    }


def test_cli_writes_policies_and_lists_what_is_not_exportable(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from brightline.cli import app

    world, out = imported_world(tmp_path), tmp_path / "scp"
    map_file = tmp_path / "map.yaml"
    map_file.write_text("regions: {freedonia-1: eu-south-1}\n")
    args = ["export", "aws-scp", "--world", str(world), "--out", str(out), "--map", str(map_file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 SCPs" in result.stdout
    assert "r-0003: net.egress:*" in result.stderr
    assert "freedonia" not in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [len((out / p["file"]).read_text()) for p in manifest["policies"]] == [
        p["size"] for p in manifest["policies"]
    ]
    map_file.write_text("services: {storage.blob: {prefixes: 3}}\n")
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert "services.storage.blob.prefixes" in refused.stderr


def test_generic_operations_join_the_services_prefixes(tmp_path: Path, snapshot: Snapshot) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text(
        "services:\n"
        "  db.sql: {prefixes: [rds]}\n"
        "  ingest.streams: {prefixes: [kinesis], operations: {publish: [PutRecord*]}}\n"
    )
    only = [
        restriction("r-db", COLLECTION, ["db.sql:delete", "db.sql:query"]),
        restriction("r-kin", COLLECTION, ["ingest.streams:publish"]),
    ]
    export = export_aws_scp(Snapshot(snapshot.world, only), load_aws_map(map_file))
    (db,) = statements_of(export, "r-db")
    assert db["Action"] == ["rds:Delete*"]
    assert [(g.item, g.reason) for g in export.gaps] == [
        ("db.sql:query", "no IAM action mapped for this operation")
    ]
    (kinesis,) = statements_of(export, "r-kin")
    assert kinesis["Action"] == ["kinesis:PutRecord*"]
    for policy in export.policies:
        assert lint(policy.text) == []
    as_json = export.as_json()
    assert set(as_json["policies"]) == {p.name for p in export.policies}
    assert as_json["manifest"]["restrictions"][0]["status"] == "partial"


def test_cli_fails_naming_a_crowded_account_and_writes_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from brightline.cli import app

    regions = ["eu-west-1", "eu-central-1", "eu-west-3", "us-east-1"]
    lines = [
        f"- {{id: r-fill-{i}, scope: '{INGEST}', actions: ['storage.blob:read'], "
        f"regions: [{regions[i % 4]}{', ' + regions[(i + 1) % 4] if i >= 4 else ''}], "
        "mode: enforce, reason: {case: C-1}}\n"
        for i in range(6)
    ]
    restrictions = tmp_path / "restrictions.yaml"
    restrictions.write_text("".join(lines))
    world, out = imported_world(tmp_path, restrictions), tmp_path / "scp"
    map_file = tmp_path / "map.json"
    map_file.write_text(
        json.dumps({"services": {"storage.blob": {"operations": {"read": _many_actions()[:90]}}}})
    )
    args = ["export", "aws-scp", "--world", str(world), "--out", str(out), "--map", str(map_file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"account {INGEST}" in result.stderr
    assert "needs 6 Brightline SCPs" in result.stderr
    assert not out.exists()
    allowed = CliRunner().invoke(app, [*args, "--reserved-scps", "0"])
    assert allowed.exit_code == 2
    assert "needs 6 Brightline SCPs" in allowed.stderr
    assert "leaving 5" in allowed.stderr
