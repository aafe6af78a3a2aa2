"""Principals for tests that go through a way in: the store is bootstrapped like a real
deployment (``service.access.bootstrap``), then each person gets an API key carrying
their roles and the store's grants of the same roles, made by the bootstrap admin through
the same service functions as ``brightline apikey create`` and ``brightline principal grant``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from brightline.access import Principal, Role
from brightline.config import Settings
from brightline.service.access import Authenticator, bootstrap
from brightline.service.apikeys import create_key
from brightline.service.intake import grant_role
from brightline.service.worlds import import_world
from brightline.store import Store

#: The first principal of every test store (admin and case admin).
ROOT = "root"
#: The node a ``customer`` grant binds to unless ``nodes`` names another (the example
#: world's restricted intelligence unit).
CUSTOMER_NODE = "unit-9900"


def provision(
    store: Store,
    settings: Settings,
    people: Mapping[str, Iterable[str]],
    *,
    grants: Mapping[str, Iterable[str]] | None = None,
    world: Path | None = None,
    nodes: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Bootstrap ``root``, import ``world`` (if given: a customer grant needs its node)
    and give each person a key with ``people[name]`` roles and the grants ``grants[name]``
    (default: the same roles); a customer grant binds to ``nodes[name]``, by default
    :data:`CUSTOMER_NODE`. Returns every key, ``root``'s too."""
    keys = {ROOT: bootstrap(store, principal=ROOT)}
    root = Authenticator(store, settings).principal_for(keys[ROOT])
    if world is not None:
        import_world(store, world, actor=root)
    for name, roles in people.items():
        roles = tuple(roles)
        _, keys[name] = create_key(store, principal=name, roles=roles, actor=root)
        for role in (grants or {}).get(name, roles):
            node = (nodes or {}).get(name, CUSTOMER_NODE) if role == Role.CUSTOMER else None
            grant_role(store, name, Role(role), actor=root, node=node)
    return keys


def principal_of(store: Store, settings: Settings, key: str) -> Principal:
    """The principal a key authenticates as, with its effective roles."""
    return Authenticator(store, settings).principal_for(key)
