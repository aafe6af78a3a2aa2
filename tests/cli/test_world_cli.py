"""`brightline world import` from cloud CLI outputs: several files, the overlay, the guard."""

from __future__ import annotations

import json
from pathlib import Path

from cli.people import ADMIN, People, words

FIXTURES = Path(__file__).parents[1] / "fixtures"
EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


def test_aws_cli_outputs_directory_with_attributes(people: People, tmp_path: Path) -> None:
    overlay = tmp_path / "attributes.csv"
    overlay.write_text("id,name,country,sector\nr-f7dn,Ministry of Defence,XF,defense\n")
    out = people.invoke(
        "world",
        "import",
        str(FIXTURES / "aws" / "cli"),
        "--from",
        "aws-organizations",
        "--attributes",
        str(overlay),
        "--json",
        by=ADMIN,
    )
    result = json.loads(out)
    assert result["counts"]["added_nodes"] == 8
    added = {n["id"]: n for n in result["diff"]["nodes"]["added"]}
    assert added["r-f7dn"]["name"] == "Ministry of Defence"


def test_gcp_files_are_imported(people: People) -> None:
    gcp = FIXTURES / "gcp"
    files = [
        "organizations.json",
        "folders-organization.json",
        "folders-730019283746.json",
        "projects.json",
    ]
    out = people.invoke(
        "world",
        "import",
        *(str(gcp / f) for f in files),
        "--from",
        "gcp-resource-manager",
        by=ADMIN,
    )
    assert "u9900-ingest" in out
    assert "pending deletion" in words(out)
    assert "imported as world version 1" in words(out)


def test_large_removals_exit_4_until_allowed(people: People, tmp_path: Path) -> None:
    azure = FIXTURES / "azure" / "contoso-management-groups.json"
    people.invoke("world", "import", str(azure), "--from", "azure-management-groups", by=ADMIN)
    data = json.loads(azure.read_text())
    data["children"] = data["children"][:1]
    smaller = tmp_path / "mg.json"
    smaller.write_text(json.dumps(data))
    args = ["world", "import", str(smaller), "--from", "azure-management-groups"]
    refused = words(people.invoke(*args, by=ADMIN, code=4))
    assert "4 of 8 nodes (50%) of customer 'contoso'" in refused
    assert "--allow-removals" in refused
    loose = people.invoke(*args, "--removal-limit", "60", by=ADMIN)
    assert "-4" in loose


def test_azure_without_children_exits_2_naming_expand_recurse(people: People) -> None:
    bare = FIXTURES / "azure" / "contoso-show-without-expand.json"
    out = people.invoke(
        "world", "import", str(bare), "--from", "azure-management-groups", by=ADMIN, code=2
    )
    assert "--expand --recurse" in words(out)


def test_world_import_takes_one_directory(people: People) -> None:
    out = people.invoke("world", "import", str(EXAMPLE), str(EXAMPLE), by=ADMIN, code=2)
    assert "one world directory" in words(out)
