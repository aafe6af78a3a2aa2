"""The ledger package exports exactly its public names."""

from __future__ import annotations

import brightline.ledger as ledger


def test_all_names_exist_and_are_public() -> None:
    assert sorted(ledger.__all__) == sorted(set(ledger.__all__))
    for name in ledger.__all__:
        assert not name.startswith("_")
        assert hasattr(ledger, name), name


def test_public_surface() -> None:
    assert {
        "verify_inclusion",
        "verify_consistency",
        "leaf_hash",
        "node_hash",
        "root_from_leaves",
        "TiledTree",
        "TileAppender",
        "MemoryHashStore",
        "HashSource",
        "Checkpoint",
        "sign_checkpoint",
        "open_checkpoint",
        "generate_key",
        "export_tiles",
        "verify_tile_dir",
    } <= set(ledger.__all__)
