"""Principals for tests that go through a way in: the store is bootstrapped like a real
deployment (``service.access.bootstrap``), then each person gets an API key carrying
their roles and the store's grants of the same roles, made by the bootstrap admin through
the same service functions as ``brightline apikey create`` and ``brightline principal grant``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from brightline.access import Principal, Role
from brightline.config import Settings
from brightline.service.access import Authenticator, bootstrap
from brightline.service.apikeys import create_key
from brightline.service.intake import grant_role
from brightline.store import Store

#: The first principal of every test store (admin and case admin).
ROOT = "root"


def provision(
    store: Store,
    settings: Settings,
    people: Mapping[str, Iterable[str]],
    *,
    grants: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, str]:
    """Bootstrap ``root`` and give each person a key with ``people[name]`` roles and the
    grants ``grants[name]`` (default: the same roles). Returns every key, ``root``'s too."""
    keys = {ROOT: bootstrap(store, principal=ROOT)}
    root = Authenticator(store, settings).principal_for(keys[ROOT])
    for name, roles in people.items():
        roles = tuple(roles)
        _, keys[name] = create_key(store, principal=name, roles=roles, actor=root)
        for role in (grants or {}).get(name, roles):
            grant_role(store, name, Role(role), actor=root)
    return keys


def principal_of(store: Store, settings: Settings, key: str) -> Principal:
    """The principal a key authenticates as, with its effective roles."""
    return Authenticator(store, settings).principal_for(key)
