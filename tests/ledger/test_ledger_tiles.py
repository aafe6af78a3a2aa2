"""C2SP tlog-tiles: paths, entry bundles, export, readback and tamper detection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from brightline.errors import InvalidInputError, LedgerIntegrityError, StorageError
from brightline.ledger.audit import TamperedLogError
from brightline.ledger.checkpoint import Checkpoint, NoteSigner, generate_key, sign_checkpoint
from brightline.ledger.tiles import (
    TileDirSource,
    TilePath,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    export_tiles,
    read_entries,
    tile_path,
    verify_tile_dir,
)
from brightline.ledger.tree import MemoryHashStore, TileAppender, TiledTree
from brightline.ledger.verify import leaf_hash
from tmpfs import PAGE, Tmpfs

ORIGIN = "brightline.example/ledger"


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 1234067, 256, "tile/0/x001/x234/067"),
        (0, 1234067, 8, "tile/0/x001/x234/067.p/8"),
        (1, 0, 256, "tile/1/000"),
        (2, 5, 1, "tile/2/005.p/1"),
        (0, 999, 256, "tile/0/999"),
        (0, 1000, 256, "tile/0/x001/000"),
        (3, 1_000_000, 255, "tile/3/x001/x000/000.p/255"),
    ],
)
def test_tile_paths(level: int, index: int, width: int, path: str) -> None:
    assert tile_path(level, index, width) == path
    assert TilePath.parse(path) == TilePath(level, index, width)


def test_entry_bundle_paths() -> None:
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(0, 3) == "tile/entries/000.p/3"
    assert TilePath.parse("tile/entries/x001/x234/067.p/8") == TilePath(None, 1234067, 8)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1234067",
        "tile/0/x000/067",
        "tile/0/067.p/256",
        "tile/0/067.p/0",
        "tile/64/000",
        "tile/01/000",
        "tile/0/67",
        "tile/data/000",
    ],
)
def test_non_canonical_paths_are_rejected(path: str) -> None:
    with pytest.raises(InvalidInputError):
        TilePath.parse(path)


@pytest.mark.parametrize(
    ("level", "index", "width"), [(-1, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257)]
)
def test_out_of_range_paths_are_rejected(level: int, index: int, width: int) -> None:
    with pytest.raises(InvalidInputError):
        tile_path(level, index, width)


def test_entry_bundles_round_trip() -> None:
    entries = [b"", b"a", bytes(300), bytes(65535)]
    blob = encode_entry_bundle(entries)
    assert blob[:5] == b"\x00\x00\x00\x01a"
    assert decode_entry_bundle(blob) == entries
    with pytest.raises(InvalidInputError):
        decode_entry_bundle(blob[:-1])
    with pytest.raises(InvalidInputError):
        encode_entry_bundle([bytes(65536)])


# --- export and readback -----------------------------------------------------------------


def entry(i: int) -> bytes:
    return f'{{"seq": {i}, "event": "restriction.approved"}}'.encode()


@pytest.fixture
def signer() -> NoteSigner:
    return generate_key(ORIGIN)


def export(directory: Path, signer: NoteSigner, size: int) -> list[bytes]:
    entries = [entry(i) for i in range(size)]
    store, appender = MemoryHashStore(), TileAppender()
    store.write_tiles(appender.append(leaf_hash(e) for e in entries))
    note = sign_checkpoint(Checkpoint(ORIGIN, size, appender.root()), signer)
    export_tiles(
        directory, source=store, entries=entries, signed_checkpoint=note, verifier=signer.verifier()
    )
    return entries


@pytest.mark.parametrize("size", [0, 1, 255, 256, 1000, 65_536 + 5])
def test_export_then_verify(tmp_path: Path, signer: NoteSigner, size: int) -> None:
    entries = export(tmp_path, signer, size)
    checkpoint = verify_tile_dir(tmp_path, signer.verifier())
    assert checkpoint.size == size
    assert list(read_entries(tmp_path, size)) == entries
    assert TiledTree(TileDirSource(tmp_path)).root(size) == checkpoint.root_hash


def test_export_writes_the_spec_layout(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 1000)
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "checkpoint",
        "tile/0/000",
        "tile/0/001",
        "tile/0/002",
        "tile/0/003.p/232",
        "tile/1/000.p/3",
        "tile/entries/000",
        "tile/entries/001",
        "tile/entries/002",
        "tile/entries/003.p/232",
    ]
    assert (tmp_path / "tile/0/000").stat().st_size == 256 * 32


def test_export_refuses_a_checkpoint_for_another_tree(tmp_path: Path, signer: NoteSigner) -> None:
    store, appender = MemoryHashStore(), TileAppender()
    store.write_tiles(appender.append([leaf_hash(entry(0))]))
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, leaf_hash(b"other")), signer)
    with pytest.raises(LedgerIntegrityError):
        export_tiles(
            tmp_path,
            source=store,
            entries=[entry(0)],
            signed_checkpoint=note,
            verifier=signer.verifier(),
        )
    assert not (tmp_path / "checkpoint").exists()


def test_export_refuses_missing_entries(tmp_path: Path, signer: NoteSigner) -> None:
    store, appender = MemoryHashStore(), TileAppender()
    store.write_tiles(appender.append([leaf_hash(entry(0)), leaf_hash(entry(1))]))
    note = sign_checkpoint(Checkpoint(ORIGIN, 2, appender.root()), signer)
    with pytest.raises(LedgerIntegrityError):
        export_tiles(
            tmp_path,
            source=store,
            entries=[entry(0)],
            signed_checkpoint=note,
            verifier=signer.verifier(),
        )
    assert not (tmp_path / "checkpoint").exists()


Change = Callable[[list[bytes]], list[bytes]]


def rewrite_bundle(directory: Path, relative: str, change: Change) -> None:
    path = directory / relative
    entries = decode_entry_bundle(path.read_bytes())
    path.write_bytes(encode_entry_bundle(change(entries)))


def first_bad(directory: Path, signer: NoteSigner) -> int | None:
    with pytest.raises(TamperedLogError) as caught:
        verify_tile_dir(directory, signer.verifier())
    return caught.value.first_bad_index


def _alter(entries: list[bytes]) -> list[bytes]:
    entries[17] = b"forged"
    return entries


def _remove(entries: list[bytes]) -> list[bytes]:
    del entries[17]
    return entries


def _insert(entries: list[bytes]) -> list[bytes]:
    entries.insert(17, b"inserted")
    return entries


def _reorder(entries: list[bytes]) -> list[bytes]:
    entries[17], entries[40] = entries[40], entries[17]
    return entries


@pytest.mark.parametrize("change", [_alter, _remove, _insert, _reorder])
@pytest.mark.parametrize(
    ("bundle", "offset"), [("tile/entries/001", 256), ("tile/entries/003.p/232", 768)]
)
def test_tampered_entries_are_located(
    tmp_path: Path, signer: NoteSigner, change: Change, bundle: str, offset: int
) -> None:
    export(tmp_path, signer, 1000)
    rewrite_bundle(tmp_path, bundle, change)
    assert first_bad(tmp_path, signer) == offset + 17


def test_a_removed_bundle_is_located(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 1000)
    (tmp_path / "tile/entries/002").unlink()
    assert first_bad(tmp_path, signer) == 512


def test_a_truncated_bundle_is_located(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 1000)
    path = tmp_path / "tile/entries/001"
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) - 3])
    assert first_bad(tmp_path, signer) == 256 + 255


def test_swapped_bundles_are_located(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 1000)
    a, b = tmp_path / "tile/entries/001", tmp_path / "tile/entries/002"
    blob_a, blob_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(blob_b)
    b.write_bytes(blob_a)
    assert first_bad(tmp_path, signer) == 256


def test_a_tampered_hash_tile_is_located(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 1000)
    path = tmp_path / "tile/0/002"
    blob = bytearray(path.read_bytes())
    blob[32 * 9 + 5] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert first_bad(tmp_path, signer) == 512 + 9


def test_a_tampered_upper_tile_is_located(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 1000)
    path = tmp_path / "tile/1/000.p/3"
    blob = bytearray(path.read_bytes())
    blob[32 * 2] ^= 1
    path.write_bytes(bytes(blob))
    assert first_bad(tmp_path, signer) == 512


def test_a_removed_hash_tile_is_located(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 1000)
    (tmp_path / "tile/0/001").unlink()
    assert first_bad(tmp_path, signer) == 256


def test_a_consistently_rewritten_log_fails_without_an_index(
    tmp_path: Path, signer: NoteSigner
) -> None:
    export(tmp_path, signer, 300)
    checkpoint = (tmp_path / "checkpoint").read_text()
    other = tmp_path / "other"
    entries = [entry(i) for i in range(300)]
    entries[5] = b"rewritten"
    store, appender = MemoryHashStore(), TileAppender()
    store.write_tiles(appender.append(leaf_hash(e) for e in entries))
    forged_note = sign_checkpoint(Checkpoint(ORIGIN, 300, appender.root()), signer)
    export_tiles(
        other,
        source=store,
        entries=entries,
        signed_checkpoint=forged_note,
        verifier=signer.verifier(),
    )
    (other / "checkpoint").write_text(checkpoint)  # the honest signed checkpoint
    assert first_bad(other, signer) is None


def test_a_tampered_checkpoint_is_rejected(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 10)
    path = tmp_path / "checkpoint"
    path.write_text(path.read_text().replace("\n10\n", "\n11\n"))
    with pytest.raises(LedgerIntegrityError):
        verify_tile_dir(tmp_path, signer.verifier())


def test_a_missing_checkpoint_is_rejected(tmp_path: Path, signer: NoteSigner) -> None:
    with pytest.raises(LedgerIntegrityError):
        verify_tile_dir(tmp_path, signer.verifier())


def test_a_full_tile_serves_for_a_partial_one(tmp_path: Path, signer: NoteSigner) -> None:
    export(tmp_path, signer, 256)
    source = TileDirSource(tmp_path)
    assert source.read_tile(0, 0, 10) == (tmp_path / "tile/0/000").read_bytes()[: 10 * 32]


def test_an_export_onto_a_full_disk_leaves_the_published_log_verifiable(
    tmpfs: Tmpfs, signer: NoteSigner
) -> None:
    published = tmpfs.path / "ledger"
    export(published, signer, 1000)
    tmpfs.fill(leave=4 * PAGE)  # room for a few of the new tiles, not all
    with pytest.raises(StorageError, match="No space left on device"):
        export(published, signer, 5000)
    assert verify_tile_dir(published, signer.verifier()).size == 1000
    hidden = [p for p in published.rglob(".*") if p.is_file()]
    assert hidden == []
