"""The sync's guard: the ledger never appends to, nor signs, a log that is not an
extension of its latest signed checkpoint.

Before a sync appends, it checks the end of the stored log (its last entry bundle
against its last hash tile: the same index and width, the tile holding the entries' leaf
hashes), that the log is at least as long as the latest signed checkpoint, and that the
stored hash tiles still give that checkpoint's root; after appending, that the new tree
is consistent with it (RFC 9162 §2.1.4). Any failure stops the sync: nothing is
appended or signed (the caller's transaction rolls back), a TamperedLogError says why —
sizes, and the first bad index where the rows show it — and one JSON log line records
it. Signing the shorter or rewritten log instead would make the tampering the new
truth; only restoring the database from a backup brings the ledger back.

Reading functions cost O(log n) tile reads and one entry bundle: this runs on every
sync.
"""

from __future__ import annotations

import json
import logging
from typing import NoReturn

from sqlalchemy.orm import Session

from brightline.errors import LedgerIntegrityError
from brightline.ledger import (
    HASH_SIZE,
    TILE_WIDTH,
    TamperedLogError,
    TiledTree,
    leaf_hash,
    verify_consistency,
)
from brightline.store.ledger import LogEnd, SqlTileStore, StoredCheckpoint, log_end

log = logging.getLogger("brightline.ledger")


def refuse(why: str, *, log_number: int, first_bad_index: int | None, **sizes: int) -> NoReturn:
    """Log the refusal as one JSON line and raise it."""
    message = f"the ledger refuses to append or sign: {why}"
    log.error(
        json.dumps(
            {
                "event": "ledger-sync-refused",
                "log": log_number,
                "first_bad_index": first_bad_index,
                **sizes,
                "reason": why,
            }
        )
    )
    raise TamperedLogError(message, first_bad_index=first_bad_index)


def end_problem(end: LogEnd) -> tuple[str, int] | None:
    """What is wrong with the end of a log, and the first bad index; None if its last
    bundle and last level-0 tile agree."""
    first = 0 if end.bundle is None else end.bundle * TILE_WIDTH
    if len(end.entries) != end.width:
        bad = first + min(len(end.entries), end.width)
        return (
            f"entry bundle {end.bundle} states width {end.width} but holds "
            f"{len(end.entries)} entries; first bad index {bad}",
            bad,
        )
    entries = first + end.width
    hashed = 0 if end.tile is None else end.tile * TILE_WIDTH + end.tile_width
    if end.bundle == end.tile:
        # Same bundle: name the first entry whose leaf hash is not the stored one.
        for i, public in enumerate(end.entries[: end.tile_width]):
            stored = end.leaf_hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE]
            if leaf_hash(public) != stored:
                return (
                    f"entry {first + i} differs from its stored hash (tile 0/{end.tile}); "
                    f"first bad index {first + i}",
                    first + i,
                )
    if entries == hashed:
        return None
    bad = min(entries, hashed)
    what = (
        f"entry {bad}: missing"
        if entries < hashed
        else f"entry {bad}: no stored hash, entries were added outside Brightline"
    )
    if end.bundle == end.tile:
        where = f"entry bundle {end.bundle} width {end.width} but tiles say {end.tile_width}"
    else:
        where = (
            f"the entry bundles end at {entries} (bundle {end.bundle}) but the hash tiles "
            f"at {hashed} (tile 0/{end.tile})"
        )
    return f"{what} ({where}); first bad index {bad}", bad


def check_before_append(
    session: Session, *, log_number: int, size: int, latest: StoredCheckpoint | None
) -> None:
    """The stored log ends cleanly and extends ``latest`` (of ``size`` entries as its
    bundles say); refuses otherwise."""
    problem = end_problem(log_end(session, log=log_number))
    if problem is not None:
        refuse(problem[0], log_number=log_number, first_bad_index=problem[1], size=size)
    if latest is None:
        return
    if size < latest.size:
        refuse(
            f"entry {size}: missing: the log holds {size} entries but its latest signed "
            f"checkpoint has {latest.size}; a shorter log is never signed; first bad "
            f"index {size}",
            log_number=log_number,
            first_bad_index=size,
            size=size,
            signed_size=latest.size,
        )
    if latest.size == 0:
        return
    try:
        root = TiledTree(SqlTileStore(session, log=log_number)).root(latest.size)
    except LedgerIntegrityError as exc:
        refuse(
            f"the hash tiles of the latest signed checkpoint ({latest.size} entries) are "
            f"incomplete: {exc}",
            log_number=log_number,
            first_bad_index=None,
            size=size,
            signed_size=latest.size,
        )
    if root != latest.root:
        refuse(
            f"the stored hash tiles no longer give the root of the latest signed checkpoint "
            f"({latest.size} entries): the log was rewritten (`brightline ledger verify` "
            "names the first bad index)",
            log_number=log_number,
            first_bad_index=None,
            size=size,
            signed_size=latest.size,
        )


def check_after_append(
    session: Session,
    *,
    log_number: int,
    size: int,
    root: bytes,
    latest: StoredCheckpoint | None,
) -> None:
    """The tree of ``size`` entries and ``root`` extends ``latest`` (RFC 9162 §2.1.4.2
    consistency proof, from the stored tiles); refuses otherwise."""
    if latest is None or latest.size == 0 or size == latest.size:
        return
    tree = TiledTree(SqlTileStore(session, log=log_number))
    proof = tree.consistency_proof(latest.size, size)
    if not verify_consistency(latest.size, size, proof, latest.root, root):
        refuse(
            f"the log of {size} entries is not consistent with the latest signed "
            f"checkpoint ({latest.size} entries)",
            log_number=log_number,
            first_bad_index=None,
            size=size,
            signed_size=latest.size,
        )
