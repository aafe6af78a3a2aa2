"""The log's Merkle tree over C2SP tlog-tiles hash storage: pure, no I/O.

Storage model (C2SP ``tlog-tiles``): the hashes at tree height ``8·L`` form
*level L*; level 0 holds the RFC 9162 leaf hashes. Level L is cut into *tiles*
of 256 consecutive hashes; tile ``(L, N)`` holds hashes ``256·N … 256·N+255`` of
level L, and its last tile may be *partial* (width 1–255). A tile is stored as
one blob of ``width × 32`` bytes, so a persistent store keeps one row per 256
hashes instead of one per node. Heights between two levels are not stored:
they are recomputed from one tile (at most 127 hashes).

- :class:`HashSource` is the small protocol a store implements (``read_tile``);
  :class:`TileStore` adds ``write_tile``. :class:`MemoryHashStore` is the
  in-memory implementation.
- :class:`TileAppender` appends batches of leaf hashes and returns the tiles to
  persist (full tiles once, then the current partial tile of each touched level).
- :class:`TiledTree` answers ``root``, ``inclusion_proof`` and ``consistency_proof``
  for any size the store holds with O(log n) tile reads (≤ 2 per level), keeping
  recently used tiles and their internal hashes in a bounded :class:`TileCache`.

Auditing a stored log against its entries is in :mod:`brightline.ledger.audit`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger.verify import EMPTY_ROOT, HASH_SIZE

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "HashSource",
    "MemoryHashStore",
    "TileAppender",
    "TileCache",
    "TileStore",
    "TileWrite",
    "TiledTree",
]

TILE_HEIGHT = 8
"""Tree levels per tile (C2SP tlog-tiles fixes this at 8)."""
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile: 256."""

_sha256 = hashlib.sha256


@dataclass(frozen=True, slots=True)
class TileWrite:
    """One tile to persist: the first ``width`` hashes of tile ``(level, index)``.

    A later write of the same tile always extends the earlier one (the log is
    append-only); stores may check that.
    """

    level: int
    index: int
    hashes: bytes

    @property
    def width(self) -> int:
        return len(self.hashes) // HASH_SIZE

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH


@runtime_checkable
class HashSource(Protocol):
    """Read access to stored hash tiles."""

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        """The first ``width`` hashes (``width × 32`` bytes) of tile ``(level, index)``.

        Raises :class:`LedgerIntegrityError` when fewer than ``width`` are stored.
        """
        ...


@runtime_checkable
class TileStore(HashSource, Protocol):
    """A :class:`HashSource` that can also persist :class:`TileWrite` s."""

    def write_tile(self, write: TileWrite) -> None:
        """Store ``write``, replacing a narrower version of the same tile."""
        ...


class MemoryHashStore:
    """In-memory :class:`TileStore`, one ``bytes`` blob per tile.

    ``write_tile`` enforces append-only: a new version must extend the stored one
    byte for byte, or :class:`LedgerIntegrityError` is raised.
    """

    def __init__(self) -> None:
        self._tiles: dict[tuple[int, int], bytes] = {}

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        blob = self._tiles.get((level, index), b"")
        need = width * HASH_SIZE
        if len(blob) < need:
            raise LedgerIntegrityError(
                f"tile {level}/{index} holds {len(blob) // HASH_SIZE} hashes, {width} needed"
            )
        return blob if len(blob) == need else blob[:need]

    def write_tile(self, write: TileWrite) -> None:
        key = (write.level, write.index)
        old = self._tiles.get(key, b"")
        if len(write.hashes) < len(old) or write.hashes[: len(old)] != old:
            raise LedgerIntegrityError(
                f"tile {write.level}/{write.index}: a write would rewrite stored hashes"
            )
        self._tiles[key] = write.hashes

    def write_tiles(self, writes: Iterable[TileWrite]) -> None:
        for w in writes:
            self.write_tile(w)

    def tiles(self) -> Iterator[TileWrite]:
        """Every stored tile, by level then index (for export and tests)."""
        for (level, index), blob in sorted(self._tiles.items()):
            yield TileWrite(level, index, blob)


# --- hashing helpers -------------------------------------------------------------------


def _split(blob: bytes) -> list[bytes]:
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


# Copied for each node hash: the 0x01 prefix is hashed once, and the two children
# are fed straight from the blob where they sit side by side.
_NODE_HASHER = hashlib.sha256(b"\x01")


def _parent_row(row: bytes) -> bytes:
    """Hashes of adjacent pairs of the hashes in ``row``; a trailing odd one is dropped."""
    view = memoryview(row)
    out: list[bytes] = []
    step = 2 * HASH_SIZE
    for i in range(0, len(row) - len(row) % step, step):
        h = _NODE_HASHER.copy()
        h.update(view[i : i + step])
        out.append(h.digest())
    return b"".join(out)


def _mth_power_of_two(row: bytes) -> bytes:
    """MTH of a complete subtree whose hashes (a power of two of them) are ``row``."""
    while len(row) > HASH_SIZE:
        row = _parent_row(row)
    return row


def _tile_levels(blob: bytes) -> tuple[bytes, ...]:
    """A tile and the rows above it: row ``k`` holds its complete subtrees of height ``k``."""
    rows = [blob]
    while len(rows[-1]) >= 2 * HASH_SIZE:
        rows.append(_parent_row(rows[-1]))
    return tuple(rows)


def _aligned_chunks(lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """Split ``[lo, hi)`` into maximal aligned power-of-two ranges as ``(height, index)``.

    For the ranges RFC 9162 proofs use (``lo`` a multiple of a power of two
    ≥ ``hi - lo``) the chunks come out in decreasing size, so folding them from
    the right gives the range's MTH.
    """
    while lo < hi:
        height = (hi - lo).bit_length() - 1
        if lo:
            height = min(height, (lo & -lo).bit_length() - 1)
        yield height, lo >> height
        lo += 1 << height


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = _sha256(b"\x01" + left + root).digest()
    return root


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{name} must be a non-negative integer, not {value!r}")


# --- appending -------------------------------------------------------------------------


@dataclass(slots=True)
class TileAppender:
    """The right edge of a tiled log: appends leaf hashes and says which tiles to persist.

    It holds only the current partial tile of each level (at most 255 hashes per
    level): that is the log's compact range, from which :meth:`root` is computed.
    Start empty, or :meth:`resume` from a store at a known size.
    """

    _pending: list[list[bytes]] = field(default_factory=lambda: [[]])
    _counts: list[int] = field(default_factory=lambda: [0])

    @classmethod
    def resume(cls, source: HashSource, size: int) -> TileAppender:
        """An appender continuing the log of ``size`` leaves stored in ``source``."""
        _check_size("size", size)
        appender = cls()
        level = 0
        while (count := size >> (TILE_HEIGHT * level)) > 0:
            if level == len(appender._counts):
                appender._counts.append(0)
                appender._pending.append([])
            width = count % TILE_WIDTH
            if width:
                blob = source.read_tile(level, count // TILE_WIDTH, width)
                appender._pending[level] = _split(blob)
            appender._counts[level] = count
            level += 1
        return appender

    @property
    def size(self) -> int:
        return self._counts[0]

    def append(self, leaf_hashes: Iterable[bytes]) -> tuple[TileWrite, ...]:
        """Append ``leaf_hashes`` (RFC 9162 leaf hashes, 32 bytes each).

        Returns every tile that became full, then the partial tile of each level
        the batch touched; persisting them all, in one transaction, moves the
        store to the new size. Raises :class:`InvalidInputError` (and appends
        nothing) if a hash is not 32 bytes.
        """
        batch = list(leaf_hashes)
        for i, h in enumerate(batch):
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise InvalidInputError(f"leaf hash {i} of the batch is not {HASH_SIZE} bytes")
        if not batch:
            return ()
        before = list(self._counts)
        writes = self.append_full_tiles(batch)
        touched = [
            level
            for level, count in enumerate(self._counts)
            if count != (before[level] if level < len(before) else 0)
        ]
        return (*writes, *(w for w in self.partial_tiles() if w.level in touched))

    def append_full_tiles(self, leaf_hashes: Sequence[bytes]) -> list[TileWrite]:
        """Append without checks and return only the tiles that became full.

        For callers that stream a large log (audits, benchmarks) and take
        :meth:`partial_tiles` once at the end. Hashes must be 32-byte ``bytes``.
        """
        writes: list[TileWrite] = []
        self._add(0, leaf_hashes, writes)
        return writes

    def _add(self, level: int, hashes: Sequence[bytes], writes: list[TileWrite]) -> None:
        if level == len(self._pending):
            self._pending.append([])
            self._counts.append(0)
        buf = self._pending[level]
        tops: list[bytes] = []
        i, n = 0, len(hashes)
        while i < n:
            take = min(TILE_WIDTH - len(buf), n - i)
            buf.extend(hashes[i : i + take])
            i += take
            self._counts[level] += take
            if len(buf) == TILE_WIDTH:
                index = self._counts[level] // TILE_WIDTH - 1
                blob = b"".join(buf)
                writes.append(TileWrite(level, index, blob))
                # The tile's own root is the next level's hash (height 8·(level+1)).
                tops.append(_mth_power_of_two(blob))
                buf.clear()
        if tops:
            self._add(level + 1, tops, writes)

    def partial_tiles(self) -> list[TileWrite]:
        """The current partial tile of every level that has one, lowest level first."""
        return [
            TileWrite(level, self._counts[level] // TILE_WIDTH, b"".join(buf))
            for level, buf in enumerate(self._pending)
            if buf
        ]

    def root(self) -> bytes:
        """The RFC 9162 root of the log so far (``EMPTY_ROOT`` when empty)."""
        subtrees: list[bytes] = []
        # Left to right: the highest level's partial tile holds the largest subtrees.
        for buf in reversed(self._pending):
            for height, index in _aligned_chunks(0, len(buf)):
                first = index << height
                subtrees.append(_mth_power_of_two(b"".join(buf[first : first + (1 << height)])))
        return _fold_right(subtrees) if subtrees else EMPTY_ROOT


# --- reading ---------------------------------------------------------------------------


class TileCache:
    """A bounded LRU of hash tiles with their internal levels, shared by reads.

    Keyed by ``(level, index, width)``: the first ``width`` hashes of a tile never
    change in an append-only log, so a cached entry stays true. (A store that
    rewrote them is tampered with; :func:`audit_tiles` reads the store directly
    and does not use this cache.) Thread-safe.
    """

    def __init__(self, max_tiles: int = 1024) -> None:
        self._max = max_tiles
        self._entries: OrderedDict[tuple[int, int, int], tuple[bytes, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int]) -> tuple[bytes, ...] | None:
        with self._lock:
            levels = self._entries.get(key)
            if levels is not None:
                self._entries.move_to_end(key)
            return levels

    def put(self, key: tuple[int, int, int], levels: tuple[bytes, ...]) -> None:
        with self._lock:
            self._entries[key] = levels
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class _TileReader:
    """Node hashes of the tree of ``size`` leaves, from tiles read through a cache."""

    def __init__(self, source: HashSource, size: int, cache: TileCache) -> None:
        self._source = source
        self._size = size
        self._cache = cache

    def levels(self, level: int, index: int) -> tuple[bytes, ...]:
        width = min(TILE_WIDTH, (self._size >> (TILE_HEIGHT * level)) - TILE_WIDTH * index)
        key = (level, index, width)
        levels = self._cache.get(key)
        if levels is None:
            blob = self._source.read_tile(level, index, width)
            if len(blob) != width * HASH_SIZE:
                raise LedgerIntegrityError(
                    f"tile {level}/{index}: store returned {len(blob)} bytes for {width} hashes"
                )
            levels = _tile_levels(blob)
            self._cache.put(key, levels)
        return levels

    def node(self, height: int, index: int) -> bytes:
        """Hash of the complete subtree of ``2**height`` leaves starting at ``index << height``."""
        level, below = divmod(height, TILE_HEIGHT)
        first = index << below  # position of its leftmost descendant on level ``level``
        row = self.levels(level, first // TILE_WIDTH)[below]
        start = ((first % TILE_WIDTH) >> below) * HASH_SIZE
        return row[start : start + HASH_SIZE]

    def range_hash(self, lo: int, hi: int) -> bytes:
        """MTH of leaves ``[lo, hi)``, a subtree of an RFC 9162 tree (lo aligned)."""
        return _fold_right([self.node(h, i) for h, i in _aligned_chunks(lo, hi)])


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.3.1 PATH(m, D[0:n]) as leaf ranges, leaf level first."""
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)  # largest power of two < hi - lo
        if index - lo < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()
    return out


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[0:n], true) as leaf ranges, in proof order."""
    out: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:
        out.append((lo, hi))  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
    out.reverse()
    return out


@dataclass(frozen=True, slots=True)
class TiledTree:
    """Roots and proofs over the tiles in ``source``, for any size it holds.

    Arguments out of range raise :class:`InvalidInputError`; tiles the source
    lacks raise :class:`LedgerIntegrityError` (from the source).
    """

    source: HashSource
    cache: TileCache = field(default_factory=TileCache, compare=False, repr=False)

    def root(self, size: int) -> bytes:
        _check_size("size", size)
        if size == 0:
            return EMPTY_ROOT
        return _TileReader(self.source, size, self.cache).range_hash(0, size)

    def leaf_hash(self, index: int, size: int) -> bytes:
        self._check_index(index, size)
        return _TileReader(self.source, size, self.cache).node(0, index)

    def inclusion_proof(self, index: int, size: int) -> tuple[bytes, ...]:
        """RFC 9162 §2.1.3.1 inclusion path for leaf ``index`` in the tree of ``size``."""
        self._check_index(index, size)
        reader = _TileReader(self.source, size, self.cache)
        return tuple(reader.range_hash(lo, hi) for lo, hi in _inclusion_ranges(index, size))

    def consistency_proof(self, old_size: int, new_size: int) -> tuple[bytes, ...]:
        """RFC 9162 §2.1.4.1 proof from ``old_size`` to ``new_size`` (``0 < old ≤ new``)."""
        _check_size("old_size", old_size)
        _check_size("new_size", new_size)
        if not 0 < old_size <= new_size:
            raise InvalidInputError(
                f"a consistency proof needs 0 < old_size <= new_size, got {old_size}, {new_size}"
            )
        if old_size == new_size:
            return ()
        reader = _TileReader(self.source, new_size, self.cache)
        return tuple(
            reader.range_hash(lo, hi) for lo, hi in _consistency_ranges(old_size, new_size)
        )

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        _check_size("index", index)
        _check_size("size", size)
        if index >= size:
            raise InvalidInputError(f"index {index} is not in a tree of size {size}")
