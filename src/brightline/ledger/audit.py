"""Auditing a stored log: recompute it from its entries and locate the first bad index.

A log is its entries, the hash tiles stored for them and a signed root. The tree
recomputed from the entries is compared with the stored tiles, level 0 first, so
that the first leaf where they part is named whichever side was altered: when
the entries reproduce the signed root the tiles are wrong, otherwise the
entries are. Only when entries and tiles were rewritten consistently with each
other is there no reference left, and no index is named.
"""

from __future__ import annotations

from collections.abc import Iterable

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger.tree import (
    TILE_HEIGHT,
    TILE_WIDTH,
    HashSource,
    TileAppender,
    TileWrite,
)
from brightline.ledger.verify import HASH_SIZE

__all__ = ["TamperedLogError", "audit_tiles"]


class TamperedLogError(LedgerIntegrityError):
    """The log does not match its signed root or its own stored hashes.

    ``first_bad_index`` is the first leaf index whose entry or stored hash differs,
    or ``None`` when entries and tiles agree with each other but not with the
    signed root (the whole log was rewritten; no honest reference is left to
    localise it against).
    """

    def __init__(self, message: str, *, first_bad_index: int | None) -> None:
        self.first_bad_index = first_bad_index
        super().__init__(message)


def _first_leaf(level: int, position: int) -> int:
    """First leaf index under hash ``position`` of ``level``."""
    return position << (TILE_HEIGHT * level)


def _first_difference(a: bytes, b: bytes) -> int:
    """Index of the first 32-byte hash that differs between two tile blobs."""
    for i in range(0, min(len(a), len(b)), HASH_SIZE):
        if a[i : i + HASH_SIZE] != b[i : i + HASH_SIZE]:
            return i // HASH_SIZE
    return min(len(a), len(b)) // HASH_SIZE


def _narrower(source: HashSource, write: TileWrite, width: int) -> bytes:
    """The stored tile at the recomputed (narrower) width, or nothing."""
    recomputed = len(write.hashes) // HASH_SIZE
    if not 0 < recomputed < width:
        return b""
    try:
        return source.read_tile(write.level, write.index, recomputed)
    except LedgerIntegrityError:
        return b""


def audit_tiles(
    source: HashSource, *, size: int, leaf_hashes: Iterable[bytes], root: bytes
) -> None:
    """Check ``size`` recomputed leaf hashes against the stored tiles and a signed ``root``.

    ``leaf_hashes`` are recomputed from the entries (at least ``size`` of them are
    read; more are ignored). Every tile of the recomputed tree must equal the
    stored one and the recomputed root must equal ``root``. Otherwise raises
    :class:`TamperedLogError` whose ``first_bad_index`` is the first leaf whose
    recomputed hash differs from the stored one (or is missing); failing that,
    the first leaf under the lowest stored tile hash that differs.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError(f"size must be a non-negative integer, not {size!r}")
    appender = TileAppender()
    # Lowest first-bad leaf index found on each level; level 0 is the most precise.
    bad: dict[int, int] = {}

    def compare(write: TileWrite) -> None:
        # Read the stored tile at the width the signed size implies, which may be
        # wider than the recomputed one when entries are missing.
        count = size >> (TILE_HEIGHT * write.level)
        width = min(TILE_WIDTH, count - TILE_WIDTH * write.index)
        try:
            stored = source.read_tile(write.level, write.index, width)
        except LedgerIntegrityError:
            # Not stored that wide (a truncated tile): compare what is stored of it, so
            # that the hashes it still holds are not counted as bad.
            stored = _narrower(source, write, width)
        if stored != write.hashes:
            position = write.index * TILE_WIDTH + _first_difference(stored, write.hashes)
            first = _first_leaf(write.level, position)
            bad[write.level] = min(bad.get(write.level, first), first)

    batch: list[bytes] = []
    count = 0
    for h in leaf_hashes:
        if count == size:
            break
        batch.append(h)
        count += 1
        if len(batch) == TILE_WIDTH:
            for w in appender.append_full_tiles(batch):
                compare(w)
            batch = []
    for w in appender.append_full_tiles(batch):
        compare(w)
    for w in appender.partial_tiles():
        compare(w)

    if count < size:
        bad[0] = min(bad.get(0, count), count)
    recomputed = appender.root()
    if bad:
        first_bad = bad[min(bad)]
        if count == size and recomputed == root:
            raise TamperedLogError(
                f"stored hash tiles differ from the entries from index {first_bad}",
                first_bad_index=first_bad,
            )
        raise TamperedLogError(
            f"entries differ from the stored log from index {first_bad}",
            first_bad_index=first_bad,
        )
    if recomputed != root:
        raise TamperedLogError(
            "entries and hash tiles agree with each other but not with the signed root",
            first_bad_index=None,
        )
