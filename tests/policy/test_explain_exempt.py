"""An explanation names the restrictions whose exempt subtrees hold the node, found on
the node's lineage: the same ones a walk up the tree from each restriction finds."""

from __future__ import annotations

from hypothesis import given, settings

from worldgen import Scenario, scenarios


@settings(max_examples=200, deadline=None)
@given(scenarios(max_restrictions=6))
def test_the_exempting_restrictions_are_named(scenario: Scenario) -> None:
    snapshot = scenario.snapshot()
    directory = scenario.world.directory
    for request in scenario.requests:
        exempting = [
            r.id
            for r in snapshot.restrictions
            if directory.is_within(request.node, r.scope)
            and any(directory.is_within(request.node, e) for e in r.exempt)
        ]
        text = snapshot.decide(request).explain()
        if exempting:
            assert text.endswith(
                f"Exempt from {', '.join(exempting)}: {request.node} is in an exempt subtree."
            )
        else:
            assert "Exempt from" not in text
