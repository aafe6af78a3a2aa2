"""The console's indexes find what a scan finds: the tree search the same nodes, in
the same order, up to the same limit; a node page the same restrictions."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.service.console import node_page, search_nodes
from brightline.service.console_index import TreeIndex, tree_index
from brightline.world import Catalog, Directory, Node, World
from worldgen import TIMES, Scenario, scenarios

#: Letters whose casefold changes length or meets another (ß → ss, İ → i̇, ﬁ → fi), and
#: the index's separator.
ALPHABET = st.sampled_from(["a", "B", "s", "S", "ß", "İ", "i", "ﬁ", "f", "-", " ", "\0", "7"])


def reference(directory: Directory, query: str, limit: int) -> list[str]:
    needle = query.casefold()
    found = []
    for node in directory:
        if needle in node.id.casefold() or needle in node.name.casefold():
            found.append(node.id)
            if len(found) >= limit:
                break
    return found


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    count = draw(st.integers(1, 30))
    nodes = {}
    for i in range(count):
        parent = f"n{draw(st.integers(0, i - 1))}" if i and draw(st.booleans()) else None
        name = draw(st.text(ALPHABET, max_size=8))
        nodes[f"n{i}"] = Node(id=f"n{i}", parent=parent, kind="unit", name=name)
    return Directory(nodes)


@settings(max_examples=300, deadline=None)
@given(directories(), st.text(ALPHABET, min_size=1, max_size=3), st.integers(1, 8))
def test_the_index_finds_what_a_scan_finds(directory: Directory, query: str, limit: int) -> None:
    ids = directory.ids
    found = [ids[i] for i in TreeIndex(directory).search(query, limit=limit)]
    assert found == reference(directory, query, limit)


def test_an_id_is_found_by_any_part_and_in_any_case() -> None:
    nodes = {
        "cust-1": Node(id="cust-1", parent=None, kind="customer", name="Straße AG"),
        "cust-1-sub": Node(id="cust-1-sub", parent="cust-1", kind="subscription", name="Mail"),
    }
    world = World(Directory(nodes), Catalog(services={}, regions={}))
    assert [n["id"] for n in search_nodes(world, "CUST-1")] == ["cust-1", "cust-1-sub"]
    assert [n["id"] for n in search_nodes(world, "strasse")] == ["cust-1"]
    assert [n["id"] for n in search_nodes(world, "1-s")] == ["cust-1-sub"]
    assert search_nodes(world, "nothing") == []


def test_the_index_is_kept_for_the_world_in_force_and_rebuilt_for_another() -> None:
    one = Directory({"a": Node(id="a", parent=None, kind="customer", name="A")})
    two = Directory({"b": Node(id="b", parent=None, kind="customer", name="B")})
    first = tree_index(one)
    assert tree_index(one) is first
    assert tree_index(two) is not first
    assert [two.ids[i] for i in tree_index(two).search("b", limit=5)] == ["b"]


@settings(max_examples=150, deadline=None)
@given(scenarios(max_restrictions=6), st.sampled_from(TIMES))
def test_a_node_page_lists_the_restrictions_a_scan_finds(scenario: Scenario, now: datetime) -> None:
    snapshot = scenario.snapshot()
    directory = scenario.world.directory
    for node in directory.ids:
        lineage = set(directory.ancestors(node))
        expected = [r.id for r in snapshot.restrictions if r.scope in lineage and r.in_window(now)]
        page = node_page(snapshot, node, now=now)
        assert [r["id"] for r in page.restrictions] == expected
