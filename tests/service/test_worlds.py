"""World import (with diffs and refusals), cloud imports and export, on both databases."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from brightline.config import Settings
from brightline.errors import ConflictError, InvalidInputError
from brightline.service import (
    CloudHierarchy,
    RemovalGuard,
    approve_restriction,
    current_world,
    export_world,
    import_hierarchy,
    import_world,
    propose_restrictions,
    reject_restriction,
)
from brightline.store import LoadedWorlds, Store, open_store, read_outbox, world_versions
from principals import NO_TELEMETRY
from service.store_scenarios import ALICE, BOB, EXAMPLE, SETUP, T0, at, restriction_yaml

FIXTURES = Path(__file__).parents[1] / "fixtures"
AWS = FIXTURES / "aws" / "organization.json"
AZURE = FIXTURES / "azure" / "contoso-management-groups.json"


def _copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "world"
    shutil.copytree(EXAMPLE, target)
    return target


def _rewrite_nodes(world_dir: Path, edit: object) -> None:
    path = world_dir / "directory.jsonl"
    nodes = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    nodes = edit(nodes)  # type: ignore[operator]
    path.write_text("".join(json.dumps(n) + "\n" for n in nodes))


def test_first_import_adds_everything_and_records_a_version(store: Store) -> None:
    result = import_world(store, EXAMPLE, actor=SETUP, now=T0)
    assert result.version == 1
    assert len(result.diff.added_nodes) == 20
    assert len(result.diff.added_services) == 11
    assert len(result.diff.added_regions) == 6
    assert any("restrictions.yaml is not imported" in n for n in result.notes)
    with store.read() as session:
        [entry] = read_outbox(session)
    assert entry.event_type == "world.imported"
    assert entry.data()["version"] == 1


def test_reimport_reports_added_changed_moved_removed(world_store: Store, tmp_path: Path) -> None:
    world_dir = _copy_example(tmp_path)

    def edit(nodes: list[dict[str, object]]) -> list[dict[str, object]]:
        out = [n for n in nodes if n["id"] != "sub-meteo-models"]
        for node in out:
            if node["id"] == "sub-hq-payroll":
                node["parent"] = "mod-medical"
            if node["id"] == "mod-hq":
                node["name"] = "General Staff"
        out.append({"id": "sub-new", "parent": "meteo", "kind": "subscription", "name": "New"})
        return out

    _rewrite_nodes(world_dir, edit)
    (world_dir / "catalog.yaml").write_text(
        (world_dir / "catalog.yaml")
        .read_text()
        .replace(
            "{id: net.egress,      operations: [transfer],",
            "{id: net.egress, operations: [transfer, peer],",
        )
    )
    allow = RemovalGuard(allow_removals_unsafe=True)  # 1 of meteo's 2 nodes
    result = import_world(world_store, world_dir, actor=SETUP, now=at(1), guard=allow)
    diff = result.diff
    assert [n.id for n in diff.added_nodes] == ["sub-new"]
    assert [n.id for n in diff.removed_nodes] == ["sub-meteo-models"]
    assert [c.id for c in diff.moved_nodes] == ["sub-hq-payroll"]
    assert [c.id for c in diff.changed_nodes] == ["mod-hq"]
    assert [c.id for c in diff.changed_services] == ["net.egress"]
    assert result.version == 2
    assert current_world(world_store).world.directory["sub-hq-payroll"].parent == "mod-medical"


def test_dry_run_prints_the_diff_and_writes_nothing(world_store: Store, tmp_path: Path) -> None:
    world_dir = _copy_example(tmp_path)
    _rewrite_nodes(world_dir, lambda nodes: [n for n in nodes if n["id"] != "sub-meteo-models"])
    result = import_world(world_store, world_dir, dry_run=True, actor=SETUP, now=at(1))
    assert [n.id for n in result.diff.removed_nodes] == ["sub-meteo-models"]
    assert result.version is None
    with world_store.read() as session:
        assert len(world_versions(session)) == 1
    assert "sub-meteo-models" in current_world(world_store).world.directory


def test_unchanged_import_writes_no_version(world_store: Store) -> None:
    result = import_world(world_store, EXAMPLE, actor=SETUP, now=at(1))
    assert result.diff.empty
    assert result.version is None


def test_removing_a_node_an_active_restriction_names_is_refused(
    world_store: Store, tmp_path: Path
) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    world_dir = _copy_example(tmp_path)
    _rewrite_nodes(world_dir, lambda nodes: [n for n in nodes if n["id"] != "sub-9900-rescue"])
    for dry_run in (True, False):
        with pytest.raises(ConflictError, match=r"r-1 \(in-force\).*sub-9900-rescue"):
            import_world(world_store, world_dir, dry_run=dry_run, actor=SETUP, now=at(3))
    assert "sub-9900-rescue" in current_world(world_store).world.directory


def test_a_closed_restriction_does_not_hold_its_nodes(world_store: Store, tmp_path: Path) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    reject_restriction(world_store, "r-1", actor=BOB, why="no", now=at(2))
    world_dir = _copy_example(tmp_path)
    _rewrite_nodes(world_dir, lambda nodes: [n for n in nodes if n["id"] != "sub-9900-rescue"])
    assert import_world(world_store, world_dir, actor=SETUP, now=at(3)).version == 2


def test_malformed_world_is_refused_with_every_problem(world_store: Store, tmp_path: Path) -> None:
    world_dir = _copy_example(tmp_path)
    with (world_dir / "directory.jsonl").open("a") as handle:
        handle.write('{"id": "orphan", "parent": "ghost", "kind": "unit"}\nnot json\n')
    with pytest.raises(InvalidInputError) as caught:
        import_world(world_store, world_dir, actor=SETUP, now=at(1))
    text = str(caught.value)
    assert "malformed JSON" in text
    with world_store.read() as session:
        assert len(world_versions(session)) == 1


def test_import_export_import_is_lossless(world_store: Store, tmp_path: Path) -> None:
    import_hierarchy(world_store, CloudHierarchy.AWS_ORGANIZATIONS, [AWS], actor=SETUP, now=at(1))
    before = current_world(world_store)
    export_world(world_store, tmp_path / "out", now=at(2))
    again = import_world(world_store, tmp_path / "out", actor=SETUP, now=at(3))
    assert again.diff.empty
    assert again.version is None
    after = current_world(world_store)
    assert after.digest == before.digest
    assert list(after.world.directory) == list(before.world.directory)


def test_export_includes_the_restrictions_in_force(world_store: Store, tmp_path: Path) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    result = export_world(world_store, tmp_path / "out", now=at(3))
    assert result.restrictions == 1
    from brightline.service.offline import load_world_dir

    loaded = load_world_dir(tmp_path / "out")
    assert [r.id for r in loaded.restrictions] == ["r-1"]


def test_aws_import_adds_its_tree_and_keeps_the_other_customers(world_store: Store) -> None:
    result = import_hierarchy(
        world_store, CloudHierarchy.AWS_ORGANIZATIONS, [AWS], actor=SETUP, now=at(1)
    )
    assert {n.id for n in result.diff.added_nodes} >= {"r-f7dn", "555566667777"}
    assert not result.diff.removed_nodes
    world = current_world(world_store).world
    assert "acme-voice" in world.directory
    assert "storage.blob" in world.catalog.services  # the catalog stays
    assert world.directory.root("555566667777") == "r-f7dn"


def test_aws_reimport_reports_moves_and_removals_within_its_tree(
    world_store: Store, tmp_path: Path
) -> None:
    import_hierarchy(world_store, CloudHierarchy.AWS_ORGANIZATIONS, [AWS], actor=SETUP, now=at(1))
    data = json.loads(AWS.read_text())
    data["Accounts"] = [a for a in data["Accounts"] if a["Id"] != "222233334444"]
    for account in data["Accounts"]:
        if account["Id"] == "888899990000":
            account["ParentId"] = "ou-f7dn-c011ect1"
    changed = tmp_path / "org.json"
    changed.write_text(json.dumps(data))
    result = import_hierarchy(
        world_store,
        CloudHierarchy.AWS_ORGANIZATIONS,
        [changed],
        actor=SETUP,
        now=at(2),
        guard=RemovalGuard(limit=0.2),  # 1 of the organization's 8 nodes
    )
    assert [n.id for n in result.diff.removed_nodes] == ["222233334444"]
    assert [c.id for c in result.diff.moved_nodes] == ["888899990000"]
    assert "sub-acme-calls" in current_world(world_store).world.directory


def test_restriction_on_an_aws_ou_blocks_its_removal(world_store: Store, tmp_path: Path) -> None:
    import_hierarchy(world_store, CloudHierarchy.AWS_ORGANIZATIONS, [AWS], actor=SETUP, now=at(1))
    text = 'id: r-aws\nscope: ou-f7dn-9900abcd\nactions: ["ai.speech:*"]\n'
    propose_restrictions(world_store, text, name="r.yaml", actor=ALICE, now=at(2))
    data = json.loads(AWS.read_text())
    data["OrganizationalUnits"] = [
        u for u in data["OrganizationalUnits"] if u["Id"] == "ou-f7dn-hq8x2k1a"
    ]
    data["Accounts"] = [a for a in data["Accounts"] if a["Id"] in ("111111111111", "222233334444")]
    smaller = tmp_path / "org.json"
    smaller.write_text(json.dumps(data))
    with pytest.raises(ConflictError, match=r"r-aws \(proposed\)"):
        import_hierarchy(
            world_store, CloudHierarchy.AWS_ORGANIZATIONS, [smaller], actor=SETUP, now=at(3)
        )


def test_azure_import_with_its_own_catalog(store: Store, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "services:\n  - {id: Microsoft.Storage, operations: [read, write]}\n"
        "regions:\n  - {id: westeurope, country: NL}\n"
    )
    result = import_hierarchy(
        store, CloudHierarchy.AZURE_MANAGEMENT_GROUPS, [AZURE], catalog=catalog, actor=SETUP, now=T0
    )
    assert len(result.diff.added_nodes) == 8
    assert [s.id for s in result.diff.added_services] == ["Microsoft.Storage"]
    world = current_world(store).world
    assert world.directory["0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"].parent == "contoso-corp"


# -- the removal guard, the overlay and Google Cloud (issue 17) ------------------------------

AZURE_REST = FIXTURES / "azure" / "contoso-rest.json"
GCP = FIXTURES / "gcp"
GCP_LISTS = [
    GCP / "organizations.json",
    GCP / "folders-organization.json",
    GCP / "folders-730019283746.json",
    GCP / "projects.json",
]


def _emptied_azure(tmp_path: Path) -> Path:
    data = json.loads(AZURE.read_text())
    data["children"] = []
    path = tmp_path / "mg.json"
    path.write_text(json.dumps(data))
    return path


def test_removing_most_of_a_customer_is_refused_and_changes_nothing(
    world_store: Store, tmp_path: Path
) -> None:
    azure = CloudHierarchy.AZURE_MANAGEMENT_GROUPS
    import_hierarchy(world_store, azure, [AZURE], actor=SETUP, now=at(1))
    before = current_world(world_store)
    emptied = _emptied_azure(tmp_path)
    with pytest.raises(ConflictError) as caught:
        import_hierarchy(world_store, azure, [emptied], actor=SETUP, now=at(2))
    message = str(caught.value)
    assert "7 of 8 nodes (88%) of customer 'contoso'" in message
    assert "limit of 10%" in message
    assert "--allow-removals" in message
    assert current_world(world_store).digest == before.digest
    with world_store.read() as session:
        assert len(world_versions(session)) == 2
    dry = import_hierarchy(world_store, azure, [emptied], actor=SETUP, now=at(2), dry_run=True)
    assert len(dry.diff.removed_nodes) == 7
    assert any("refused without --allow-removals" in note for note in dry.notes)


def test_allowed_removals_are_recorded_in_the_ledger_entry(
    world_store: Store, tmp_path: Path
) -> None:
    azure = CloudHierarchy.AZURE_MANAGEMENT_GROUPS
    import_hierarchy(world_store, azure, [AZURE], actor=SETUP, now=at(1))
    allow = RemovalGuard(allow_removals_unsafe=True)
    result = import_hierarchy(
        world_store, azure, [_emptied_azure(tmp_path)], actor=SETUP, now=at(2), guard=allow
    )
    assert result.version == 3
    assert any("removals allowed" in note for note in result.notes)
    with world_store.read() as session:
        entry = read_outbox(session)[-1]
    assert entry.event_type == "world.imported"
    # The entry's record counts the removals (its actor allowed them); the store audit
    # derives it from the world version's row, so it holds nothing else.
    assert entry.data()["counts"]["removed_nodes"] == 7


def test_the_limit_is_configurable_and_applies_to_world_directories(
    world_store: Store, tmp_path: Path
) -> None:
    world_dir = _copy_example(tmp_path)
    _rewrite_nodes(world_dir, lambda nodes: [n for n in nodes if n["id"] != "sub-meteo-models"])
    with pytest.raises(ConflictError, match=r"1 of 2 nodes \(50%\) of customer 'meteo'"):
        import_world(world_store, world_dir, actor=SETUP, now=at(1))
    loose = RemovalGuard(limit=0.5)
    assert import_world(world_store, world_dir, actor=SETUP, now=at(1), guard=loose).version == 2


def test_a_whole_customer_missing_from_a_world_directory_is_refused(
    world_store: Store, tmp_path: Path
) -> None:
    world_dir = _copy_example(tmp_path)
    _rewrite_nodes(world_dir, lambda nodes: [n for n in nodes if "meteo" not in n["id"]])
    with pytest.raises(ConflictError, match=r"2 of 2 nodes \(100%\) of customer 'meteo'"):
        import_world(world_store, world_dir, actor=SETUP, now=at(1))


def test_gcp_import_with_attributes_keeps_country_and_sector_on_reimport(
    world_store: Store, tmp_path: Path
) -> None:
    gcp = CloudHierarchy.GCP_RESOURCE_MANAGER
    overlay = tmp_path / "attributes.yaml"
    overlay.write_text(
        "organizations:284613049182: {name: Ministry of Defence, country: XF, sector: defense}\n"
    )
    first = import_hierarchy(
        world_store, gcp, GCP_LISTS, attributes=overlay, actor=SETUP, now=at(1)
    )
    assert len(first.diff.added_nodes) == 9
    assert not any("without country or sector" in note for note in first.notes)
    assert any("pending deletion" in note for note in first.notes)
    org = current_world(world_store).world.directory["organizations:284613049182"]
    assert (org.name, org.attrs["country"], org.attrs["sector"]) == (
        "Ministry of Defence",
        "XF",
        "defense",
    )
    # The same hierarchy from an asset export, without the overlay: country and sector stay.
    again = import_hierarchy(world_store, gcp, [GCP / "asset-export.jsonl"], actor=SETUP, now=at(2))
    assert not again.diff.removed_nodes
    org = current_world(world_store).world.directory["organizations:284613049182"]
    assert (org.attrs["country"], org.attrs["sector"]) == ("XF", "defense")


def test_cloud_import_without_country_says_so(world_store: Store) -> None:
    result = import_hierarchy(
        world_store, CloudHierarchy.AZURE_MANAGEMENT_GROUPS, [AZURE_REST], actor=SETUP, now=at(1)
    )
    assert any(
        "customers without country or sector" in note and "contoso" in note for note in result.notes
    )


def test_cloud_import_errors_name_the_users_file(world_store: Store, tmp_path: Path) -> None:
    data = json.loads(AWS.read_text())
    data["Accounts"][1]["ParentId"] = "ou-f7dn-missing1"
    path = tmp_path / "org.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidInputError) as caught:
        import_hierarchy(
            world_store, CloudHierarchy.AWS_ORGANIZATIONS, [path], actor=SETUP, now=at(1)
        )
    assert [str(p) for p in caught.value.problems] == [
        "org.json: $.Accounts[1]: '222233334444' has parent 'ou-f7dn-missing1', "
        "which is not in the input"
    ]


def test_azure_export_without_children_changes_nothing(world_store: Store) -> None:
    azure = CloudHierarchy.AZURE_MANAGEMENT_GROUPS
    import_hierarchy(world_store, azure, [AZURE], actor=SETUP, now=at(1))
    without = FIXTURES / "azure" / "contoso-show-without-expand.json"
    with pytest.raises(InvalidInputError, match="--expand --recurse"):
        import_hierarchy(world_store, azure, [without], actor=SETUP, now=at(2))
    assert len(list(current_world(world_store).world.directory.subtree("contoso"))) == 8


def test_loaded_worlds_are_kept_per_version_and_digest(
    store: Store, tmp_path: Path, sqlite_template: Path
) -> None:
    """A world version is loaded once; a recreated database whose version 1 is another
    world (another digest) is loaded afresh, never served from what was kept."""
    import_world(store, EXAMPLE, actor=SETUP, now=T0)
    worlds = LoadedWorlds()
    with store.read() as session:
        first = worlds.latest(session)
        assert first is not None
        assert worlds.by_version(session, 1) is first  # kept, not loaded again
        assert worlds.latest(session, at=at(-1)) is None  # nothing imported by then
    world_dir = _copy_example(tmp_path)
    _rewrite_nodes(world_dir, lambda nodes: [{**n, "name": n["name"] + " (new)"} for n in nodes])
    recreated = tmp_path / "recreated.db"
    shutil.copyfile(sqlite_template, recreated)
    settings = Settings(database_url=SecretStr(f"sqlite:///{recreated}"), data_dir=tmp_path / "d")
    with open_store(settings, migrate=False) as other:
        import_world(other, world_dir, actor=SETUP, now=T0)
        with other.read() as session:
            again = worlds.by_version(session, 1)
    assert again is not None
    assert again.version == first.version == 1
    assert again.digest != first.digest
    assert again.world.directory["sub-hq-mail"].name.endswith(" (new)")
    assert not first.world.directory["sub-hq-mail"].name.endswith(" (new)")
