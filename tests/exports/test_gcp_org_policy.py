"""Google Cloud Organization Policy export: on a world imported from Google Cloud's
resource hierarchy, every policy and custom constraint matches the documented v2 shapes,
denies only where Brightline denies, goes around exemptions, and everything Organization
Policy cannot say is reported."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from brightline.errors import InvalidInputError
from brightline.exports import (
    OrgPolicyExport,
    Status,
    export_gcp_org_policy,
    gcp_resource,
    load_gcp_map,
)
from brightline.policy import ActionPattern, Request, Restriction, Snapshot
from brightline.service.offline import load_world_dir

FIXTURES = Path(__file__).parents[1] / "fixtures" / "exports" / "gcp"
EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
NOW = datetime(2025, 11, 1, tzinfo=UTC)
INGEST, LEGACY = "projects/415104041262", "projects/legacy-archive"
RESCUE, HQ = "projects/276000000001", "projects/538000000002"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


POLICY_SCHEMA = schema("org-policy.schema.json")
CONSTRAINT_SCHEMA = schema("custom-constraint.schema.json")


def gcp_world(tmp_path: Path) -> Path:
    world = tmp_path / "world"
    world.mkdir()
    for name in ("directory.jsonl", "catalog.yaml", "restrictions.yaml"):
        shutil.copy(FIXTURES / name, world / name)
    return world


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    return load_world_dir(gcp_world(tmp_path)).snapshot()


@pytest.fixture
def export(snapshot: Snapshot) -> OrgPolicyExport:
    return export_gcp_org_policy(snapshot, at=NOW)


def restriction(rid: str, scope: str, actions: list[str], **fields: Any) -> Restriction:
    return Restriction(
        id=rid, scope=scope, actions=tuple(ActionPattern.parse(a) for a in actions), **fields
    )


def policy(export: OrgPolicyExport, name: str) -> dict[str, Any]:
    (found,) = [dict(p.document) for p in export.policies if p.name == name]
    return found


def denied_values(export: OrgPolicyExport, name: str) -> list[str]:
    (rule,) = policy(export, name)["spec"]["rules"]
    values: list[str] = rule["values"]["deniedValues"]
    return values


def test_every_document_matches_the_documented_schema(export: OrgPolicyExport) -> None:
    assert export.policies
    assert export.constraints
    for item in export.policies:
        jsonschema.validate(item.document, POLICY_SCHEMA)
    for constraint in export.constraints:
        jsonschema.validate(constraint.document, CONSTRAINT_SCHEMA)


def test_the_schemas_refuse_what_google_would(export: OrgPolicyExport) -> None:
    document = json.loads(
        json.dumps(policy(export, "folders/789/policies/gcp.restrictServiceUsage"))
    )
    document["spec"]["rules"][0]["enforce"] = True  # values and enforce are one field
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, POLICY_SCHEMA)
    bad_value = json.loads(
        json.dumps(policy(export, "folders/789/policies/gcp.restrictServiceUsage"))
    )
    bad_value["spec"]["rules"][0]["values"]["deniedValues"] = ["Compute Engine"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_value, POLICY_SCHEMA)
    constraint = json.loads(json.dumps(dict(export.constraints[0].document)))
    constraint["methodTypes"] = ["UPDATE"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(constraint, CONSTRAINT_SCHEMA)
    constraint["methodTypes"] = ["CREATE"]
    constraint["name"] = "organizations/456/customConstraints/custom." + "x" * 64
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(constraint, CONSTRAINT_SCHEMA)


def test_whole_services_are_denied_with_restrict_service_usage_around_exemptions(
    export: OrgPolicyExport,
) -> None:
    """r-0201 (folder 123, rescue-ops exempt) goes on folder 789, not on folder 123, and
    shares the folder's policy with r-0206; inheritFromParent keeps what is denied above."""
    name = "folders/789/policies/gcp.restrictServiceUsage"
    assert denied_values(export, name) == [
        "aiplatform.googleapis.com",
        "compute.googleapis.com",
        "storage.googleapis.com",
    ]
    assert policy(export, name)["spec"]["inheritFromParent"] is True
    assert not [p for p in export.policies if p.resource in {"folders/123", RESCUE}]
    (shared,) = [p for p in export.policies if p.name == name]
    assert shared.restrictions == ("r-0201", "r-0206")
    report = {r.id: r for r in export.restrictions}["r-0201"]
    assert report.targets == ("folders/789",)
    assert any("non-exempt descendants" in n for n in report.notes)


def test_every_service_in_some_regions_uses_resource_locations(export: OrgPolicyExport) -> None:
    assert denied_values(export, "organizations/456/policies/gcp.resourceLocations") == [
        "europe-west4"
    ]
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "not a Google Cloud region name" in gaps[("r-0202", "region freedonia-1")]


def test_mapped_operations_become_custom_constraints_enforced_on_the_project(
    export: OrgPolicyExport,
) -> None:
    by_type = {c.rule.resource_type: c for c in export.constraints}
    compute = by_type["compute.googleapis.com/Instance"]
    assert compute.name.startswith("organizations/456/customConstraints/custom.brightline")
    assert compute.document["actionType"] == "DENY"
    assert compute.document["methodTypes"] == ["CREATE"]
    enforcing = policy(export, f"{INGEST}/policies/{compute.short_name}")
    assert enforcing["spec"] == {"rules": [{"enforce": True}]}
    assert "sqladmin.googleapis.com/Instance" in by_type
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "mapped to null" in gaps[("r-0203", "ai.speech:transcribe")]
    assert {r.id: r.status for r in export.restrictions}["r-0203"] is Status.PARTIAL


def test_per_service_regions_cannot_be_expressed(export: OrgPolicyExport) -> None:
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "per-service regions" in gaps[("r-0204", "storage.blob:*")]
    assert {r.id: r.status for r in export.restrictions}["r-0204"] is Status.NOT_EXPORTED
    assert not [p for p in export.policies if p.resource == HQ]


def test_unmapped_services_are_reported_not_dropped(export: OrgPolicyExport) -> None:
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "mapped to null" in gaps[("r-0201", "storage.archive:*")]
    assert "mapped to null" in gaps[("r-0201", "storage.files:*")]
    listed = {(g["restriction"], g["item"]) for g in export.manifest()["not_exportable"]}
    assert ("r-0201", "storage.archive:*") in listed


def test_time_windows_are_gaps_and_out_of_window_restrictions_are_left_out(
    snapshot: Snapshot,
) -> None:
    export = export_gcp_org_policy(snapshot, at=NOW)
    gaps = {(g.restriction, g.item): g.reason for g in export.gaps}
    assert "no time condition" in gaps[("r-0206", "time window")]
    before = export_gcp_org_policy(snapshot, at=datetime(2025, 1, 1, tzinfo=UTC))
    assert {r.id: r.status for r in before.restrictions}["r-0206"] is Status.OUT_OF_WINDOW
    assert all("r-0206" not in p.restrictions for p in before.policies)


def test_dry_run_restrictions_are_not_exported(export: OrgPolicyExport) -> None:
    assert all("r-0205" not in p.restrictions for p in export.policies)
    assert export.manifest()["dry_run_not_exported"] == ["r-0205"]


def test_nodes_not_imported_from_google_cloud_are_not_exportable() -> None:
    export = export_gcp_org_policy(load_world_dir(EXAMPLE).snapshot())
    assert export.policies == ()
    assert {g.item for g in export.gaps} == {"scope unit-9900"}


def test_resource_names_come_from_the_imported_attributes(snapshot: Snapshot) -> None:
    directory = snapshot.world.directory
    assert gcp_resource(directory["intercept-ingest"]) == INGEST
    assert gcp_resource(directory["legacy-archive"]) == LEGACY
    assert gcp_resource(directory["folders:123"]) == "folders/123"
    assert gcp_resource(directory["organizations:456"]) == "organizations/456"


def _ancestors(snapshot: Snapshot, node: str) -> set[str]:
    directory = snapshot.world.directory
    return {r for n in directory.ancestors(node) if (r := gcp_resource(directory[n]))}


def test_google_denies_only_where_brightline_denies(
    export: OrgPolicyExport, snapshot: Snapshot
) -> None:
    """Organization Policy's evaluation of what we emit (list values inherited down the
    hierarchy, custom constraints enforced below their policy), for every project, mapped
    service and region: where Google would deny, Brightline denies."""
    world = snapshot.world
    service_map = load_gcp_map()
    projects = [n.id for n in world.directory if n.attrs.get("gcp_type") == "project"]
    checked = 0
    for project in projects:
        lineage = _ancestors(snapshot, project)
        held = [p for p in export.policies if p.resource in lineage]
        denied_services = {
            v
            for p in held
            if p.constraint == "gcp.restrictServiceUsage"
            for v in p.document["spec"]["rules"][0]["values"]["deniedValues"]
        }
        denied_locations = {
            v
            for p in held
            if p.constraint == "gcp.resourceLocations"
            for v in p.document["spec"]["rules"][0]["values"]["deniedValues"]
        }
        enforced = {p.constraint for p in held if p.constraint.startswith("custom.")}
        for service_id, service in world.catalog.services.items():
            entry = service_map.services.get(service_id)
            for region in world.catalog.regions:
                location = service_map.region(region)
                for operation in service.operations:
                    decision = snapshot.decide(Request(project, service_id, operation, region, NOW))
                    google = (
                        (entry is not None and entry.service in denied_services)
                        or location in denied_locations
                        or any(
                            c.short_name in enforced
                            for rule in (entry.operations.get(operation, ()) if entry else ())
                            for c in export.constraints
                            if c.rule == rule
                        )
                    )
                    if google:
                        assert decision.denied, (project, service_id, operation, region)
                        checked += 1
    assert checked > 50


def test_the_map_validates_google_names(tmp_path: Path) -> None:
    map_file = tmp_path / "gcp-map.yaml"
    map_file.write_text("services:\n  ai.speech:\n    service: Speech To Text\n")
    with pytest.raises(InvalidInputError) as caught:
        load_gcp_map(map_file)
    assert "gcp-map.yaml:3: services.ai.speech.service" in str(caught.value)
    map_file.write_text(
        "services:\n  compute.vm:\n    operations:\n      create:\n"
        "        - {resource_type: compute.googleapis.com/Instance, method_types: [UPDATE],"
        " condition: 'true'}\n"
    )
    with pytest.raises(InvalidInputError, match="must include CREATE"):
        load_gcp_map(map_file)


def test_map_file_adds_services_and_regions(tmp_path: Path, snapshot: Snapshot) -> None:
    map_file = tmp_path / "gcp-map.yaml"
    map_file.write_text(
        "services:\n  ai.speech:\n    service: speech.googleapis.com\n"
        "regions: {freedonia-1: in:europe-locations}\n"
    )
    export = export_gcp_org_policy(snapshot, load_gcp_map(map_file), at=NOW)
    assert denied_values(export, "organizations/456/policies/gcp.resourceLocations") == [
        "europe-west4",
        "in:europe-locations",
    ]
    only = restriction("r-speech", "folders:123", ["ai.speech:*"])
    speech = export_gcp_org_policy(Snapshot(snapshot.world, [only]), load_gcp_map(map_file))
    assert denied_values(speech, "folders/123/policies/gcp.restrictServiceUsage") == [
        "speech.googleapis.com"
    ]
    for item in [*export.policies, *speech.policies]:
        jsonschema.validate(item.document, POLICY_SCHEMA)


def test_write_emits_yaml_that_matches_the_schemas(tmp_path: Path, export: OrgPolicyExport) -> None:
    out = tmp_path / "out"
    (out / "policies").mkdir(parents=True)
    stale = out / "policies" / "folders-1-gcp.restrictServiceUsage.yaml"
    stale.write_text("name: stale\n")
    export.write(out)
    assert not stale.exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "brightline-gcp-org-policy/1"
    for entry in manifest["policies"]:
        document = yaml.safe_load((out / entry["file"]).read_text())
        jsonschema.validate(document, POLICY_SCHEMA)
        assert document["name"] == entry["name"]
    for entry in manifest["custom_constraints"]:
        document = yaml.safe_load((out / entry["file"]).read_text())
        jsonschema.validate(document, CONSTRAINT_SCHEMA)


def test_cli_writes_policies_and_lists_what_is_not_exportable(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from brightline.cli import app

    world, out = gcp_world(tmp_path), tmp_path / "gcp"
    args = ["export", "gcp-org-policy", "--world", str(world), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "custom constraints" in result.stdout
    assert "r-0204: storage.blob:*: per-service regions" in result.stderr
    assert (out / "policies" / "folders-789-gcp.restrictServiceUsage.yaml").exists()
