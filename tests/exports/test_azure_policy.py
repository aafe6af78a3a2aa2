"""Azure Policy export: on a world imported from Azure management groups, definitions and
assignments match the policy-definition structure, deny the right resources where
Brightline denies, exempt by notScopes, and report what Azure Policy cannot say."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from brightline.errors import InvalidInputError
from brightline.exports import (
    AzurePolicyExport,
    Status,
    export_azure_policy,
    load_azure_map,
)
from brightline.policy import ActionPattern, Request, Restriction, Snapshot
from brightline.service.offline import load_world_dir
from brightline.world.importers import azure_management_group_records

FIXTURES = Path(__file__).parents[1] / "fixtures"
GROUPS = FIXTURES / "azure" / "contoso-management-groups.json"
EXPORTS = FIXTURES / "exports" / "azure"
EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
MG = "/providers/Microsoft.Management/managementGroups/"
IDENTITY = "3f2c9a1e-8b7d-4c6a-9e5f-1a2b3c4d5e6f"
CONNECTIVITY = "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
CALLS = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
NOW = datetime(2025, 11, 1, tzinfo=UTC)


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXPORTS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


DEFINITION_SCHEMA = schema("policy-definition.schema.json")
SET_SCHEMA = schema("policy-set-definition.schema.json")
ASSIGNMENT_SCHEMA = schema("policy-assignment.schema.json")


def imported_world(tmp_path: Path) -> Path:
    world = tmp_path / "world"
    world.mkdir()
    records = azure_management_group_records(GROUPS.read_text())
    (world / "directory.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))
    shutil.copy(EXPORTS / "catalog.yaml", world / "catalog.yaml")
    shutil.copy(EXPORTS / "restrictions.yaml", world / "restrictions.yaml")
    return world


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    return load_world_dir(imported_world(tmp_path)).snapshot()


@pytest.fixture
def export(snapshot: Snapshot) -> AzurePolicyExport:
    return export_azure_policy(snapshot, at=NOW)


def restriction(rid: str, scope: str, actions: list[str], **fields: Any) -> Restriction:
    return Restriction(
        id=rid, scope=scope, actions=tuple(ActionPattern.parse(a) for a in actions), **fields
    )


def assignment_of(export: AzurePolicyExport, rid: str) -> dict[str, Any]:
    (found,) = [a.document for a in export.assignments if rid in a.restrictions]
    return found


def rule_of(export: AzurePolicyExport, rid: str) -> dict[str, Any]:
    (found,) = [d.document for d in export.definitions if d.restriction == rid]
    rule: dict[str, Any] = found["properties"]["policyRule"]
    return rule


def matches(condition: dict[str, Any], resource: dict[str, str]) -> bool:
    """Azure Policy's evaluation of the condition subset we emit (case-insensitive)."""
    if "allOf" in condition:
        return all(matches(c, resource) for c in condition["allOf"])
    if "anyOf" in condition:
        return any(matches(c, resource) for c in condition["anyOf"])
    if "not" in condition:
        return not matches(condition["not"], resource)
    value = resource.get(condition["field"], "").lower()
    if "equals" in condition:
        return value == condition["equals"].lower()
    return value in {v.lower() for v in condition["in"]}


def test_definitions_and_assignments_match_the_policy_structure(
    export: AzurePolicyExport,
) -> None:
    assert export.definitions
    for definition in export.definitions:
        jsonschema.validate(definition.document, DEFINITION_SCHEMA)
        assert definition.document["properties"]["policyRule"]["then"] == {"effect": "deny"}
    for initiative in export.initiatives:
        jsonschema.validate(initiative.document, SET_SCHEMA)
    for assignment in export.assignments:
        jsonschema.validate(assignment.document, ASSIGNMENT_SCHEMA)
    ids = {d.id for d in export.definitions}
    in_sets = {
        p["policyDefinitionId"]
        for i in export.initiatives
        for p in i.document["properties"]["policyDefinitions"]
    }
    assert in_sets == ids
    set_ids = {i.id for i in export.initiatives}
    assert {a.document["properties"]["policyDefinitionId"] for a in export.assignments} == set_ids


def test_the_schema_refuses_what_azure_would(export: AzurePolicyExport) -> None:
    document = export.definitions[0].document
    broken = json.loads(json.dumps(document))
    broken["properties"]["policyRule"]["then"]["effect"] = "audit"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, DEFINITION_SCHEMA)
    too_long = json.loads(json.dumps(export.assignments[0].document))
    too_long["name"] = "x" * 25
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(too_long, ASSIGNMENT_SCHEMA)


def test_assignment_is_at_the_management_group_with_exemptions_as_not_scopes(
    export: AzurePolicyExport,
) -> None:
    properties = assignment_of(export, "r-0101")["properties"]
    assert properties["scope"] == MG + "contoso-landingzones"
    assert properties["notScopes"] == [MG + "contoso-online"]
    assert properties["policyDefinitionId"].startswith(
        MG + "contoso-landingzones/providers/Microsoft.Authorization/policySetDefinitions/"
    )
    assert properties["enforcementMode"] == "Default"
    exempt_sub = assignment_of(export, "r-0103")["properties"]
    assert exempt_sub["scope"] == MG + "contoso"
    assert exempt_sub["notScopes"] == [f"/subscriptions/{IDENTITY}"]


def test_subscription_scope_saves_the_definition_at_the_subscription(
    export: AzurePolicyExport,
) -> None:
    properties = assignment_of(export, "r-0104")["properties"]
    assert properties["scope"] == f"/subscriptions/{CALLS}"
    assert properties["policyDefinitionId"].startswith(f"/subscriptions/{CALLS}/providers/")


def test_rule_matches_resource_types_kinds_and_locations(export: AzurePolicyExport) -> None:
    rule = rule_of(export, "r-0101")
    speech = {"type": "Microsoft.CognitiveServices/accounts", "kind": "SpeechServices"}
    translator = {"type": "Microsoft.CognitiveServices/accounts", "kind": "TextTranslation"}
    assert matches(rule["if"], {**speech, "location": "westeurope"})
    assert matches(rule["if"], {**translator, "location": "northeurope"})
    assert not matches(rule["if"], {**speech, "location": "eastus"})
    vision = {"type": "Microsoft.CognitiveServices/accounts", "kind": "ComputerVision"}
    assert not matches(rule["if"], {**vision, "location": "westeurope"})
    assert {"field": "location", "in": ["northeurope", "westeurope"]} in rule["if"]["allOf"]


def test_no_regions_means_no_location_condition(export: AzurePolicyExport) -> None:
    rule = rule_of(export, "r-0103")
    assert "location" not in json.dumps(rule)
    vm = {"type": "Microsoft.Compute/virtualMachines", "location": "francecentral"}
    assert matches(rule["if"], vm)
    assert matches(rule["if"], {"type": "Microsoft.Storage/storageAccounts/fileServices/shares"})


def test_an_operation_alone_is_a_gap_unless_mapped_to_resource_types(
    export: AzurePolicyExport,
) -> None:
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "cannot select one operation" in gaps[("r-0103", "ai.speech:transcribe")]
    assert ("r-0103", "compute.vm:create") not in gaps
    assert {r.id: r.status for r in export.restrictions}["r-0103"] is Status.PARTIAL


def test_unmapped_services_are_reported_not_dropped(export: AzurePolicyExport) -> None:
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "mapped to null" in gaps[("r-0103", "storage.archive:*")]
    assert "mapped to null" in gaps[("r-0104", "net.egress:*")]
    listed = {(g["restriction"], g["item"]) for g in export.manifest()["not_exportable"]}
    assert ("r-0104", "net.egress:*") in listed


def test_child_resource_types_cannot_take_a_region_condition(export: AzurePolicyExport) -> None:
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "no location of its own" in gaps[("r-0104", "storage.blob:*")]
    rule = rule_of(export, "r-0104")
    assert "Microsoft.Storage" not in json.dumps(rule)
    translator = {"type": "Microsoft.CognitiveServices/accounts", "kind": "TextTranslation"}
    assert matches(rule["if"], {**translator, "location": "eastus"})


def test_time_windows_are_gaps_and_out_of_window_restrictions_are_left_out(
    snapshot: Snapshot,
) -> None:
    export = export_azure_policy(snapshot, at=NOW)
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "no time condition" in gaps[("r-0103", "time window")]
    before = export_azure_policy(snapshot, at=datetime(2025, 1, 1, tzinfo=UTC))
    report = {r.id: r for r in before.restrictions}["r-0103"]
    assert report.status is Status.OUT_OF_WINDOW
    assert all("r-0103" not in a.restrictions for a in before.assignments)
    assert any("Azure Policy has no time condition" in n for n in export.manifest()["notes"])


def test_dry_run_restrictions_are_not_exported_and_say_so(export: AzurePolicyExport) -> None:
    assert all("r-0102" not in a.restrictions for a in export.assignments)
    manifest = export.manifest()
    assert manifest["dry_run_not_exported"] == ["r-0102"]
    assert {r["id"]: r["status"] for r in manifest["restrictions"]}["r-0102"] == (
        "dry-run-not-exported"
    )


def test_nodes_not_imported_from_azure_are_not_exportable() -> None:
    export = export_azure_policy(load_world_dir(EXAMPLE).snapshot())
    assert export.assignments == ()
    assert {g.item for g in export.gaps} == {"scope unit-9900"}


def test_an_exempt_node_outside_azure_blocks_the_whole_restriction(snapshot: Snapshot) -> None:
    from types import MappingProxyType

    from brightline.world import Directory, Node, World

    nodes = dict(snapshot.world.directory.nodes)
    nodes["rescue-team"] = Node("rescue-team", "contoso-online", "subscription")
    world = World(Directory(MappingProxyType(nodes)), snapshot.world.catalog)
    only = restriction("r-x", "contoso", ["ai.speech:*"], exempt=("rescue-team",))
    export = export_azure_policy(Snapshot(world, [only]))
    assert export.assignments == ()
    assert [(g.item, "cannot be a notScope" in g.reason) for g in export.gaps] == [
        ("exempt rescue-team", True)
    ]


def test_azure_denies_only_where_brightline_denies(
    export: AzurePolicyExport, snapshot: Snapshot
) -> None:
    """For each subscription, service resource and location: an assignment that denies
    creating the service's resource there means Brightline denies the service there."""
    directory = snapshot.world.directory
    type_map = load_azure_map()
    checked = 0
    for node in directory:
        if node.attrs.get("azure_type") != "subscription":
            continue
        lineage = {str(directory[n].attrs["azure_id"]) for n in directory.ancestors(node.id)}
        for service_id, entry in type_map.services.items():
            if entry is None or service_id not in snapshot.world.catalog.services:
                continue
            resource = {"type": entry.whole.types[0], "kind": (entry.whole.kinds or ("",))[0]}
            for location in snapshot.world.catalog.regions:
                denied_by_azure = any(
                    a.scope in lineage
                    and not set(a.properties["notScopes"]) & lineage
                    and matches(rule_of(export, rid)["if"], {**resource, "location": location})
                    for a in export.assignments
                    for rid in a.restrictions
                )
                operations = snapshot.world.catalog.services[service_id].operations
                denied = any(
                    snapshot.decide(Request(node.id, service_id, op, location, NOW)).denied
                    for op in operations
                )
                if denied_by_azure:
                    assert denied, (node.id, service_id, location)
                    checked += 1
    assert checked > 5


def test_names_fit_azure_limits(export: AzurePolicyExport) -> None:
    for assignment in export.assignments:
        assert len(assignment.name) <= 24
    for definition in [*export.definitions, *export.initiatives]:
        assert len(definition.name) <= 64


def test_map_file_adds_services_and_regions(tmp_path: Path, snapshot: Snapshot) -> None:
    map_file = tmp_path / "azure-map.yaml"
    map_file.write_text(
        "services:\n"
        "  net.egress:\n"
        "    types: [Microsoft.Network/publicIPAddresses]\n"
        "regions: {eastus: eastus2}\n"
    )
    export = export_azure_policy(snapshot, load_azure_map(map_file), at=NOW)
    rule = rule_of(export, "r-0104")
    public_ip = {"type": "Microsoft.Network/publicIPAddresses", "location": "eastus2"}
    assert matches(rule["if"], public_ip)
    assert not any(g.item == "net.egress:*" for g in export.gaps)


def test_a_bad_map_file_names_file_line_and_field(tmp_path: Path) -> None:
    map_file = tmp_path / "azure-map.yaml"
    map_file.write_text("services:\n  ai.speech:\n    types: []\n")
    with pytest.raises(InvalidInputError) as caught:
        load_azure_map(map_file)
    assert "azure-map.yaml:3: services.ai.speech.types" in str(caught.value)


def test_write_emits_definitions_assignments_and_a_manifest(
    tmp_path: Path, export: AzurePolicyExport
) -> None:
    out = tmp_path / "out"
    (out / "assignments").mkdir(parents=True)
    stale = out / "assignments" / "bl-0000000000000000.json"
    stale.write_text("{}")
    export.write(out)
    assert not stale.exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["policies"]) == len(export.assignments) == 3
    for entry in manifest["policies"]:
        initiative = json.loads((out / entry["initiative"]["file"]).read_text())
        assignment = json.loads((out / entry["assignment"]["file"]).read_text())
        jsonschema.validate(initiative, SET_SCHEMA)
        jsonschema.validate(assignment, ASSIGNMENT_SCHEMA)
        assert assignment["properties"]["policyDefinitionId"] == initiative["id"]
        assert entry["targets"] == [assignment["properties"]["scope"]]
        for listed in entry["definitions"]:
            definition = json.loads((out / listed["file"]).read_text())
            jsonschema.validate(definition, DEFINITION_SCHEMA)
            assert listed["restriction"] in entry["restrictions"]
            assert definition["id"] in {
                p["policyDefinitionId"] for p in initiative["properties"]["policyDefinitions"]
            }
    assert manifest["per_scope"][MG + "contoso"] == {
        "definitions": 1,
        "initiatives": 1,
        "assignments": 1,
    }


def test_cli_writes_definitions_and_assignments(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from brightline.cli import app

    world, out = imported_world(tmp_path), tmp_path / "azure"
    args = ["export", "azure-policy", "--world", str(world), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 assignments of 3 initiatives (3 definitions)" in result.stdout
    assert "r-0104: net.egress:*" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dry_run_not_exported"] == ["r-0102"]
    assert len(list((out / "definitions").glob("*.json"))) == 3


def test_as_json_carries_the_manifest_and_every_document(export: AzurePolicyExport) -> None:
    body = export.as_json()
    assert body["manifest"] == export.manifest()
    assert set(body["definitions"]) == {d.name for d in export.definitions}
    assert set(body["assignments"]) == {a.name for a in export.assignments}
    assert set(body["initiatives"]) == {i.name for i in export.initiatives}
    json.dumps(body)


def _with_subscriptions(snapshot: Snapshot, parent: str, count: int) -> Snapshot:
    """The snapshot's world with ``count`` more subscriptions under ``parent``."""
    from types import MappingProxyType

    from brightline.world import Directory, Node, World

    nodes = dict(snapshot.world.directory.nodes)
    for i in range(count):
        sub = f"00000000-0000-4000-8000-{i:012d}"
        attrs = {"azure_type": "subscription", "azure_id": f"/subscriptions/{sub}"}
        nodes[sub] = Node(sub, parent, "subscription", f"extra {i}", MappingProxyType(attrs))
    world = World(Directory(MappingProxyType(nodes)), snapshot.world.catalog)
    return Snapshot(world, [])


def test_230_restrictions_at_one_scope_share_one_initiative_and_one_assignment(
    snapshot: Snapshot,
) -> None:
    many = [
        restriction(
            f"r-{i:03d}", "contoso-landingzones", ["ai.speech:*"], exempt=("contoso-online",)
        )
        for i in range(230)
    ]
    export = export_azure_policy(Snapshot(snapshot.world, many), at=NOW)
    (assignment,) = export.assignments
    (initiative,) = export.initiatives
    assert len(export.definitions) == 230
    assert assignment.restrictions == tuple(f"r-{i:03d}" for i in range(230))
    assert export.per_scope() == {
        MG + "contoso-landingzones": {"definitions": 230, "initiatives": 1, "assignments": 1}
    }
    jsonschema.validate(initiative.document, SET_SCHEMA)
    jsonschema.validate(assignment.document, ASSIGNMENT_SCHEMA)
    references = [
        p["policyDefinitionReferenceId"] for p in initiative.properties["policyDefinitions"]
    ]
    assert len(set(references)) == 230
    messages = assignment.properties["nonComplianceMessages"]
    assert {m.get("policyDefinitionReferenceId") for m in messages} == {None, *references}
    assert all(len(m["message"]) <= 1024 for m in messages)
    assert len(assignment.properties["description"]) <= 512


def test_more_than_500_definitions_at_one_scope_fail_naming_the_scope(snapshot: Snapshot) -> None:
    many = [restriction(f"r-{i:03d}", "contoso-corp", ["ai.speech:*"]) for i in range(501)]
    with pytest.raises(InvalidInputError) as caught:
        export_azure_policy(Snapshot(snapshot.world, many), at=NOW)
    (problem,) = caught.value.problems
    assert problem.where == MG + "contoso-corp"
    assert "501 Brightline policy definitions; Azure allows 500 per scope" in problem.message


def test_more_than_200_assignments_at_one_scope_fail_naming_the_scope_and_count(
    snapshot: Snapshot,
) -> None:
    """230 restrictions at one management group, each exempting a different subscription:
    230 different notScopes cannot share an assignment, and Azure allows 200 a scope."""
    world = _with_subscriptions(snapshot, "contoso-corp", 230).world
    subs = sorted(n for n in world.directory.nodes if n.startswith("00000000-"))
    many = [
        restriction(f"r-{i:03d}", "contoso-corp", ["ai.speech:*"], exempt=(sub,))
        for i, sub in enumerate(subs)
    ]
    with pytest.raises(InvalidInputError) as caught:
        export_azure_policy(Snapshot(world, many), at=NOW)
    messages = {p.message.split(";")[0] for p in caught.value.problems}
    assert {p.where for p in caught.value.problems} == {MG + "contoso-corp"}
    assert messages == {
        "would hold 230 Brightline policy initiatives",
        "would hold 230 Brightline policy assignments",
    }
    assert any("Azure allows 200 per scope" in p.message for p in caught.value.problems)
    # 200 fit.
    export = export_azure_policy(Snapshot(world, many[:200]), at=NOW)
    assert export.per_scope()[MG + "contoso-corp"]["assignments"] == 200


def _denies_part(description: str) -> str:
    return description.split(" Not expressed")[0]


def test_descriptions_say_exactly_what_the_rule_denies_and_what_it_cannot(
    export: AzurePolicyExport,
) -> None:
    """r-0104 restricts ai.translator, storage.blob and net.egress in eastus: Azure can
    deny only translator accounts there; storage and egress are listed as not expressed,
    never as denied."""
    (definition,) = [d for d in export.definitions if d.restriction == "r-0104"]
    description = definition.properties["description"]
    denies = _denies_part(description)
    assert "Microsoft.CognitiveServices/accounts of kind TextTranslation" in denies
    assert "in eastus" in denies
    assert "(for ai.translator:*)" in denies
    assert "storage" not in denies
    assert "egress" not in denies
    assert (
        "Not expressed (the decision API enforces it): net.egress:*, storage.blob:*" in description
    )
    rule = json.dumps(definition.properties["policyRule"])
    for resource_type in re.findall(r"Microsoft\.[A-Za-z]+/[A-Za-z/]+", denies):
        assert resource_type in rule
    brightline = definition.properties["metadata"]["brightline"]
    assert brightline["not_expressed"] == ["net.egress:*", "storage.blob:*"]


def test_a_storage_wildcard_lists_storage_it_cannot_express(export: AzurePolicyExport) -> None:
    """r-0103 denies storage.*:*: blob and file shares are resources, archive is not."""
    (definition,) = [d for d in export.definitions if d.restriction == "r-0103"]
    description = definition.properties["description"]
    denies = _denies_part(description)
    assert "storage.blob:*" in denies
    assert "storage.files:*" in denies
    assert "storage.*" not in description
    assert "storage.archive" not in denies
    assert "storage.archive:*" in description.split(" Not expressed")[1]
    assert "time window" in description.split(" Not expressed")[1]


def test_a_long_description_is_shortened_within_512_characters(snapshot: Snapshot) -> None:
    from types import MappingProxyType

    from brightline.world import Catalog, Service, World

    services = dict(snapshot.world.catalog.services)
    for i in range(60):
        services[f"legacy.service{i:02d}"] = Service(f"legacy.service{i:02d}", ("read",))
    catalog = Catalog(MappingProxyType(services), snapshot.world.catalog.regions)
    world = World(snapshot.world.directory, catalog)
    wide = restriction("r-wide", "contoso", ["legacy.*:*", "ai.speech:*"])
    export = export_azure_policy(Snapshot(world, [wide]), at=NOW)
    (definition,) = export.definitions
    description = definition.properties["description"]
    assert len(description) <= 512
    assert "SpeechServices" in _denies_part(description)
    assert re.search(r"and \d+ more\.$", description)
    assert len(definition.properties["metadata"]["brightline"]["not_expressed"]) == 60
    jsonschema.validate(definition.document, DEFINITION_SCHEMA)
