from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from brightline.errors import InvalidInputError
from brightline.world import load_world

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"

CATALOG = """\
services:
  - {id: storage.blob, operations: [read, write], tags: [object-storage]}
  - {id: ai.speech, operations: [transcribe]}
regions:
  - {id: westeurope, country: NL}
"""


def make_world(tmp_path: Path, nodes: list[dict | str], catalog: str = CATALOG) -> Path:
    lines = [n if isinstance(n, str) else json.dumps(n) for n in nodes]
    (tmp_path / "directory.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "catalog.yaml").write_text(catalog)
    return tmp_path


def node(id: str, parent: str | None = None, kind: str = "unit") -> dict:
    return {"id": id, "parent": parent, "kind": kind, "name": id}


def problems(path: Path) -> list[str]:
    with pytest.raises(InvalidInputError) as info:
        load_world(path)
    return [str(p) for p in info.value.problems]


def test_example_world_loads() -> None:
    world = load_world(EXAMPLE)
    directory = world.directory
    assert directory.roots() == ("acme-voice", "meteo", "mod-freedonia", "northwind")
    assert directory.ancestors("sub-9900-ingest") == (
        "sub-9900-ingest",
        "unit-9900-collection",
        "unit-9900",
        "mod-freedonia",
    )
    assert directory.depth("mod-freedonia") == 0
    assert directory["unit-9900"].attrs["sector"] == "intelligence"
    assert world.catalog.services_matching("storage.*") == (
        "storage.archive",
        "storage.blob",
        "storage.files",
    )
    assert world.catalog.regions["westeurope"].country == "NL"


def test_prefix_does_not_match_lookalike_ids(tmp_path: Path) -> None:
    catalog = CATALOG.replace("ai.speech", "ai").replace(
        "regions:", "  - {id: ai.x, operations: [a]}\nregions:"
    )
    world = load_world(make_world(tmp_path, [node("c", kind="customer")], catalog))
    assert world.catalog.services_matching("ai.*") == ("ai.x",)


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    found = problems(make_world(tmp_path, [node("c"), "{not json", node("d", "c")]))
    assert found == [
        "directory.jsonl:2: malformed JSON: "
        "Expecting property name enclosed in double quotes (column 2)"
    ]


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    found = problems(
        make_world(
            tmp_path,
            [
                node("c", kind="customer"),
                node("c"),  # duplicate
                node("orphan", "ghost"),  # unknown parent
                node("x", "y"),
                node("y", "x"),  # cycle x <-> y
                node("below", "x"),  # no path to a root
                node("bad id!", "c"),  # invalid characters
                {"id": "z", "kind": "unit", "colour": "red"},  # unknown field
            ],
        )
    )
    text = "\n".join(found)
    assert "directory.jsonl:2: duplicate node id 'c' (first defined on line 1)" in text
    assert "directory.jsonl:3: node 'orphan' has unknown parent 'ghost'" in text
    assert "directory.jsonl:4: node 'x' is in a cycle: x → y → x" in text
    assert "directory.jsonl:5: node 'y' is in a cycle" in text
    assert "directory.jsonl:6: node 'below' has no path to a root" in text
    assert "directory.jsonl:7: id: String should match pattern" in text
    assert "directory.jsonl:8: colour: unknown field" in text


def test_self_parent_is_a_cycle(tmp_path: Path) -> None:
    assert problems(make_world(tmp_path, [node("a", "a")])) == [
        "directory.jsonl:1: node 'a' is in a cycle: a → a"
    ]


def test_catalog_errors_name_yaml_line_and_path(tmp_path: Path) -> None:
    catalog = """\
services:
  - {id: storage.blob, operations: [read, read], tags: [object-storage]}
  - {id: storage.blob, operations: [write]}
  - {id: "ai:speech", operations: [x]}
  - {id: ai.vision, operations: [x], tags: [spying]}
regions:
  - {id: westeurope, country: NL}
  - {id: westeurope, country: nl}
"""
    found = problems(make_world(tmp_path, [node("c")], catalog))
    text = "\n".join(found)
    assert "catalog.yaml:4: services[2].id: String should match pattern" in text
    assert "catalog.yaml:8: regions[1].country: String should match pattern" in text


def test_catalog_duplicates(tmp_path: Path) -> None:
    catalog = """\
services:
  - {id: storage.blob, operations: [read, read], tags: [object-storage]}
  - {id: storage.blob, operations: [write]}
  - {id: ai.vision, operations: [x], tags: [spying]}
regions:
  - {id: westeurope, country: NL}
  - {id: westeurope, country: IE}
"""
    text = "\n".join(problems(make_world(tmp_path, [node("c")], catalog)))
    assert "catalog.yaml:2: services[0].operations[1]: duplicate operation 'read'" in text
    assert "catalog.yaml:3: services[1].id: duplicate service 'storage.blob'" in text
    assert "catalog.yaml:4: services[2].tags[0]: unknown tag 'spying'" in text
    assert "catalog.yaml:7: regions[1].id: duplicate region 'westeurope'" in text


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    found = problems(
        make_world(tmp_path, [node("c")], "services:\n  - {id: a, operations: [x]\nregions: []\n")
    )
    assert len(found) == 1
    assert found[0].startswith("catalog.yaml:3: malformed YAML")


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    found = problems(make_world(tmp_path, [node("c")], "services: []\nservices: []\nregions: []\n"))
    assert found == ["catalog.yaml:2: services: duplicate key 'services'"]


def test_missing_files_are_named(tmp_path: Path) -> None:
    found = problems(tmp_path)
    assert any("directory.jsonl: file not found" in p for p in found)
    assert any("catalog.yaml: file not found" in p for p in found)


def test_deep_trees_load(tmp_path: Path) -> None:
    nodes = [node("n0", kind="customer")] + [node(f"n{i}", f"n{i - 1}") for i in range(1, 5000)]
    world = load_world(make_world(tmp_path, nodes))
    assert world.directory.depth("n4999") == 4999


def test_world_files_may_list_children_before_parents(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE / "catalog.yaml", tmp_path / "catalog.yaml")
    lines = (EXAMPLE / "directory.jsonl").read_text().splitlines()
    (tmp_path / "directory.jsonl").write_text("\n".join(reversed(lines)))
    assert len(load_world(tmp_path).directory) == len(lines)


def test_yaml_aliases_of_collections_are_refused_quickly() -> None:
    """A few hundred bytes of nested aliases would otherwise expand exponentially."""
    import time

    from brightline.errors import InvalidInputError
    from brightline.world.sources import parse_yaml

    text = "a0: &a0 [" + ",".join(["x"] * 10) + "]\n"
    text += "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9))
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match="aliases"):
        parse_yaml(text, name="bomb.yaml")
    assert time.monotonic() - started < 5
    assert parse_yaml("a: &one 1\nb: *one\n", name="scalars.yaml").data == {"a": 1, "b": 1}


@pytest.mark.parametrize("opening", ["[", "{a: ", "- "])
def test_yaml_nested_twenty_thousand_deep_is_refused_naming_the_file(opening: str) -> None:
    from brightline.world.sources import parse_yaml

    with pytest.raises(InvalidInputError) as caught:
        parse_yaml(opening * 20_000 + "x", name="restrictions.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "restrictions.yaml:1: nested deeper than 64 levels"
    ]


def test_yaml_may_nest_64_levels_and_no_more() -> None:
    from brightline.world.sources import parse_yaml

    assert parse_yaml("[" * 64 + "x" + "]" * 64, name="ok.yaml").data is not None
    block = "".join(" " * i + "k:\n" for i in range(65))
    with pytest.raises(InvalidInputError, match=r"^deep.yaml:65: nested deeper than 64"):
        parse_yaml(block, name="deep.yaml")


def test_deep_or_huge_directory_lines_are_named_with_the_rest(tmp_path: Path) -> None:
    from brightline.limits import MAX_JSON_LINE_BYTES

    huge = json.dumps({**node("h"), "attrs": {"note": "x" * MAX_JSON_LINE_BYTES}})
    found = problems(make_world(tmp_path, [node("c", kind="customer"), "[" * 20_000, huge, "{"]))
    assert found[:2] == [
        "directory.jsonl:2: nested deeper than 64 levels",
        f"directory.jsonl:3: over {MAX_JSON_LINE_BYTES} characters",
    ]
    assert found[2].startswith("directory.jsonl:4: malformed JSON")
