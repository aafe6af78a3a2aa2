"""The impact plan's overlay decides as the snapshot compiled with the proposal would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.errors import UnknownReferenceError
from brightline.policy import Effect, Restriction, Snapshot
from brightline.policy.overlay import ALLOW, DENY, ERROR, Overlay, coverage
from worldgen import Scenario, proposal, restrictions, scenarios, worlds


@st.composite
def proposals(draw: st.DrawFn) -> tuple[Scenario, tuple[Restriction, ...]]:
    """A scenario (its restrictions in force) and a proposal whose ids may reuse theirs."""
    scenario = draw(scenarios(max_restrictions=4, unknown=True))
    return scenario, draw(proposal(scenario.world))


def _code(effect: Effect) -> int:
    return DENY if effect is Effect.DENY else ALLOW


@settings(max_examples=300, deadline=None)
@given(proposals())
def test_overlay_decides_as_the_compiled_snapshot_with_the_proposal(
    case: tuple[Scenario, tuple[Restriction, ...]],
) -> None:
    scenario, proposal = case
    before = scenario.snapshot()
    ids = {r.id for r in proposal}
    after = Snapshot(
        scenario.world, [*(r for r in scenario.restrictions if r.id not in ids), *proposal]
    )
    reqs = scenario.requests
    was, now = Overlay(before, proposal).effects(
        [r.node for r in reqs],
        [r.service for r in reqs],
        [r.operation for r in reqs],
        [r.region for r in reqs],
        at=reqs[0].at,
    )
    for i, request in enumerate(reqs):
        request = request._replace(at=reqs[0].at)
        for snapshot, got in ((before, was[i]), (after, now[i])):
            try:
                expected = _code(snapshot.decide(request).effect)
            except UnknownReferenceError:  # the batch's error code
                expected = ERROR
            assert got == expected, (request, snapshot.restrictions)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_coverage_is_the_scope_less_its_exempt_subtrees(data: st.DataObject) -> None:
    world = data.draw(worlds())
    restriction = data.draw(restrictions(world, 0))
    if restriction is None:
        return
    directory = world.directory
    exempt = {n for e in restriction.exempt for n in directory.subtree(e)}
    expected = {n for n in directory.subtree(restriction.scope) if n not in exempt}
    mask = coverage(directory, restriction)
    assert {directory.ids[i] for i in range(len(directory)) if mask[i]} == expected
    positions = directory.subtree_positions(restriction.scope).tolist()
    assert sorted(directory.ids[p] for p in positions) == sorted(
        directory.subtree(restriction.scope)
    )
    assert len(positions) == len(set(positions))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_leaves_are_the_nodes_without_children(data: st.DataObject) -> None:
    world = data.draw(worlds())
    directory = world.directory
    leaves = directory.leaves
    for node in directory.ids:
        assert bool(leaves[directory.position(node)]) == (not directory.children(node))
