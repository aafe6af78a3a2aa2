"""What ``brightline serve`` sets up on first start, on the embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brightline.config import Settings
from brightline.errors import NotFoundError
from brightline.ledger import NoteSigner
from brightline.policy import RESTRICTIONS_FILE
from brightline.service.access import Authenticator, bootstrap, is_empty
from brightline.service.ledger import (
    LedgerKeys,
    ensure_key,
    ledger_status,
    settle_key_files,
    sync,
)
from brightline.service.restrictions import bootstrap_restrictions
from brightline.service.worlds import import_world
from brightline.store import Store, latest_world_version, open_store

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
    store, bootstrap its first principal (``admin``, key shown once), import the example
    world with it and put the example's restrictions in force as a recorded bootstrap
    (:func:`bootstrap_restrictions`), so that the server decides as ``brightline check
    --world`` does on the same directory.

    A store without a world that cannot be given the example one (it has principals, or
    the directory is missing) is refused with NotFoundError before any key or principal
    is made.
    """
    notes: list[str] = []
    store = open_store(settings)
    try:
        fresh = is_empty(store)
        _check_world(store, fresh=fresh, example_world=example_world)
    except BaseException:
        store.close()
        raise
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
    if fresh:
        # A fresh store: its first principal (admin and case admin, in the ledger) and
        # key, shown once; the same bootstrap as `brightline bootstrap`.
        admin_key = bootstrap(store, principal=FIRST_ADMIN)
        if example_world is not None and not _has_world(store):
            admin = Authenticator(store, settings).principal_for(admin_key)
            import_world(store, example_world, actor=admin)
            notes.append(f"empty store: imported the world in {example_world}")
            restrictions = example_world / RESTRICTIONS_FILE
            if restrictions.is_file():
                views = bootstrap_restrictions(store, restrictions, actor=admin)
                notes.append(
                    f"empty store: {len(views)} restriction(s) of {restrictions} put in force "
                    "as a recorded bootstrap (ledger: restriction.bootstrapped), without four "
                    "eyes: " + ", ".join(f"{v.id} ({v.state.mode})" for v in views)
                )
    sync(settings, store)
    return PreparedServer(store, signer, admin_key, tuple(notes))


def _has_world(store: Store) -> bool:
    # The version's number only: loading a world of millions of nodes to learn that
    # there is one would cost the start seconds.
    with store.read() as session:
        return latest_world_version(session) is not None


def _check_world(store: Store, *, fresh: bool, example_world: Path | None) -> None:
    """NotFoundError, saying what to do, if the store has no world and will not get one."""
    if _has_world(store):
        return
    if not fresh:
        raise NotFoundError(
            "no world in the store yet: import one with an admin key before serving "
            "(`brightline world import DIR --key-file KEY`); nothing was changed"
        )
    if example_world is None or not example_world.is_dir():
        raise NotFoundError(
            f"empty store and no world directory at {example_world}: give one with "
            "`--world DIR` (it is imported on first start); nothing was changed"
        )
