"""What ``brightline serve`` sets up on first start, on the embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brightline.cases.roles import Role
from brightline.config import Settings
from brightline.errors import ConflictError, NotFoundError
from brightline.ledger import NoteSigner
from brightline.service.apikeys import ADMIN, create_key, has_keys
from brightline.service.intake import grant_role
from brightline.service.ledger import LedgerKeys, ensure_key, ledger_status, sync
from brightline.service.worlds import current_world, import_world
from brightline.store import Store, open_store


@dataclass(frozen=True, slots=True)
class PreparedServer:
    store: Store
    signer: NoteSigner
    admin_key: str | None
    notes: tuple[str, ...]


def prepare_server(settings: Settings, *, example_world: Path | None) -> PreparedServer:
    """Open (and migrate) the store, make the ledger key if there is none, load the example
    world into an empty store, and create the first admin key if there is none."""
    notes: list[str] = []
    store = open_store(settings)
    if not LedgerKeys.of(settings).private.is_file() and ledger_status(store).checkpoint:
        store.close()
        raise NotFoundError(
            f"the ledger key {LedgerKeys.of(settings).private} is missing, but the store holds "
            "checkpoints signed with it: restore the key from your backup (a new key would "
            "make the existing log unverifiable)"
        )
    verifier = ensure_key(settings)
    notes.append(f"ledger verifier key: {verifier}")
    signer = LedgerKeys.of(settings).signer()
    assert signer is not None
    try:
        current_world(store)
    except NotFoundError:
        if example_world is None or not example_world.is_dir():
            raise
        import_world(store, example_world, actor="serve")
        notes.append(f"empty store: loaded the world in {example_world}")
    admin_key = None
    if not has_keys(store):
        roles = [ADMIN, *(r.value for r in Role)]
        _, admin_key = create_key(store, principal="admin", roles=roles, created_by="serve")
        # The first principal of a fresh store is its case admin, who grants the others.
        try:
            grant_role(store, "admin", Role.CASE_ADMIN, actor="admin")
        except ConflictError:
            notes.append("roles were already granted; the admin key holds no case-admin grant")
    sync(settings, store)
    return PreparedServer(store, signer, admin_key, tuple(notes))
