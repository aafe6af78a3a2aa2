"""Credentials once checked are kept in memory, so that the hot routes answer without the
database; a change to grants or revocations checks every one of them again (both
databases): a revoked key is forgotten, a changed grant changes the roles, the others
stay known."""

from __future__ import annotations

from pathlib import Path

from access_setup import ROOT, principal_of, provision
from brightline.access import Role
from brightline.config import Settings
from brightline.service.access import Authenticator
from brightline.service.apikeys import revoke_key
from brightline.service.intake import revoke_role
from brightline.store import Store


def _key_id(key: str) -> str:
    return key.removeprefix("bl_").split("_", 1)[0]


def test_known_credentials_are_checked_again_when_access_changes(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    keys = provision(
        store,
        settings,
        {
            "gate": [Role.ENFORCEMENT_POINT],
            "gone": [Role.ENFORCEMENT_POINT],
            "ana": [Role.INVESTIGATOR, Role.APPROVER],
        },
    )
    root = principal_of(store, settings, keys[ROOT])
    auth = Authenticator(store, settings)
    assert auth.known(keys["gate"]) is None  # not checked yet
    for name in ("gate", "gone", "ana"):
        auth.principal_for(keys[name])

    revoke_key(store, _key_id(keys["gone"]), actor=root)
    revoke_role(store, "ana", Role.APPROVER, actor=root)
    # Nothing changes until the store is read again: the hot routes never read it.
    assert auth.known(keys["gone"]) is not None
    auth.check_version()

    assert auth.known(keys["gone"]) is None
    ana = auth.known(keys["ana"])
    assert ana is not None
    assert ana.roles == frozenset({Role.INVESTIGATOR})
    gate = auth.known(keys["gate"])
    assert gate is not None
    assert gate.roles == frozenset({Role.ENFORCEMENT_POINT})


def test_a_known_credential_is_served_without_the_database(store: Store, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    keys = provision(store, settings, {"gate": [Role.ENFORCEMENT_POINT]})
    auth = Authenticator(store, settings)
    checked = auth.principal_for(keys["gate"])
    store.close()  # any use of the store now fails
    assert auth.known(keys["gate"]) == checked
