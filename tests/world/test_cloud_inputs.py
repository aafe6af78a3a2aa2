"""Cloud importers on inputs as the CLIs print them (fixtures written from the AWS CLI,
Azure CLI / REST, gcloud and Cloud Asset Inventory documentation), with located errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from brightline.errors import InvalidInputError
from brightline.world import (
    NodeRecord,
    apply_attribute_overlay,
    build_directory,
    read_attribute_overlay,
)
from brightline.world.importers import (
    SourceText,
    read_aws_organizations,
    read_azure_management_groups,
    read_gcp_resource_manager,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
AWS_BUNDLE = FIXTURES / "aws" / "organization.json"
AWS_CLI = FIXTURES / "aws" / "cli"
AZURE = FIXTURES / "azure"
GCP = FIXTURES / "gcp"


def _sources(*paths: Path) -> list[SourceText]:
    files = [p for path in paths for p in (sorted(path.iterdir()) if path.is_dir() else [path])]
    return [SourceText(p.name, p.read_text()) for p in files]


def _by_id(records: tuple[NodeRecord, ...] | list[NodeRecord]) -> dict[str, NodeRecord]:
    return {r.id: r for r in records}


def _problems(caught: pytest.ExceptionInfo[InvalidInputError]) -> list[str]:
    return [str(p) for p in caught.value.problems]


# -- AWS ------------------------------------------------------------------------------------


def test_aws_whole_cli_outputs_give_the_bundles_tree() -> None:
    bundle = _by_id(read_aws_organizations(_sources(AWS_BUNDLE)).records)
    printed = _by_id(read_aws_organizations(_sources(AWS_CLI)).records)
    assert printed.keys() == bundle.keys()
    for node_id, record in bundle.items():
        assert printed[node_id].parent == record.parent, node_id
        assert printed[node_id].kind == record.kind
        assert printed[node_id].name == record.name
    assert printed["r-f7dn"].attrs["management_account_id"] == "111111111111"
    assert printed["555566667777"].attrs["tag:env"] == "prod"
    assert "@" not in json.dumps([r.model_dump() for r in printed.values()])


def test_aws_outputs_appended_to_one_file_are_read() -> None:
    text = "".join((AWS_CLI / name).read_text() for name in ("list-roots.json", "accounts.json"))
    text += '{"OrganizationalUnits": []}\n'
    with pytest.raises(InvalidInputError) as caught:
        read_aws_organizations([SourceText("org.json", text)])
    # Accounts without a parent, named by the line their output starts on and their path.
    assert any(p.startswith("org.json:16: $.Accounts[0]") for p in _problems(caught))


def test_aws_errors_cite_the_users_file_and_json_path() -> None:
    sources = _sources(AWS_CLI)
    for i, source in enumerate(sources):
        if source.name == "accounts.json":
            data = json.loads(source.text)
            data["Accounts"][3]["Id"] = "8888-9999-0000"
            sources[i] = SourceText("accounts.json", json.dumps(data))
    with pytest.raises(InvalidInputError) as caught:
        read_aws_organizations(sources)
    assert _problems(caught) == [
        "accounts.json: $.Accounts[3].Id: '8888-9999-0000' is not an AWS account id",
        "parents-888899990000.json: $.Parents: parents of '888899990000', which is not listed",
    ]
    assert "directory.jsonl" not in str(caught.value)


def test_aws_a_parent_missing_from_the_input_is_named_in_the_input() -> None:
    sources = [s for s in _sources(AWS_CLI) if s.name != "ous.ou-f7dn-9900abcd.json"]
    with pytest.raises(InvalidInputError) as caught:
        read_aws_organizations(sources)
    assert _problems(caught) == [
        "parents-555566667777.json: $.Parents[0]: '555566667777' has parent 'ou-f7dn-c011ect1',"
        " which is not in the input"
    ]


def test_aws_parents_types_are_checked() -> None:
    sources = _sources(AWS_CLI)
    bad = {"Parents": [{"Id": "ou-f7dn-c011ect1", "Type": "DEPARTMENT"}]}
    sources.append(SourceText("parents-222233334444.json", json.dumps(bad)))
    with pytest.raises(InvalidInputError) as caught:
        read_aws_organizations(sources)
    assert _problems(caught) == [
        "parents-222233334444.json: $.Parents[0].Type: 'DEPARTMENT' is not a parent type: "
        "expected ROOT or ORGANIZATIONAL_UNIT"
    ]


def test_aws_a_parent_id_of_the_wrong_type_is_refused() -> None:
    bad = {"Parents": [{"Id": "ou-f7dn-c011ect1", "Type": "ROOT"}]}
    sources = [*_sources(AWS_CLI), SourceText("parents-222233334444.json", json.dumps(bad))]
    with pytest.raises(InvalidInputError, match=r"\$\.Parents\[0\]\.Id: .* is not a ROOT id"):
        read_aws_organizations(sources)


def test_aws_disagreeing_parents_are_refused() -> None:
    other = {"Parents": [{"Id": "r-f7dn", "Type": "ROOT"}]}
    sources = [*_sources(AWS_CLI), SourceText("parents-222233334444.json", json.dumps(other))]
    with pytest.raises(InvalidInputError, match="'222233334444' has different parents"):
        read_aws_organizations(sources)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "page.json",
            '{"Accounts": [], "NextToken": "AAE..."}',
            "page.json: $.NextToken: one page",
        ),
        ("q.json", "[]", "q.json: $: expected an `aws organizations` output"),
        ("x.json", '{"Users": []}', "x.json: $: not an `aws organizations` output"),
        ("children.json", '{"Children": []}', "put the\n--parent-id in the file name"),
        ("parents.json", '{"Parents": []}', "put the --child-id in the file name"),
        ("c.ou-f7dn-hq8x2k1a.json", '{"Children": [{"Id": "x", "Type": "USER"}]}', "not a child"),
    ],
)
def test_aws_outputs_that_cannot_be_placed_are_refused(name: str, text: str, expected: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        read_aws_organizations([*_sources(AWS_CLI), SourceText(name, text)])
    assert expected.replace("\n", " ") in str(caught.value)


def test_aws_whole_outputs_inside_a_bundle_are_accepted() -> None:
    roots = json.loads((AWS_CLI / "list-roots.json").read_text())
    accounts = json.loads((AWS_CLI / "accounts.json").read_text())
    accounts["Accounts"] = accounts["Accounts"][:1]
    bundle = {
        "Roots": roots,
        "Accounts": accounts,
        "Parents": {"111111111111": {"Parents": [{"Id": "r-f7dn", "Type": "ROOT"}]}},
    }
    nodes = _by_id(read_aws_organizations([SourceText("b.json", json.dumps(bundle))]).records)
    assert nodes["111111111111"].parent == "r-f7dn"


def test_aws_default_root_name_is_noted() -> None:
    hierarchy = read_aws_organizations(_sources(AWS_CLI))
    assert any("default name 'Root'" in note and "--attributes" in note for note in hierarchy.notes)


# -- Azure ----------------------------------------------------------------------------------


def test_azure_export_without_children_is_refused_naming_expand_recurse() -> None:
    with pytest.raises(InvalidInputError) as caught:
        read_azure_management_groups(_sources(AZURE / "contoso-show-without-expand.json"))
    [problem] = _problems(caught)
    assert problem.startswith("contoso-show-without-expand.json: $.children: no children")
    assert "--expand --recurse" in problem


def test_azure_rest_shape_without_children_is_refused() -> None:
    data = json.loads((AZURE / "contoso-rest.json").read_text())
    del data["properties"]["children"]
    with pytest.raises(InvalidInputError, match=r"mg.json: \$\.properties\.children: no children"):
        read_azure_management_groups([SourceText("mg.json", json.dumps(data))])


def test_azure_rest_shape_is_read() -> None:
    hierarchy = read_azure_management_groups(_sources(AZURE / "contoso-rest.json"))
    nodes = _by_id(hierarchy.records)
    assert nodes["contoso"].kind == "customer"
    assert nodes["contoso"].name == "Contoso"
    assert nodes["contoso"].attrs["tenant_id"] == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert nodes["contoso"].attrs["azure_parent"] == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert nodes["contoso-online"].parent == "contoso"
    assert nodes["9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f6a"].parent == "contoso-online"
    assert nodes["9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f6a"].kind == "subscription"
    assert hierarchy.where["contoso-online"] == "contoso-rest.json: $.properties.children[1]"


def test_azure_list_output_is_refused() -> None:
    listed = (
        '[{"id": "/providers/Microsoft.Management/managementGroups/contoso", "name": "contoso"}]'
    )
    with pytest.raises(InvalidInputError, match="has no hierarchy"):
        read_azure_management_groups([SourceText("groups.json", listed)])


def test_azure_expand_without_recurse_is_noted() -> None:
    data = json.loads((AZURE / "contoso-management-groups.json").read_text())
    for child in data["children"]:
        child["children"] = None
    hierarchy = read_azure_management_groups([SourceText("mg.json", json.dumps(data))])
    assert any("lacked --recurse" in note for note in hierarchy.notes)


# -- Google Cloud ---------------------------------------------------------------------------


def _gcp_files() -> list[Path]:
    return [
        GCP / n
        for n in (
            "organizations.json",
            "folders-organization.json",
            "folders-730019283746.json",
            "projects.json",
        )
    ]


def test_gcp_gcloud_lists_give_organization_folders_and_projects() -> None:
    hierarchy = read_gcp_resource_manager(_sources(*_gcp_files()))
    nodes = _by_id(hierarchy.records)
    org = nodes["organizations:284613049182"]
    assert (org.kind, org.parent, org.name) == ("customer", None, "freedonia-mod.example")
    assert org.attrs["directory_customer_id"] == "C02x7k1qz"
    assert nodes["folders:118273645091"].parent == "folders:730019283746"
    assert nodes["folders:118273645091"].kind == "unit"
    ingest = nodes["u9900-ingest"]
    assert (ingest.kind, ingest.parent, ingest.name) == (
        "subscription",
        "folders:118273645091",
        "9900 ingest",
    )
    assert ingest.attrs["project_number"] == "883920174655"
    assert ingest.attrs["gcp_name"] == "projects/883920174655"
    assert ingest.attrs["label:env"] == "prod"
    # The newer string parent and API v3 fields.
    rescue = nodes["u9900-rescue"]
    assert (rescue.parent, rescue.name) == ("folders:730019283746", "9900 rescue")
    assert rescue.attrs["project_number"] == "661029384756"
    assert nodes["mod-billing-admin"].parent == "organizations:284613049182"
    directory = build_directory(enumerate(hierarchy.records, start=1))
    assert directory.roots() == ("organizations:284613049182",)
    assert len(directory) == 9


def test_gcp_pending_deletion_is_kept_marked_and_noted() -> None:
    hierarchy = read_gcp_resource_manager(_sources(*_gcp_files()))
    old = _by_id(hierarchy.records)["u9900-archive-old"]
    assert old.attrs["lifecycle_state"] == "DELETE_REQUESTED"
    [note] = [n for n in hierarchy.notes if "pending deletion" in n]
    assert "project u9900-archive-old" in note


def test_gcp_asset_export_gives_the_same_tree() -> None:
    listed = _by_id(read_gcp_resource_manager(_sources(*_gcp_files())).records)
    hierarchy = read_gcp_resource_manager(_sources(GCP / "asset-export.jsonl"))
    exported = _by_id(hierarchy.records)
    assert exported.keys() == listed.keys()
    for node_id, record in listed.items():
        assert (exported[node_id].parent, exported[node_id].kind, exported[node_id].name) == (
            record.parent,
            record.kind,
            record.name,
        ), node_id
    assert exported["u9900-archive-old"].attrs["lifecycle_state"] == "DELETE_REQUESTED"
    assert any("1 storage.googleapis.com/Bucket" in n for n in hierarchy.notes)
    assert hierarchy.where["u9900-ingest"].startswith("asset-export.jsonl:")


def test_gcp_search_all_resources_results_are_read() -> None:
    results = [
        {
            "name": "//cloudresourcemanager.googleapis.com/organizations/456",
            "assetType": "cloudresourcemanager.googleapis.com/Organization",
            "displayName": "example.com",
            "state": "ACTIVE",
            "location": "global",
        },
        {
            "name": "//cloudresourcemanager.googleapis.com/folders/123",
            "assetType": "cloudresourcemanager.googleapis.com/Folder",
            "displayName": "Team",
            "parentFullResourceName": "//cloudresourcemanager.googleapis.com/organizations/456",
            "parentAssetType": "cloudresourcemanager.googleapis.com/Organization",
            "state": "ACTIVE",
            "organization": "organizations/456",
        },
        {
            "name": "//cloudresourcemanager.googleapis.com/projects/team-app-1",
            "assetType": "cloudresourcemanager.googleapis.com/Project",
            "displayName": "App",
            "project": "projects/998877665544",
            "folders": ["folders/123"],
            "parentFullResourceName": "//cloudresourcemanager.googleapis.com/folders/123",
            "state": "DELETE_REQUESTED",
            "labels": {"env": "dev"},
        },
    ]
    nodes = _by_id(read_gcp_resource_manager([SourceText("s.json", json.dumps(results))]).records)
    assert nodes["team-app-1"].parent == "folders:123"
    assert nodes["team-app-1"].attrs["lifecycle_state"] == "DELETE_REQUESTED"
    assert nodes["folders:123"].parent == "organizations:456"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda p: p[1]["parent"].update(type="department"),
            "projects.json: $[1].parent: expected",
        ),
        (
            lambda p: p[2].update(lifecycleState="GONE"),
            "projects.json: $[2].lifecycleState: unknown",
        ),
        (lambda p: p[0].update(projectId="Bad_Id"), "projects.json: $[0].projectId: 'Bad_Id'"),
        (lambda p: p[0].pop("parent"), "'mod-billing-admin' has no parent"),
        (lambda p: p[1]["parent"].update(id="999"), "has parent 'folders:999', which is not"),
    ],
)
def test_gcp_bad_input_is_located(edit: object, expected: str) -> None:
    projects = json.loads((GCP / "projects.json").read_text())
    edit(projects)  # type: ignore[operator]
    sources = [*_sources(*_gcp_files()[:3]), SourceText("projects.json", json.dumps(projects))]
    with pytest.raises(InvalidInputError) as caught:
        read_gcp_resource_manager(sources)
    assert expected in str(caught.value)


def test_gcp_without_the_organization_says_which_command_to_add() -> None:
    with pytest.raises(InvalidInputError, match="gcloud organizations list --format=json"):
        read_gcp_resource_manager(_sources(*_gcp_files()[1:]))


# -- attribute overlay ----------------------------------------------------------------------


def test_overlay_yaml_and_csv_set_name_country_and_sector(tmp_path: Path) -> None:
    records = list(read_aws_organizations(_sources(AWS_CLI)).records)
    yaml_file = tmp_path / "attributes.yaml"
    yaml_file.write_text(
        "r-f7dn: {name: Ministry of Defence of Freedonia, country: XF, sector: defense}\n"
        "ou-f7dn-9900abcd: {sector: intelligence}\n"
    )
    csv_file = tmp_path / "attributes.csv"
    csv_file.write_text(
        "\ufeffid,name,country,sector\n"
        "r-f7dn,Ministry of Defence of Freedonia,XF,defense\n"
        "ou-f7dn-9900abcd,,,intelligence\n"
    )
    for path in (yaml_file, csv_file):
        nodes = _by_id(apply_attribute_overlay(records, read_attribute_overlay(path)))
        root = nodes["r-f7dn"]
        assert root.name == "Ministry of Defence of Freedonia"
        assert (root.attrs["country"], root.attrs["sector"]) == ("XF", "defense")
        assert root.attrs["organization_id"] == "o-a1b2c3d4e5"
        unit = nodes["ou-f7dn-9900abcd"]
        assert unit.name == "Signals Intelligence Unit 9900"
        assert unit.attrs["sector"] == "intelligence"
        assert "country" not in unit.attrs


def test_overlay_problems_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "a.csv"
    bad.write_text("id,country,sector,owner\n")
    with pytest.raises(InvalidInputError, match=re.escape("a.csv:1: unknown column 'owner'")):
        read_attribute_overlay(bad)
    bad.write_text("id,country\nr-f7dn,Freedonia\n")
    with pytest.raises(InvalidInputError, match=r"a.csv:2: country: String should match"):
        read_attribute_overlay(bad)
    unknown = tmp_path / "a.yaml"
    unknown.write_text("r-f7dn: {country: XF}\nr-typo: {country: XF}\n")
    records = list(read_aws_organizations(_sources(AWS_CLI)).records)
    with pytest.raises(InvalidInputError, match=re.escape("a.yaml:2: r-typo: 'r-typo' is not")):
        apply_attribute_overlay(records, read_attribute_overlay(unknown))
