"""Tiled tree: appends, roots and proofs over tiles, checked by the stand-alone verifiers."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger.audit import TamperedLogError, audit_tiles
from brightline.ledger.tree import (
    TILE_WIDTH,
    HashSource,
    MemoryHashStore,
    TileAppender,
    TileCache,
    TiledTree,
    TileStore,
    TileWrite,
)
from brightline.ledger.verify import (
    EMPTY_ROOT,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def build(
    hashes: list[bytes], batches: list[int] | None = None
) -> tuple[MemoryHashStore, TileAppender]:
    store, appender = MemoryHashStore(), TileAppender()
    sizes = batches or [len(hashes)]
    i = 0
    for k in sizes:
        store.write_tiles(appender.append(hashes[i : i + k]))
        i += k
    store.write_tiles(appender.append(hashes[i:]))
    return store, appender


@st.composite
def trees(draw: st.DrawFn, max_size: int = 700) -> tuple[list[bytes], list[int]]:
    n = draw(st.integers(min_value=1, max_value=max_size))
    batches = draw(st.lists(st.integers(min_value=1, max_value=300), max_size=6))
    return leaves(n, salt=draw(st.binary(max_size=4))), batches


def flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


def test_memory_store_satisfies_the_protocols() -> None:
    store = MemoryHashStore()
    assert isinstance(store, HashSource)
    assert isinstance(store, TileStore)


def test_empty_tree() -> None:
    store, appender = build([])
    assert appender.size == 0
    assert appender.root() == EMPTY_ROOT == TiledTree(store).root(0)
    with pytest.raises(InvalidInputError):
        TiledTree(store).inclusion_proof(0, 0)


def test_one_leaf_tree() -> None:
    hashes = leaves(1)
    store, appender = build(hashes)
    tree = TiledTree(store)
    assert appender.root() == tree.root(1) == hashes[0]
    assert tree.inclusion_proof(0, 1) == ()
    assert tree.consistency_proof(1, 1) == ()
    assert verify_inclusion(hashes[0], 0, 1, (), tree.root(1))


@given(trees())
@settings(max_examples=60, deadline=None)
def test_roots_match_the_reference_for_every_size(tree: tuple[list[bytes], list[int]]) -> None:
    hashes, batches = tree
    store, appender = build(hashes, batches)
    assert appender.size == len(hashes)
    assert appender.root() == root_from_leaves(hashes)
    reader = TiledTree(store)
    for size in {1, len(hashes) // 2 or 1, len(hashes) - 1 or 1, len(hashes)}:
        assert reader.root(size) == root_from_leaves(hashes[:size])


@given(trees(), st.data())
@settings(max_examples=80, deadline=None)
def test_inclusion_proofs_verify_and_tampering_is_rejected(
    tree: tuple[list[bytes], list[int]], data: st.DataObject
) -> None:
    hashes, batches = tree
    store, _ = build(hashes, batches)
    reader = TiledTree(store)
    size = data.draw(st.integers(min_value=1, max_value=len(hashes)), label="size")
    index = data.draw(st.sampled_from(sorted({0, size - 1, size // 2, size - 1 - size // 3})))
    root = reader.root(size)
    proof = reader.inclusion_proof(index, size)
    assert reader.leaf_hash(index, size) == hashes[index]
    assert verify_inclusion(hashes[index], index, size, proof, root)

    assert not verify_inclusion(hashes[index], index, size, proof, flip(root))
    assert not verify_inclusion(flip(hashes[index]), index, size, proof, root)
    assert not verify_inclusion(hashes[index], index, size, [*proof, root], root)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="tampered")
        bad = list(proof)
        bad[i] = flip(bad[i])
        assert not verify_inclusion(hashes[index], index, size, bad, root)
        assert not verify_inclusion(hashes[index], index, size, proof[:-1], root)
    for other in {index - 1, index + 1, index ^ 2}:
        if 0 <= other < size and hashes[other] != hashes[index]:
            assert not verify_inclusion(hashes[index], other, size, proof, root)
    # (A proof for size n can also fit size n + 1 with the same root: the size is
    # authenticated by the signed checkpoint, not by the inclusion proof.)


@given(trees(), st.data())
@settings(max_examples=80, deadline=None)
def test_consistency_proofs_verify_and_tampering_is_rejected(
    tree: tuple[list[bytes], list[int]], data: st.DataObject
) -> None:
    hashes, batches = tree
    store, _ = build(hashes, batches)
    reader = TiledTree(store)
    new = data.draw(st.integers(min_value=1, max_value=len(hashes)), label="new")
    old = data.draw(st.sampled_from(sorted({1, new, max(1, new // 2), max(1, new - 1)})))
    proof = reader.consistency_proof(old, new)
    old_root, new_root = reader.root(old), reader.root(new)
    assert verify_consistency(old, new, proof, old_root, new_root)

    assert not verify_consistency(0, new, proof, old_root, new_root)
    assert not verify_consistency(old, new, proof, flip(old_root), new_root)
    assert not verify_consistency(old, new, proof, old_root, flip(new_root))
    assert not verify_consistency(old, new, [*proof, new_root], old_root, new_root)
    if old != new:
        assert not verify_consistency(new, old, proof, new_root, old_root)
        assert not verify_consistency(old, new, [], old_root, new_root)
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="tampered")
        bad = list(proof)
        bad[i] = flip(bad[i])
        assert not verify_consistency(old, new, bad, old_root, new_root)


@pytest.mark.parametrize("size", [1, 2, 4, 8, 256, 512, 1024])
def test_powers_of_two(size: int) -> None:
    hashes = leaves(size)
    store, _ = build(hashes)
    reader = TiledTree(store)
    root = reader.root(size)
    assert root == root_from_leaves(hashes)
    for index in {0, size // 2, size - 1}:
        assert verify_inclusion(
            hashes[index], index, size, reader.inclusion_proof(index, size), root
        )
    for old in {1, size // 2 or 1, size - 1 or 1, size}:
        proof = reader.consistency_proof(old, size)
        assert verify_consistency(old, size, proof, reader.root(old), root)


def test_three_tile_levels() -> None:
    # 70 000 leaves: full level-0 and level-1 tiles plus a level-2 partial tile.
    size = 70_000
    hashes = leaves(size)
    store, appender = build(hashes, [1, 255, 40_000, 1])
    reader = TiledTree(store)
    root = reader.root(size)
    assert root == appender.root() == root_from_leaves(hashes)
    for index in (0, 255, 256, 65_535, 65_536, size - 1):
        proof = reader.inclusion_proof(index, size)
        assert verify_inclusion(hashes[index], index, size, proof, root)
    for old in (1, 256, 65_536, 65_537, size - 1):
        assert verify_consistency(
            old, size, reader.consistency_proof(old, size), reader.root(old), root
        )


def test_appender_reports_full_tiles_once_and_partial_tiles_per_batch() -> None:
    appender = TileAppender()
    writes = appender.append(leaves(300))
    assert [(w.level, w.index, w.width) for w in writes] == [(0, 0, 256), (0, 1, 44), (1, 0, 1)]
    writes = appender.append(leaves(1, salt=b"x"))
    assert [(w.level, w.index, w.width) for w in writes] == [(0, 1, 45)]
    assert appender.append([]) == ()


def test_appender_rejects_bad_hashes_without_appending() -> None:
    appender = TileAppender()
    with pytest.raises(InvalidInputError):
        appender.append([leaf_hash(b"a"), b"short"])
    assert appender.size == 0


@pytest.mark.parametrize("size", [1, 255, 256, 257, 65_536 + 300])
def test_resumed_appender_continues_the_same_log(size: int) -> None:
    hashes = leaves(size + 10)
    store, _ = build(hashes[:size])
    resumed = TileAppender.resume(store, size)
    assert resumed.size == size
    store.write_tiles(resumed.append(hashes[size:]))
    assert resumed.root() == root_from_leaves(hashes) == TiledTree(store).root(size + 10)


def test_store_refuses_to_rewrite_hashes() -> None:
    store, _ = build(leaves(10))
    with pytest.raises(LedgerIntegrityError):
        store.write_tile(TileWrite(0, 0, leaf_hash(b"other") * 11))
    with pytest.raises(LedgerIntegrityError):
        store.write_tile(TileWrite(0, 0, b"".join(leaves(5))))


def test_reading_past_the_stored_size_fails() -> None:
    store, _ = build(leaves(10))
    with pytest.raises(LedgerIntegrityError):
        TiledTree(store).root(11)


@pytest.mark.parametrize(("old", "new"), [(0, 5), (6, 5), (-1, 5)])
def test_consistency_proof_arguments_are_checked(old: int, new: int) -> None:
    store, _ = build(leaves(10))
    with pytest.raises(InvalidInputError):
        TiledTree(store).consistency_proof(old, new)


@pytest.mark.parametrize(("index", "size"), [(10, 10), (-1, 10), (0, -1)])
def test_inclusion_proof_arguments_are_checked(index: int, size: int) -> None:
    store, _ = build(leaves(10))
    with pytest.raises(InvalidInputError):
        TiledTree(store).inclusion_proof(index, size)


def test_proofs_read_few_tiles() -> None:
    size = 70_000
    store, _ = build(leaves(size))
    reads: list[tuple[int, int, int]] = []

    class Counting:
        def read_tile(self, level: int, index: int, width: int) -> bytes:
            reads.append((level, index, width))
            return store.read_tile(level, index, width)

    tree = TiledTree(Counting())
    tree.inclusion_proof(12_345, size)
    assert len(reads) <= 2 * 3
    reads.clear()
    tree.consistency_proof(12_345, size)
    assert len(reads) <= 2 * 3


# --- audit -------------------------------------------------------------------------------


def _audit(store: MemoryHashStore, hashes: list[bytes], size: int, root: bytes) -> int | None:
    try:
        audit_tiles(store, size=size, leaf_hashes=hashes, root=root)
    except TamperedLogError as exc:
        return exc.first_bad_index
    return -1


def test_audit_accepts_an_intact_log() -> None:
    hashes = leaves(1000)
    store, appender = build(hashes)
    assert _audit(store, hashes, 1000, appender.root()) == -1
    assert _audit(store, hashes + leaves(3, b"later"), 1000, appender.root()) == -1


@pytest.mark.parametrize("index", [0, 255, 256, 777, 999])
def test_audit_names_an_altered_entry(index: int) -> None:
    hashes = leaves(1000)
    store, appender = build(hashes)
    tampered = list(hashes)
    tampered[index] = leaf_hash(b"forged")
    assert _audit(store, tampered, 1000, appender.root()) == index


def test_audit_names_removed_inserted_and_reordered_entries() -> None:
    hashes = leaves(1000)
    store, appender = build(hashes)
    root = appender.root()
    assert _audit(store, hashes[:500] + hashes[501:], 1000, root) == 500
    assert _audit(store, [*hashes[:300], leaf_hash(b"x"), *hashes[300:]], 1000, root) == 300
    swapped = list(hashes)
    swapped[600], swapped[700] = swapped[700], swapped[600]
    assert _audit(store, swapped, 1000, root) == 600
    assert _audit(store, hashes[:999], 1000, root) == 999


def test_audit_names_a_tampered_stored_tile() -> None:
    hashes = leaves(1000)
    store, appender = build(hashes)
    blob = bytearray(store.read_tile(0, 1, 256))
    blob[32 * 7] ^= 1
    store._tiles[(0, 1)] = bytes(blob)
    assert _audit(store, hashes, 1000, appender.root()) == 256 + 7


def test_audit_without_a_reference_reports_no_index() -> None:
    hashes = leaves(1000)
    store, _ = build(hashes)
    assert _audit(store, hashes, 1000, hashlib.sha256(b"other log").digest()) is None


def test_tile_width_is_256() -> None:
    assert TILE_WIDTH == 256


def test_a_long_lived_tree_stays_right_as_the_log_grows() -> None:
    hashes = leaves(1000)
    store, appender = MemoryHashStore(), TileAppender()
    tree = TiledTree(store)
    for size in (1, 44, 300, 301, 512, 1000):
        store.write_tiles(appender.append(hashes[appender.size : size]))
        assert tree.root(size) == root_from_leaves(hashes[:size])
        proof = tree.inclusion_proof(size - 1, size)
        assert verify_inclusion(hashes[size - 1], size - 1, size, proof, tree.root(size))
    assert tree.root(300) == root_from_leaves(hashes[:300])


def test_tile_cache_is_bounded() -> None:
    cache = TileCache(max_tiles=2)
    for i in range(5):
        cache.put((0, i, 256), (b"x",))
    assert cache.get((0, 0, 256)) is None
    assert cache.get((0, 4, 256)) == (b"x",)
