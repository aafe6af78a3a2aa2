"""What ``brightline serve`` sets up on first start, on the embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brightline.config import Settings
from brightline.errors import NotFoundError
from brightline.ledger import NoteSigner
from brightline.service.access import Authenticator, bootstrap, is_empty
from brightline.service.ledger import (
    LedgerKeys,
    ensure_key,
    ledger_status,
    settle_key_files,
    sync,
)
from brightline.service.worlds import current_world, import_world
from brightline.store import Store, open_store

#: The first principal of a store that ``brightline serve`` bootstraps.
FIRST_ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class PreparedServer:
    store: Store
    signer: NoteSigner
    admin_key: str | None
    notes: tuple[str, ...]


def prepare_server(settings: Settings, *, example_world: Path | None) -> PreparedServer:
    """Open (and migrate) the store, make the ledger key if there is none; on a fresh
    store, bootstrap its first principal (``admin``, key shown once) and load the example
    world with it. A store with principals but no world is refused before serving."""
    notes: list[str] = []
    store = open_store(settings)
    settle_key_files(settings, store)  # a seal that died before moving its key files
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
    admin_key = None
    if is_empty(store):
        # A fresh store: its first principal (admin and case admin, in the ledger) and
        # key, shown once; the same bootstrap as `brightline bootstrap`.
        admin_key = bootstrap(store, principal=FIRST_ADMIN)
    try:
        current_world(store)
    except NotFoundError:
        if admin_key is None or example_world is None or not example_world.is_dir():
            store.close()
            raise NotFoundError(
                "no world in the store yet: import one with an admin key "
                "(`brightline world import DIR`)"
            ) from None
        admin = Authenticator(store, settings).principal_for(admin_key)
        import_world(store, example_world, actor=admin)
        notes.append(f"empty store: loaded the world in {example_world}")
    sync(settings, store)
    return PreparedServer(store, signer, admin_key, tuple(notes))
