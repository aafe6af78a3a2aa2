from __future__ import annotations

import json
from pathlib import Path

import pytest

from brightline.errors import InvalidInputError
from brightline.world import NodeRecord, build_directory
from brightline.world.importers import (
    aws_organizations_records,
    azure_management_group_records,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
AWS = FIXTURES / "aws" / "organization.json"
AWS_PARENTS = FIXTURES / "aws" / "organization-list-parents.json"
AZURE = FIXTURES / "azure" / "contoso-management-groups.json"


def _by_id(records: list[NodeRecord]) -> dict[str, NodeRecord]:
    return {r.id: r for r in records}


def test_aws_organization_maps_root_units_and_accounts() -> None:
    records = aws_organizations_records(AWS.read_text())
    nodes = _by_id(records)
    assert nodes["r-f7dn"].parent is None
    assert nodes["r-f7dn"].kind == "customer"
    assert nodes["r-f7dn"].attrs["organization_id"] == "o-a1b2c3d4e5"
    assert nodes["r-f7dn"].attrs["management_account_id"] == "111111111111"
    assert nodes["ou-f7dn-c011ect1"].parent == "ou-f7dn-9900abcd"
    assert nodes["ou-f7dn-c011ect1"].kind == "unit"
    account = nodes["555566667777"]
    assert account.kind == "subscription"
    assert account.parent == "ou-f7dn-c011ect1"
    assert account.name == "9900-ingest"
    assert account.attrs == {
        "provider": "aws",
        "aws_type": "account",
        "arn": "arn:aws:organizations::111111111111:account/o-a1b2c3d4e5/555566667777",
        "status": "ACTIVE",
        "joined_method": "CREATED",
        "tag:cost-center": "cc-9900",
        "tag:env": "prod",
    }
    assert nodes["888899990000"].attrs["status"] == "SUSPENDED"


def test_aws_email_addresses_are_not_imported() -> None:
    records = aws_organizations_records(AWS.read_text())
    assert "@" not in json.dumps([r.model_dump() for r in records])


def test_aws_records_come_parents_first_and_form_a_valid_tree() -> None:
    records = aws_organizations_records(AWS.read_text())
    seen: set[str] = set()
    for record in records:
        assert record.parent is None or record.parent in seen
        seen.add(record.id)
    directory = build_directory(enumerate(records, start=1))
    assert directory.roots() == ("r-f7dn",)
    assert directory.ancestors("555566667777") == (
        "555566667777",
        "ou-f7dn-c011ect1",
        "ou-f7dn-9900abcd",
        "r-f7dn",
    )


def test_aws_list_parents_and_by_parent_shapes_give_the_same_tree() -> None:
    flat = _by_id(aws_organizations_records(AWS.read_text()))
    other = _by_id(aws_organizations_records(AWS_PARENTS.read_text()))
    assert flat.keys() == other.keys()
    for node_id, record in flat.items():
        assert other[node_id].parent == record.parent
        assert other[node_id].kind == record.kind
    # Without describe-organization, the organization id still comes from the root's ARN.
    assert other["r-f7dn"].attrs["organization_id"] == "o-a1b2c3d4e5"
    assert other["555566667777"].attrs["tag:env"] == "prod"


def test_aws_id_prefix_applies_to_ids_and_parents() -> None:
    nodes = _by_id(aws_organizations_records(AWS.read_text(), id_prefix="aws:"))
    assert nodes["aws:222233334444"].parent == "aws:ou-f7dn-hq8x2k1a"
    assert nodes["aws:r-f7dn"].parent is None


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["Accounts"][1].update(Id="12345"), "is not an AWS account id"),
        (lambda d: d["OrganizationalUnits"][0].update(Id="unit-1"), "not an AWS organizational"),
        (lambda d: d["Accounts"][1].pop("ParentId"), "has no parent"),
        (lambda d: d.pop("Roots"), "no root"),
    ],
)
def test_aws_bad_input_names_the_problem(mutate: object, expected: str) -> None:
    data = json.loads(AWS.read_text())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(InvalidInputError) as caught:
        aws_organizations_records(json.dumps(data), name="org.json")
    assert expected in str(caught.value)
    assert "org.json: $." in str(caught.value) or "no root" in str(caught.value)


def test_aws_malformed_json_names_the_line() -> None:
    with pytest.raises(InvalidInputError, match=r"org.json:2: malformed JSON"):
        aws_organizations_records('{\n "Roots": [,]}', name="org.json")


def test_azure_tree_maps_groups_and_subscriptions() -> None:
    records = azure_management_group_records(AZURE.read_text())
    nodes = _by_id(records)
    top = nodes["contoso"]
    assert top.parent is None
    assert top.kind == "customer"
    assert top.name == "Contoso"
    assert top.attrs == {
        "provider": "azure",
        "azure_type": "management-group",
        "azure_id": "/providers/Microsoft.Management/managementGroups/contoso",
        "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "azure_parent": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    }
    assert nodes["contoso-corp"].kind == "unit"
    assert nodes["contoso-corp"].parent == "contoso-landingzones"
    sub = nodes["0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"]
    assert sub.kind == "subscription"
    assert sub.parent == "contoso-corp"
    assert sub.name == "Call analytics (prod)"
    assert sub.attrs["azure_type"] == "subscription"
    # The older "/subscriptions" type is a subscription too.
    assert nodes["7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"].kind == "subscription"
    assert nodes["contoso-online"].kind == "unit"
    directory = build_directory(enumerate(records, start=1))
    assert directory.roots() == ("contoso",)
    assert len(directory) == 8


def test_azure_accepts_the_older_child_type_spelling() -> None:
    data = {
        "id": "/providers/Microsoft.Management/managementGroups/root",
        "name": "root",
        "displayName": "Root",
        "type": "/providers/Microsoft.Management/managementGroups",
        "children": [
            {
                "childId": "/subscriptions/11111111-2222-4333-8444-555555555555",
                "childType": "Subscription",
                "displayName": "Legacy",
            }
        ],
    }
    data["type"] = "Microsoft.Management/managementGroups"
    nodes = _by_id(azure_management_group_records(json.dumps(data)))
    assert nodes["11111111-2222-4333-8444-555555555555"].parent == "root"


def test_azure_bad_input_names_every_problem() -> None:
    data = json.loads(AZURE.read_text())
    data["children"][0]["children"][0]["type"] = "Microsoft.Compute/virtualMachines"
    data["children"][1]["name"] = "landing zones (bad)"
    with pytest.raises(InvalidInputError) as caught:
        azure_management_group_records(json.dumps(data), name="mg.json")
    problems = [str(p) for p in caught.value.problems]
    assert any("children[0].children[0]" in p and "unknown child type" in p for p in problems)
    assert any("cannot be a node" in p for p in problems)


def test_azure_top_level_must_be_a_management_group() -> None:
    with pytest.raises(InvalidInputError, match="must be a management group"):
        azure_management_group_records(json.dumps({"name": "x", "type": "/subscriptions"}))
