"""The columnar Directory answers as the plain reading of its nodes does, and the
snapshot's candidates are the restrictions that cover a node, less those exempting it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Mapping
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.policy import Snapshot
from brightline.world import Directory, Node, World
from worldgen import Scenario, scenarios, worlds


def reference_ancestors(nodes: Mapping[str, Node], node_id: str) -> tuple[str, ...]:
    chain: list[str] = []
    current: str | None = node_id
    while current is not None:
        chain.append(current)
        current = nodes[current].parent
    return tuple(chain)


def reference_subtree(nodes: Mapping[str, Node], node_id: str) -> list[str]:
    out = [node_id]
    for child in sorted(n.id for n in nodes.values() if n.parent == node_id):
        out.extend(reference_subtree(nodes, child))
    return out


@settings(max_examples=100, deadline=None)
@given(world=worlds(max_nodes=30), data=st.data())
def test_directory_answers_as_its_nodes_say(world: World, data: st.DataObject) -> None:
    given_nodes = {n.id: n for n in world.directory}
    # Shuffled: the order given is kept for iteration, id order everywhere else.
    order = data.draw(st.permutations(sorted(given_nodes)))
    directory = Directory({i: given_nodes[i] for i in order})
    assert [n.id for n in directory] == list(order)
    assert list(directory.nodes) == list(order)
    assert dict(directory.nodes) == given_nodes
    assert len(directory) == len(given_nodes)
    assert directory.get("nope") is None
    assert "nope" not in directory
    assert directory.roots() == tuple(sorted(i for i, n in given_nodes.items() if n.parent is None))
    for node_id, node in given_nodes.items():
        assert directory[node_id] == node == directory.get(node_id)
        ancestors = reference_ancestors(given_nodes, node_id)
        assert directory.ancestors(node_id) == ancestors
        assert directory.root(node_id) == ancestors[-1]
        assert directory.depth(node_id) == len(ancestors) - 1
        assert directory.children(node_id) == tuple(
            sorted(i for i, n in given_nodes.items() if n.parent == node_id)
        )
        assert list(directory.subtree(node_id)) == reference_subtree(given_nodes, node_id)
        for other in given_nodes:
            assert directory.is_within(node_id, other) == (other in ancestors)
        assert not directory.is_within(node_id, "nope")


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(max_restrictions=8, n_requests=1))
def test_candidates_cover_a_node_less_its_exemptions(scenario: Scenario) -> None:
    snapshot = Snapshot(scenario.world, scenario.restrictions)
    directory = scenario.world.directory
    for node in directory:
        expected = [
            r.id
            for r in snapshot.restrictions
            if directory.is_within(node.id, r.scope)
            and not any(directory.is_within(node.id, e) for e in r.exempt)
        ]
        assert [c.id for c in snapshot.candidates(node.id)] == expected


ATTRS: list[dict[str, object]] = [{}, {"a": 1}, {"a": True}, {"a": 1.0}, {"a": "x"}, {"b": 1}]


def reference_differing(after: Directory, before: Directory) -> list[int]:
    """Node by node: new, or unequal, or equal with an attribute of another JSON type."""

    def types(node: Node) -> dict[str, type]:
        return {k: type(v) for k, v in node.attrs.items()}

    return [
        i
        for i, node in enumerate(after)
        if (old := before.get(node.id)) is None or old != node or types(old) != types(node)
    ]


@settings(max_examples=150, deadline=None)
@given(world=worlds(max_nodes=30), data=st.data())
def test_differing_names_the_nodes_that_are_not_the_same(world: World, data: st.DataObject) -> None:
    before_nodes: dict[str, Node] = {}
    after_nodes: dict[str, Node] = {}
    for node in world.directory:
        change = data.draw(st.sampled_from(["same", "name", "kind", "root", "attrs", "new"]))
        old_attrs, new_attrs = (data.draw(st.sampled_from(ATTRS)) for _ in range(2))
        old = replace(node, attrs=old_attrs) if change == "attrs" else node
        new = {
            "same": node,
            "name": replace(node, name=node.name + "!"),
            "kind": replace(node, kind=node.kind + "x"),
            "root": replace(node, parent=None),
            "attrs": replace(node, attrs=new_attrs),
            "new": node,
        }[change]
        after_nodes[node.id] = new
        if change != "new" or node.id in {n.parent for n in world.directory}:
            before_nodes[node.id] = old
    order = data.draw(st.permutations(sorted(after_nodes)))
    after = Directory({i: after_nodes[i] for i in order})
    before = Directory(before_nodes)
    assert after.differing(before) == reference_differing(after, before)
    assert after.differing(after) == []
    assert after.differing(Directory({})) == list(range(len(after)))
    # Asked again of the same directory (an import asks twice): the same answer, the
    # caller's own to change.
    answer = after.differing(before)
    answer.append(-1)
    assert after.differing(before) == reference_differing(after, before)


def test_a_directory_does_not_keep_the_one_it_was_compared_with_alive() -> None:
    before = Directory({"a": Node("a", None, "customer"), "b": Node("b", "a", "unit")})
    after = Directory({"a": Node("a", None, "customer"), "c": Node("c", "a", "unit")})
    assert after.differing(before) == [1]
    gone = weakref.ref(before)
    del before
    gc.collect()
    assert gone() is None
    assert after.differing(Directory({})) == [0, 1]
