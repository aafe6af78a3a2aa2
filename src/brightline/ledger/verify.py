"""Stand-alone RFC 9162 Merkle proof verification, for auditors to vendor.

This file depends on nothing but the Python standard library (no Brightline
import), so an auditor can copy it next to a log's published proofs and
check them without trusting our code base.

- :func:`leaf_hash` and :func:`node_hash` are the RFC 9162 §2.1.1 hashes.
- :func:`root_from_leaves` is the Merkle Tree Hash (MTH) of §2.1.1, for reference.
- :func:`verify_inclusion` follows §2.1.3.2, :func:`verify_consistency` §2.1.4.2,
  step by step, one short function per step.

Both verifiers return ``True`` when the proof holds and ``False`` otherwise; they
never raise on bad input (wrong types, wrong hash lengths, ``index >= size``,
``old_size`` of 0 or greater than ``new_size``, a path of the wrong length…).
Their accept/reject behaviour matches the test data published by
transparency-dev/merkle (``testdata/inclusion``, ``testdata/consistency``),
including: a consistency proof between equal sizes must be empty and the two
roots equal, and a consistency proof from size 0 is always rejected.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in a SHA-256 hash, the only hash this log uses."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = HASH(), the root of the empty tree (RFC 9162 §2.1.1)."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``MTH({d(0)}) = HASH(0x00 || d(0))``."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of a list of *leaf hashes* (already ``leaf_hash``-ed).

    Reference implementation, O(n) time and O(log n) memory: it folds complete
    subtrees on a stack the way a binary counter carries, then joins the
    remaining right-border subtrees from right to left, which is exactly the
    RFC 9162 §2.1.1 split at the largest power of two smaller than n.
    """
    stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing
    for h in leaf_hashes:
        height, node = 0, h
        while stack and stack[-1][0] == height:
            node = node_hash(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
    if not stack:
        return EMPTY_ROOT
    root = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        root = node_hash(left, root)
    return root


# --- input checks shared by both verifiers ---------------------------------------------


def _is_size(value: object) -> bool:
    # bool is an int subclass; a True/False tree size is a caller bug, not a size.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview) and len(value) == HASH_SIZE


def _is_path(proof: object) -> bool:
    # bytes and str are Sequences too; a path is a sequence of hashes, never one blob.
    if not isinstance(proof, Sequence) or isinstance(proof, bytes | bytearray | str):
        return False
    return all(_is_hash(p) for p in proof)


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(bytes(a), bytes(b))


def _shift_until_lsb_set(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift ``fn`` and ``sn`` equally until LSB(fn) is set or fn is 0."""
    while fn != 0 and fn & 1 == 0:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


# --- RFC 9162 §2.1.3.2: verifying an inclusion proof -----------------------------------


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf ``leaf_hash`` at ``index`` in the tree ``root`` of ``size``.

    ``leaf_hash`` is the RFC 9162 leaf hash (``SHA-256(0x00 || entry)``), not the entry.
    Returns ``False``, never raises, for any malformed input.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_path(proof)):
        return False
    if not (_is_size(index) and _is_size(size)):
        return False
    if not _incl_step1_index_in_tree(index, size):
        return False
    fn, sn = _incl_step2_start(index, size)
    r = _incl_step3_seed(leaf_hash)
    for p in proof:
        # Step 4a: a path longer than the tree is tall runs sn down to 0 first.
        if sn == 0:
            return False
        r, fn, sn = _incl_step4_fold(p, r, fn, sn)
    return _incl_step5_compare(sn, r, root)


def _incl_step1_index_in_tree(index: int, size: int) -> bool:
    """Step 1: if leaf_index >= tree_size, fail the proof verification."""
    return index < size


def _incl_step2_start(index: int, size: int) -> tuple[int, int]:
    """Step 2: set fn to leaf_index and sn to tree_size - 1."""
    return index, size - 1


def _incl_step3_seed(leaf: bytes) -> bytes:
    """Step 3: set r to hash."""
    return bytes(leaf)


def _incl_step4_fold(p: bytes, r: bytes, fn: int, sn: int) -> tuple[bytes, int, int]:
    """Step 4b and 4c for one path element ``p`` (step 4a is checked by the caller)."""
    if fn & 1 == 1 or fn == sn:
        # 4b.i: p is a left sibling.
        r = node_hash(p, r)
        # 4b.ii: skip the levels where this node is the right-border's only child.
        if fn & 1 == 0:
            fn, sn = _shift_until_lsb_set(fn, sn)
    else:
        # 4b, otherwise: p is a right sibling.
        r = node_hash(r, p)
    # 4c: move one level up.
    return r, fn >> 1, sn >> 1


def _incl_step5_compare(sn: int, r: bytes, root: bytes) -> bool:
    """Step 5: succeed only if sn is 0 (the whole path was used) and r equals root_hash."""
    return sn == 0 and _equal(r, root)


# --- RFC 9162 §2.1.4.2: verifying a consistency proof ----------------------------------


def verify_consistency(
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
) -> bool:
    """Whether ``proof`` shows the tree ``old_root`` of ``old_size`` is a prefix of ``new_root``.

    ``old_size == new_size`` holds only with an empty proof and equal roots; an
    ``old_size`` of 0 is always rejected (nothing to prove, and transparency-dev's
    published test data rejects it). Returns ``False``, never raises, for any
    malformed input.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and _is_path(proof)):
        return False
    if not (_is_size(old_size) and _is_size(new_size)):
        return False
    if not _cons_step0_sizes_ordered(old_size, new_size):
        return False
    if old_size == new_size:
        return _cons_step0_same_size(proof, old_root, new_root)
    if not _cons_step1_not_empty(proof):
        return False
    path = _cons_step2_prepend(old_size, proof, old_root)
    fn, sn = _cons_step3_start(old_size, new_size)
    fn, sn = _cons_step4_skip_right_children(fn, sn)
    fr, sr = _cons_step5_seed(path)
    for c in path[1:]:
        # Step 6a: a path longer than needed runs sn down to 0 first.
        if sn == 0:
            return False
        fr, sr, fn, sn = _cons_step6_fold(c, fr, sr, fn, sn)
    return _cons_step7_compare(sn, fr, sr, old_root, new_root)


def _cons_step0_sizes_ordered(old_size: int, new_size: int) -> bool:
    """Before §2.1.4.2 (whose algorithm assumes 0 < first < second): 0 < old_size <= new_size."""
    return 0 < old_size <= new_size


def _cons_step0_same_size(proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> bool:
    """§2.1.4.1: the proof between equal sizes is empty; then the roots must be equal."""
    return len(proof) == 0 and _equal(old_root, new_root)


def _cons_step1_not_empty(proof: Sequence[bytes]) -> bool:
    """Step 1: if consistency_path is an empty array, fail the proof verification."""
    return len(proof) > 0


def _cons_step2_prepend(old_size: int, proof: Sequence[bytes], old_root: bytes) -> list[bytes]:
    """Step 2: if first is an exact power of 2, prepend first_hash to consistency_path."""
    path = [bytes(p) for p in proof]
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    return path


def _cons_step3_start(old_size: int, new_size: int) -> tuple[int, int]:
    """Step 3: set fn to first - 1 and sn to second - 1."""
    return old_size - 1, new_size - 1


def _cons_step4_skip_right_children(fn: int, sn: int) -> tuple[int, int]:
    """Step 4: if LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set."""
    while fn & 1 == 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def _cons_step5_seed(path: Sequence[bytes]) -> tuple[bytes, bytes]:
    """Step 5: set both fr and sr to the first value in the consistency_path array."""
    return path[0], path[0]


def _cons_step6_fold(
    c: bytes, fr: bytes, sr: bytes, fn: int, sn: int
) -> tuple[bytes, bytes, int, int]:
    """Step 6b and 6c for one subsequent path value ``c`` (6a is checked by the caller)."""
    if fn & 1 == 1 or fn == sn:
        # 6b.i, 6b.ii: c is a left sibling in both trees.
        fr = node_hash(c, fr)
        sr = node_hash(c, sr)
        # 6b.iii
        if fn & 1 == 0:
            fn, sn = _shift_until_lsb_set(fn, sn)
    else:
        # 6b, otherwise: c is a right sibling that only the new tree has.
        sr = node_hash(sr, c)
    # 6c
    return fr, sr, fn >> 1, sn >> 1


def _cons_step7_compare(sn: int, fr: bytes, sr: bytes, old_root: bytes, new_root: bytes) -> bool:
    """Step 7: fr equals first_hash, sr equals second_hash, and sn is 0."""
    return sn == 0 and _equal(fr, old_root) and _equal(sr, new_root)
