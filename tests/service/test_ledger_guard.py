"""The ledger never signs a log that is not an extension of its latest signed checkpoint,
and both the sync and verify name the first bad index (issue 16, points 1 and 4): on
SQLite and PostgreSQL, after rows were deleted, shortened, widened or rewritten by someone
with database access."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, text, update

from brightline.errors import LedgerIntegrityError, StoreUnavailableError
from brightline.ledger import (
    TILE_WIDTH,
    TamperedLogError,
    decode_entry_bundle,
    encode_entry_bundle,
    generate_key,
)
from brightline.service.ledger import sync_ledger, unlogged, verify_store
from brightline.store import Store, append_outbox
from brightline.store.ledger_models import LedgerBundleRow, LedgerTileRow

T = datetime(2025, 10, 1, tzinfo=UTC)
SIGNER = generate_key("test.brightline/ledger")
VERIFIER = SIGNER.verifier()
TABLES = (
    "ledger_bundles",
    "ledger_tiles",
    "ledger_checkpoints",
    "ledger_cosignatures",
    "ledger_logs",
    "outbox_cursors",
)


def add_events(store: Store, count: int) -> None:
    with store.write() as session:
        for i in range(count):
            append_outbox(session, "principal.role-granted", {"role": "auditor", "n": i}, at=T)


def logged(store: Store, size: int) -> None:
    """A signed log of exactly ``size`` entries (the world import is the first)."""
    add_events(store, size - 1)
    assert sync_ledger(store, signer=SIGNER, now=T).size == size


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the ledger's tables and the outbox cursors, in key order."""
    with store.read() as session:
        return {
            table: [
                tuple(row) for row in session.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
            ]
            for table in TABLES
        }


def shorten(store: Store, *, keep: int, tiles: bool = True) -> None:
    """Delete the tail of the log from index ``keep`` on, as an insider would: the
    bundles after it go, the last one is cut to its new width; with ``tiles``, the same
    for the hash tiles of level 0."""
    bundle, width = divmod(keep, TILE_WIDTH)
    with store.write() as session:
        session.execute(delete(LedgerBundleRow).where(LedgerBundleRow.bundle > bundle))
        row = session.get(LedgerBundleRow, (1, bundle))
        assert row is not None
        session.execute(
            update(LedgerBundleRow)
            .where(LedgerBundleRow.log == 1, LedgerBundleRow.bundle == bundle)
            .values(
                width=width,
                entries=encode_entry_bundle(decode_entry_bundle(row.entries)[:width]),
                salts=row.salts[: 32 * width],
                outbox_ids=row.outbox_ids[: 8 * width],
            )
        )
        if tiles:
            level0 = (LedgerTileRow.log == 1, LedgerTileRow.level == 0)
            session.execute(delete(LedgerTileRow).where(*level0, LedgerTileRow.tile > bundle))
            tile = session.get(LedgerTileRow, (1, 0, bundle))
            assert tile is not None
            session.execute(
                update(LedgerTileRow)
                .where(*level0, LedgerTileRow.tile == bundle)
                .values(width=width, hashes=tile.hashes[: 32 * width])
            )


def widen(store: Store, *, bundle: int) -> None:
    """Add one forged entry at the end of a bundle, leaving the hash tiles as they were."""
    with store.write() as session:
        row = session.get(LedgerBundleRow, (1, bundle))
        assert row is not None
        entries = [*decode_entry_bundle(row.entries), b'{"forged":true}']
        session.execute(
            update(LedgerBundleRow)
            .where(LedgerBundleRow.log == 1, LedgerBundleRow.bundle == bundle)
            .values(
                width=len(entries),
                entries=encode_entry_bundle(entries),
                salts=row.salts + bytes(32),
                outbox_ids=row.outbox_ids + (10**6).to_bytes(8, "big"),
            )
        )


def checkpoint_sizes(store: Store) -> list[int]:
    with store.read() as session:
        return list(session.scalars(text("SELECT size FROM ledger_checkpoints ORDER BY id")))


def test_a_shortened_log_is_never_signed_and_nothing_is_appended(world_store: Store) -> None:
    logged(world_store, 2 * TILE_WIDTH + 5)
    shorten(world_store, keep=TILE_WIDTH + 1)  # entry 257 on is gone, tiles and all
    before = snapshot(world_store)
    # With nothing to log, the sync used to sign the shorter log.
    with pytest.raises(TamperedLogError, match="entry 257: missing") as info:
        sync_ledger(world_store, signer=SIGNER, now=T)
    assert info.value.first_bad_index == TILE_WIDTH + 1
    assert f"its latest signed checkpoint has {2 * TILE_WIDTH + 5}" in str(info.value)
    # A new state change commits to the outbox; the sync refuses to log it.
    add_events(world_store, 1)
    with pytest.raises(TamperedLogError, match="entry 257: missing"):
        sync_ledger(world_store, signer=SIGNER, now=T)
    assert snapshot(world_store) == before
    assert checkpoint_sizes(world_store) == [2 * TILE_WIDTH + 5]
    assert unlogged(world_store) == 1
    with pytest.raises(TamperedLogError, match="entry 257: missing") as verified:
        verify_store(world_store, VERIFIER)
    assert verified.value.first_bad_index == TILE_WIDTH + 1


def test_a_narrowed_bundle_is_named_with_its_width(world_store: Store) -> None:
    logged(world_store, 2 * TILE_WIDTH + 5)
    shorten(world_store, keep=2 * TILE_WIDTH + 3, tiles=False)
    expected = "entry 515: missing (entry bundle 2 width 3 but tiles say 5); first bad index 515"
    with pytest.raises(TamperedLogError) as synced:
        sync_ledger(world_store, signer=SIGNER, now=T)
    assert expected in str(synced.value)
    assert synced.value.first_bad_index == 515
    with pytest.raises(TamperedLogError) as verified:
        verify_store(world_store, VERIFIER)
    assert expected in str(verified.value)
    assert verified.value.first_bad_index == 515


def test_a_widened_bundle_is_named_with_its_width(world_store: Store) -> None:
    logged(world_store, 2 * TILE_WIDTH + 5)
    widen(world_store, bundle=2)
    add_events(world_store, 1)
    before = snapshot(world_store)
    expected = "entry 517: no stored hash"
    with pytest.raises(TamperedLogError, match=expected) as synced:
        sync_ledger(world_store, signer=SIGNER, now=T)
    assert "entry bundle 2 width 6 but tiles say 5" in str(synced.value)
    assert synced.value.first_bad_index == 517
    assert snapshot(world_store) == before
    with pytest.raises(TamperedLogError, match=expected) as verified:
        verify_store(world_store, VERIFIER)
    assert verified.value.first_bad_index == 517


def test_an_entry_inserted_into_the_last_bundle_is_named(world_store: Store) -> None:
    logged(world_store, TILE_WIDTH + 12)
    with world_store.write() as session:
        row = session.get(LedgerBundleRow, (1, 1))
        assert row is not None
        entries = decode_entry_bundle(row.entries)
        entries.insert(4, b'{"forged":true}')
        row.entries, row.width = encode_entry_bundle(entries), len(entries)
    with pytest.raises(TamperedLogError, match="entry 260 differs from its stored hash") as info:
        sync_ledger(world_store, signer=SIGNER, now=T)
    assert info.value.first_bad_index == TILE_WIDTH + 4


def test_a_rewritten_tile_stops_the_sync_and_verify_names_it(world_store: Store) -> None:
    logged(world_store, TILE_WIDTH + 12)
    with world_store.write() as session:
        # The hash of the first 256 entries, which the root is made of.
        tile = session.get(LedgerTileRow, (1, 1, 0))
        assert tile is not None
        tile.hashes = bytes([tile.hashes[0] ^ 1]) + tile.hashes[1:]
    add_events(world_store, 1)
    before = snapshot(world_store)
    with pytest.raises(TamperedLogError, match="no longer give the root") as synced:
        sync_ledger(world_store, signer=SIGNER, now=T)
    assert f"({TILE_WIDTH + 12} entries)" in str(synced.value)
    assert snapshot(world_store) == before
    with pytest.raises(TamperedLogError, match="hash tiles differ") as verified:
        verify_store(world_store, VERIFIER)
    assert verified.value.first_bad_index == 0


def test_an_intact_log_still_grows_and_signs(world_store: Store) -> None:
    logged(world_store, TILE_WIDTH + 12)
    add_events(world_store, 300)
    result = sync_ledger(world_store, signer=SIGNER, now=T)
    assert result.size == 2 * TILE_WIDTH + 56
    assert checkpoint_sizes(world_store) == [TILE_WIDTH + 12, 2 * TILE_WIDTH + 56]
    assert verify_store(world_store, VERIFIER).size == 2 * TILE_WIDTH + 56


@pytest.mark.parametrize(
    ("table", "column", "value", "kind"),
    [
        ("ledger_bundles", "entries", "CAST(entries AS TEXT)", "text"),
        ("ledger_bundles", "salts", "CAST(salts AS TEXT)", "text"),
        ("ledger_tiles", "hashes", "CAST(hashes AS TEXT)", "text"),
        ("ledger_tiles", "hashes", "12", "an integer"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_integrity_failure_naming_its_row(
    world_store: Store, table: str, column: str, value: str, kind: str
) -> None:
    logged(world_store, 20)
    rewrite = text(f"UPDATE {table} SET {column} = {value}")
    if world_store.backend == "postgresql":
        # PostgreSQL keeps the column's type: the rewrite itself is refused.
        with pytest.raises(StoreUnavailableError), world_store.write() as session:
            session.execute(rewrite)
        return
    with world_store.write() as session:
        session.execute(rewrite)
    add_events(world_store, 1)
    row = "log 1, bundle 0" if table == "ledger_bundles" else "log 1, level 0, tile 0"
    named = f"{table} row ({row}): column {column} holds {kind}"
    for attempt in (
        lambda: verify_store(world_store, VERIFIER),
        lambda: sync_ledger(world_store, signer=SIGNER, now=T),
    ):
        with pytest.raises(LedgerIntegrityError) as info:
            attempt()
        assert named in str(info.value)
        assert "\\x" not in str(info.value)
        assert str(info.value).isprintable()
    assert checkpoint_sizes(world_store) == [20]


def test_a_read_only_store_writes_nothing(world_store: Store, store_url: str) -> None:
    from brightline.errors import ConflictError
    from brightline.store import open_store

    logged(world_store, 5)
    with open_store(store_url, read_only=True) as readonly:
        with pytest.raises(ConflictError, match="read-only"), readonly.write():
            pass
        # The database itself refuses: PRAGMA query_only, default_transaction_read_only.
        with pytest.raises(StoreUnavailableError), readonly.read() as session:
            session.execute(delete(LedgerBundleRow))
        assert verify_store(readonly, VERIFIER).size == 5
    with world_store.read() as session:
        assert len(session.scalars(select(LedgerBundleRow)).all()) == 1
