"""The stand-alone verifiers against RFC 6962 vectors and transparency-dev/merkle's probes.

The vectors and the corruptions applied to them are those of transparency-dev/merkle
(``proof/verify_test.go`` and ``cmd/proofgen``, which generates ``testdata/``):
every happy path must verify and every corrupted probe must be rejected.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import Any

import pytest

import brightline.ledger.verify as verify_module
from brightline.ledger.verify import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)


def h(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


LEAVES = [
    h(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_TREE_HASH = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# (1-based leaf, tree size, path)
INCLUSION_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (old size, new size, proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]


def _flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ bit]) + out[i][1:]
    return out


InclusionProbe = tuple[str, int, int, bytes, list[bytes], bytes]
ConsistencyProbe = tuple[str, int, int, list[bytes], bytes, bytes]


def inclusion_probes(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[InclusionProbe]:
    """proofgen's invalidInclusionProof: (description, index, size, leaf, proof, root)."""
    probes: list[InclusionProbe] = [
        ("leafIdx sub 1", index - 1, size, leaf, proof, root),
        ("leafIdx plus 1", index + 1, size, leaf, proof, root),
        ("leafIdx xor 2", index ^ 2, size, leaf, proof, root),
        ("treeSize mul 2", index, size * 2, leaf, proof, root),
        ("treeSize div 2", index, size // 2, leaf, proof, root),
        ("wrong leaf", index, size, b"WrongLeaf", proof, root),
        ("empty root", index, size, leaf, proof, EMPTY_TREE_HASH),
        ("random root", index, size, leaf, proof, SOME_HASH),
        ("trailing garbage", index, size, leaf, [*proof, b""], root),
        ("trailing root", index, size, leaf, [*proof, root], root),
        ("preceding garbage", index, size, leaf, [b"", *proof], root),
        ("preceding root", index, size, leaf, [root, *proof], root),
    ]
    probes += [
        (f"modified proof[{i}] bit 3", index, size, leaf, _flip(proof, i, 8), root)
        for i in range(len(proof))
    ]
    if proof:
        probes.append(("removed component", index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        probes.append(
            ("inserted component", index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root)
        )
    return probes


def consistency_probes(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[ConsistencyProbe]:
    """proofgen's invalidConsistencyProof: (description, size1, size2, proof, root1, root2)."""
    probes: list[ConsistencyProbe] = [
        ("size1 sub 1", size1 - 1, size2, proof, root1, root2),
        ("size1 plus 1", size1 + 1, size2, proof, root1, root2),
        ("size1 xor 2", size1 ^ 2, size2, proof, root1, root2),
        ("size2 mul 2", size1, size2 * 2, proof, root1, root2),
        ("size2 div 2", size1, size2 // 2, proof, root1, root2),
        ("wrong root1", size1, size2, proof, b"WrongRoot", root2),
        ("wrong root2", size1, size2, proof, root1, b"WrongRoot"),
        ("swapped roots", size1, size2, proof, root2, root1),
        ("empty proof", size1, size2, [], root1, root2),
        ("trailing garbage", size1, size2, [*proof, b""], root1, root2),
        ("trailing root1", size1, size2, [*proof, root1], root1, root2),
        ("trailing root2", size1, size2, [*proof, root2], root1, root2),
        ("preceding garbage", size1, size2, [b"", *proof], root1, root2),
        ("preceding root1", size1, size2, [root1, *proof], root1, root2),
        ("preceding root2", size1, size2, [root2, *proof], root1, root2),
        ("preceding proof[0]", size1, size2, [proof[0], *proof], root1, root2),
        ("truncated proof", size1, size2, proof[:-1], root1, root2),
    ]
    probes += [
        (f"modified proof[{i}] bit 4", size1, size2, _flip(proof, i, 16), root1, root2)
        for i in range(len(proof))
    ]
    return probes


def test_hashes_follow_rfc_9162_domain_separation() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert root_from_leaves([]) == EMPTY_ROOT == EMPTY_TREE_HASH


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_rfc_6962_tree(size: int) -> None:
    assert root_from_leaves([leaf_hash(x) for x in LEAVES[:size]]) == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_VECTORS)
def test_published_inclusion_proof_verifies(leaf: int, size: int, proof: list[bytes]) -> None:
    assert verify_inclusion(leaf_hash(LEAVES[leaf - 1]), leaf - 1, size, proof, ROOTS[size - 1])


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_VECTORS)
def test_corrupted_inclusion_proofs_are_rejected(leaf: int, size: int, proof: list[bytes]) -> None:
    probes = inclusion_probes(leaf - 1, size, proof, ROOTS[size - 1], leaf_hash(LEAVES[leaf - 1]))
    accepted = [p[0] for p in probes if verify_inclusion(p[3], p[1], p[2], p[4], p[5])]
    assert accepted == []


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_in_empty_or_wrong_trees_is_rejected(index: int, size: int) -> None:
    # proofgen's staticInclusionProbes
    assert not verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion(b"", index, size, [], EMPTY_TREE_HASH)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_TREE_HASH)


@pytest.mark.parametrize(
    ("root", "leaf", "accepted"),
    [
        ("hash", "hash", True),
        ("hash", "empty", False),
        ("empty", "hash", False),
        ("empty", "empty", False),
    ],
)
def test_single_entry_tree(root: str, leaf: str, accepted: bool) -> None:
    # proofgen's singleEntryInclusionProbes: root == leaf hash, empty proof.
    value = {"hash": leaf_hash(b"data"), "empty": b""}
    assert verify_inclusion(value[leaf], 0, 1, [], value[root]) is accepted


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_VECTORS)
def test_published_consistency_proof_verifies(size1: int, size2: int, proof: list[bytes]) -> None:
    assert verify_consistency(size1, size2, proof, ROOTS[size1 - 1], ROOTS[size2 - 1])


@pytest.mark.parametrize(("size1", "size2", "proof"), [v for v in CONSISTENCY_VECTORS if v[2]])
def test_corrupted_consistency_proofs_are_rejected(
    size1: int, size2: int, proof: list[bytes]
) -> None:
    probes = consistency_probes(size1, size2, ROOTS[size1 - 1], ROOTS[size2 - 1], proof)
    accepted = [p[0] for p in probes if verify_consistency(p[1], p[2], p[3], p[4], p[5])]
    assert accepted == []


_R1, _R2 = b"don't care 1", b"don't care 2"


@pytest.mark.parametrize(
    ("size1", "size2", "root1", "root2", "proof", "accepted"),
    [
        # proofgen's staticConsistencyProbes, with their published wantErr.
        (0, 0, _R1, _R2, [], False),
        (1, 1, _R1, _R2, [], False),
        (0, 0, _R1, _R1, [], False),
        (0, 1, _R1, _R2, [], False),
        (1, 0, _R1, _R2, [], False),
        (2, 1, _R1, _R2, [], False),
        (1, 2, _R1, _R2, [], False),
        (0, 0, EMPTY_TREE_HASH, _R2, [], False),
        (1, 1, EMPTY_TREE_HASH, _R2, [], False),
        (0, 0, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH], False),
        (1, 1, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH], False),
        (0, 1, EMPTY_TREE_HASH, _R2, [], False),
        (0, 1, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [EMPTY_TREE_HASH], False),
        # Equal sizes hold with an empty proof and equal roots.
        (1, 1, ROOTS[0], ROOTS[0], [], True),
        (0, 0, EMPTY_TREE_HASH, EMPTY_TREE_HASH, [], False),  # old size 0: always rejected
    ],
)
def test_static_consistency_probes(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes], accepted: bool
) -> None:
    assert verify_consistency(size1, size2, proof, root1, root2) is accepted


@pytest.mark.parametrize(
    "bad",
    [
        {"index": -1},
        {"index": True},
        {"size": 2**64},
        {"size": "8"},
        {"proof": b""},
        {"proof": None},
        {"proof": ["x" * 32]},
        {"leaf_hash": None},
        {"root": ROOTS[7][:31]},
    ],
)
def test_verify_inclusion_returns_false_instead_of_raising(bad: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "leaf_hash": leaf_hash(LEAVES[0]),
        "index": 0,
        "size": 8,
        "proof": INCLUSION_VECTORS[1][2],
        "root": ROOTS[7],
    }
    assert verify_inclusion(**args)
    assert not verify_inclusion(**(args | bad))


@pytest.mark.parametrize(
    "bad",
    [
        {"old_size": -6},
        {"old_size": 9},
        {"new_size": None},
        {"proof": "abc"},
        {"proof": [b"\x00" * 33]},
        {"old_root": b""},
    ],
)
def test_verify_consistency_returns_false_instead_of_raising(bad: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "old_size": 6,
        "new_size": 8,
        "proof": CONSISTENCY_VECTORS[2][2],
        "old_root": ROOTS[5],
        "new_root": ROOTS[7],
    }
    assert verify_consistency(**args)
    assert not verify_consistency(**(args | bad))


def test_verify_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(verify_module.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in verify.py"
            imported.add((node.module or "").split(".")[0])
    import sys

    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
