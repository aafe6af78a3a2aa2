"""The customer's subtree rule of ``brightline.access``, against its meaning.

``bears_on_customer`` decides from two chains of ancestors; its meaning is "some node of
the customer's subtree is inside the restriction's scope and inside none of its
exemptions". Hypothesis draws bindings, scopes and exemptions over the example world's
directory and compares the two; ``authorize_node`` answers a node outside the subtree
exactly as an unknown node.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightline.access import (
    Action,
    Principal,
    Role,
    authorize_node,
    bears_on_customer,
)
from brightline.errors import AccessDeniedError, NotFoundError
from brightline.world import load_world

DIRECTORY = load_world(Path(__file__).parents[1] / "examples" / "world").directory
NODES = sorted(n.id for n in DIRECTORY)


def _customer(node: str | None, *roles: Role) -> Principal:
    return Principal("c", frozenset(roles or (Role.CUSTOMER,)), "test", node)


def _meaning(bound: str, scope: str, exempt: list[str]) -> bool:
    return any(
        DIRECTORY.is_within(n, scope) and not any(DIRECTORY.is_within(n, e) for e in exempt)
        for n in DIRECTORY.subtree(bound)
    )


@given(
    bound=st.sampled_from(NODES),
    scope=st.sampled_from(NODES),
    exempt=st.lists(st.sampled_from(NODES), max_size=3),
)
def test_a_restriction_bears_on_a_subtree_when_it_reaches_one_of_its_nodes(
    bound: str, scope: str, exempt: list[str]
) -> None:
    # A restriction's exemptions lie strictly below its scope (as restrictions are checked).
    exempt = [e for e in exempt if e != scope and DIRECTORY.is_within(e, scope)]
    got = bears_on_customer(
        _customer(bound),
        scope_chain=DIRECTORY.ancestors(scope),
        bound_chain=DIRECTORY.ancestors(bound),
        exempt=exempt,
    )
    assert got == _meaning(bound, scope, exempt)


def test_only_a_bound_customer_sees_anything() -> None:
    chain = DIRECTORY.ancestors("unit-9900")
    for who in (_customer(None), _customer("unit-9900", Role.AUDITOR)):
        assert not bears_on_customer(who, scope_chain=chain, bound_chain=chain)


@pytest.mark.parametrize("node", ["mod-medical", "acme-voice", "no-such-node"])
def test_a_node_outside_the_subtree_is_unknown(node: str) -> None:
    chain = DIRECTORY.ancestors(node) if node in DIRECTORY else None
    with pytest.raises(NotFoundError) as outside:
        authorize_node(_customer("unit-9900"), Action.VIEW_OWN_RESTRICTIONS, node=node, chain=chain)
    assert str(outside.value) == f"no node {node!r}"
    authorize_node(
        _customer("unit-9900"),
        Action.VIEW_OWN_RESTRICTIONS,
        node="sub-9900-ingest",
        chain=DIRECTORY.ancestors("sub-9900-ingest"),
    )
    with pytest.raises(AccessDeniedError):
        authorize_node(
            _customer("unit-9900", Role.AUDITOR),
            Action.VIEW_OWN_RESTRICTIONS,
            node="unit-9900",
            chain=DIRECTORY.ancestors("unit-9900"),
        )
