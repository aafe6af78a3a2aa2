"""``brightline ledger verify`` never writes (issue 16, point 1): on SQLite and
PostgreSQL it leaves every ledger row and the outbox cursor as they were, with events
pending and after the tail of the log was deleted; a later change commits but the sync
refuses to sign the shorter log (exit 5)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, text

from brightline.cli import app
from brightline.ledger import decode_entry_bundle, encode_entry_bundle
from brightline.store import append_outbox, open_store
from brightline.store.ledger_models import LedgerBundleRow, LedgerTileRow
from cli.people import ADMIN, People, words

TABLES = (
    "ledger_bundles",
    "ledger_tiles",
    "ledger_checkpoints",
    "ledger_cosignatures",
    "ledger_logs",
    "outbox_cursors",
)


def _url(people: People) -> str:
    url = people.runner.env["BRIGHTLINE_DATABASE_URL"]
    assert url is not None
    return url


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    with open_store(url, migrate=False) as store, store.read() as session:
        return {
            t: [tuple(r) for r in session.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))]
            for t in TABLES
        }


def _pending_change(people: People, name: str) -> None:
    """An outbox event the ledger has not logged yet (written alone, without the history
    row a real grant would have: these verify runs skip the store audit, which would
    name it)."""
    with open_store(_url(people), migrate=False) as store, store.write() as session:
        append_outbox(
            session,
            "principal.role-granted",
            {"role": "auditor", "principal": name},
            at=datetime.now(UTC),
        )


def test_verify_writes_nothing_even_with_pending_events_and_a_shortened_log(
    people: People, tmp_path: Path
) -> None:
    people.invoke("ledger", "keygen")
    people.enrol("aude", "auditor")
    people.invoke("ledger", "sync", by="aude")
    size = int(people.invoke("ledger", "verify", by="aude").split("store: ")[1].split()[0])
    _pending_change(people, "p1")
    _pending_change(people, "p2")
    before = _rows(_url(people))
    out = words(people.invoke("ledger", "verify", "--no-store-audit", by="aude"))
    assert "2 outbox event(s) not yet logged" in out
    assert "run `brightline ledger sync`" in out
    assert f"verified store: {size} entries" in out
    assert _rows(_url(people)) == before

    # Delete the last entry, from the bundle and the tile alike (as an insider could).
    with open_store(_url(people), migrate=False) as store, store.write() as session:
        assert size < 256
        bundle = session.get(LedgerBundleRow, (1, 0))
        tile = session.get(LedgerTileRow, (1, 0, 0))
        assert bundle is not None
        assert tile is not None
        bundle.entries = encode_entry_bundle(decode_entry_bundle(bundle.entries)[:-1])
        bundle.width, bundle.salts = size - 1, bundle.salts[:-32]
        bundle.outbox_ids = bundle.outbox_ids[:-8]
        tile.width, tile.hashes = size - 1, tile.hashes[:-32]
        session.execute(delete(LedgerTileRow).where(LedgerTileRow.level > 0))
    tampered = _rows(_url(people))
    err = words(people.invoke("ledger", "verify", "--no-store-audit", by="aude", code=5))
    assert f"entry {size - 1}: missing" in err
    assert _rows(_url(people)) == tampered  # no checkpoint of the shorter log

    # A new change commits (it is in the outbox) but the ledger refuses to log it.
    err = words(people.invoke("principal", "grant", "aude", "investigator", by=ADMIN, code=5))
    assert "refuses to append or sign" in err
    assert f"entry {size - 1}: missing" in err
    after = _rows(_url(people))
    assert after["ledger_checkpoints"] == tampered["ledger_checkpoints"]
    assert after["outbox_cursors"] == tampered["outbox_cursors"]
    # verify still fails, writes nothing, and counts the events waiting (the grant's too).
    result = people.runner.invoke(
        app, ["ledger", "verify", "--no-store-audit", "--key-file", str(people.key_file("aude"))]
    )
    assert result.exit_code == 5
    assert "3 outbox event(s) not yet logged" in words(result.stdout)
    assert _rows(_url(people)) == after
