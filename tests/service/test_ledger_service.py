"""The ledger over the store, on SQLite and PostgreSQL: exactly-once logging of the outbox,
signed checkpoints, proofs an outsider can check, disclosure, and tamper detection that
names the first bad entry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from brightline.errors import LedgerIntegrityError
from brightline.ledger import (
    TamperedLogError,
    check_disclosure,
    decode_entry_bundle,
    encode_entry_bundle,
    generate_key,
    leaf_hash,
    verify_inclusion,
)
from brightline.service import approve_restriction, propose_restrictions
from brightline.service.ledger import (
    consistency,
    disclose,
    export_tiles_dir,
    ledger_status,
    prove_inclusion,
    sync_ledger,
    verify_store,
    verify_tiles,
)
from brightline.store import Store, append_outbox
from brightline.store.ledger import iter_public
from brightline.store.ledger_models import LedgerBundleRow
from principals import NO_TELEMETRY
from service.store_scenarios import ALICE, BOB, restriction_yaml

T = datetime(2025, 10, 1, tzinfo=UTC)
SIGNER = generate_key("test.brightline/ledger")
VERIFIER = SIGNER.verifier()


def add_events(store: Store, count: int, *, kind: str = "principal.role-granted") -> None:
    """Events of a type whose entries publish their type, day and commitment only, with
    private extras."""
    with store.write() as session:
        for i in range(count):
            payload = {"role": "auditor", "n": i, "secret": f"reporter-{i}"}
            append_outbox(session, kind, payload, at=T)


def test_sync_logs_every_event_once_in_order(world_store: Store) -> None:
    add_events(world_store, 5)
    first = sync_ledger(world_store, signer=SIGNER, now=T)
    assert first.appended == 6  # the world import, then the five events
    again = sync_ledger(world_store, signer=SIGNER, now=T)
    assert again.appended == 0
    assert again.size == 6
    with world_store.read() as session:
        rows = list(iter_public(session))
    assert [seq for seq, _ in rows] == list(range(6))
    assert b'"type":"world.imported"' in rows[0][1]
    assert all(b"reporter-" not in public for _, public in rows)  # private stays private
    assert disclose(world_store, 3).record["secret"] == "reporter-2"
    assert disclose(world_store, 3).public["public"] == {}
    assert disclose(world_store, 3).public["time"] == "2025-10-01T00:00:00Z"
    status = ledger_status(world_store)
    assert status.size == 6
    assert status.checkpoint is not None
    assert status.checkpoint.size == 6


def test_an_unknown_event_type_stops_the_sync_and_publishes_nothing(world_store: Store) -> None:
    sync_ledger(world_store, signer=SIGNER, now=T)
    add_events(world_store, 2)
    add_events(world_store, 1, kind="case.renamed")
    with pytest.raises(LedgerIntegrityError, match=r"'case\.renamed'"):
        sync_ledger(world_store, signer=SIGNER, now=T)
    assert ledger_status(world_store).size == 1  # not even the known events before it
    with world_store.read() as session:
        assert all(b"case.renamed" not in public for _, public in iter_public(session))


def test_an_approval_publishes_its_reference_policy_and_tags_and_no_names(
    world_store: Store,
) -> None:
    at = datetime(2025, 10, 1, 17, 42, 7, 1234, tzinfo=UTC)
    propose_restrictions(world_store, restriction_yaml("r-pub"), name="r.yaml", actor=ALICE, now=at)
    approve_restriction(world_store, "r-pub", actor=BOB, now=at, settings=NO_TELEMETRY)
    sync_ledger(world_store, signer=SIGNER, now=T)
    assert disclose(world_store, 1).public["public"] == {}  # the proposal
    disclosure = disclose(world_store, 2)
    assert disclosure.event_type == "restriction.approved"
    public = disclosure.public["public"]
    assert public["restriction"] == "R-1"
    assert public["kind"] == "approved"
    assert "bob" not in str(disclosure.public)
    assert "r-pub" not in str(disclosure.public)
    assert disclosure.public["time"] == "2025-10-01T00:00:00Z"
    assert disclosure.record["actor"] == "bob"
    assert disclosure.record["restriction"] == "r-pub"
    assert disclosure.record["at"] == "2025-10-01T17:42:07.001234Z"  # exact, in private


def test_inclusion_proofs_verify_with_the_standalone_verifier(world_store: Store) -> None:
    add_events(world_store, 300)
    sync_ledger(world_store, signer=SIGNER, now=T)
    status = ledger_status(world_store)
    for index in (0, 1, 255, 256, 299, 300):
        proof = prove_inclusion(world_store, index)
        assert proof.size == status.size == 301
        assert verify_inclusion(proof.leaf_hash, index, proof.size, list(proof.proof), status.root)
        assert not verify_inclusion(
            proof.leaf_hash, index, proof.size, list(proof.proof), bytes(32)
        )


def test_disclosure_lets_an_auditor_check_the_record(world_store: Store) -> None:
    add_events(world_store, 3)
    sync_ledger(world_store, signer=SIGNER, now=T)
    d = disclose(world_store, 2)
    with world_store.read() as session:
        public = dict(iter_public(session))[2]
    assert check_disclosure(public, d.record, bytes.fromhex(d.salt))
    assert not check_disclosure(public, {**d.record, "n": 99}, bytes.fromhex(d.salt))
    assert d.proof.leaf_hash == leaf_hash(public)


def test_consistency_between_checkpoints(world_store: Store) -> None:
    add_events(world_store, 10)
    old = sync_ledger(world_store, signer=SIGNER, now=T)
    add_events(world_store, 500)
    sync_ledger(world_store, signer=SIGNER, now=T)
    report = verify_store(world_store, VERIFIER, older=old.checkpoint)
    assert report.size == 511
    assert report.checkpoints_checked == 2
    assert consistency(world_store, 11, 511)


def test_a_rewritten_history_is_not_consistent(world_store: Store, tmp_path: Path) -> None:
    add_events(world_store, 20)
    sync_ledger(world_store, signer=SIGNER, now=T)
    from brightline.ledger import Checkpoint, sign_checkpoint

    forged = sign_checkpoint(Checkpoint(SIGNER.name, 5, bytes(range(32))), SIGNER)
    with pytest.raises(LedgerIntegrityError, match="not an extension"):
        verify_store(world_store, VERIFIER, older=forged)


def _tamper(store: Store, how: str, *, log: int = 1, index: int = 7) -> None:
    """Change the stored entries of a log's bundle 0 the way an insider with database
    access could: alter, remove or insert the entry at ``index``, or swap it with the
    one two further on."""
    with store.write() as session:
        row = session.get(LedgerBundleRow, (log, 0))
        entries = decode_entry_bundle(row.entries)
        if how == "alter":
            entries[index] = b'{"v":1}'
        elif how == "remove":
            del entries[index]
        elif how == "reorder":
            entries[index], entries[index + 2] = entries[index + 2], entries[index]
        elif how == "insert":
            entries.insert(index, b'{"forged":true}')
        session.execute(
            update(LedgerBundleRow)
            .where(LedgerBundleRow.log == log, LedgerBundleRow.bundle == 0)
            .values(entries=encode_entry_bundle(entries), width=len(entries))
        )


@pytest.mark.parametrize("how", ["alter", "remove", "reorder", "insert"])
def test_tampered_rows_are_detected_at_the_first_bad_index(world_store: Store, how: str) -> None:
    add_events(world_store, 12)
    sync_ledger(world_store, signer=SIGNER, now=T)
    verify_store(world_store, VERIFIER)
    _tamper(world_store, how)
    with pytest.raises(TamperedLogError) as info:
        verify_store(world_store, VERIFIER)
    assert info.value.first_bad_index == 7


def test_exported_tiles_verify_and_detect_tampering(world_store: Store, tmp_path: Path) -> None:
    add_events(world_store, 600)
    sync_ledger(world_store, signer=SIGNER, now=T)
    out = tmp_path / "tiles"
    checkpoint = export_tiles_dir(world_store, out, VERIFIER)
    assert checkpoint.size == 601
    assert verify_tiles(out, VERIFIER).size == 601
    bundle = out / "tile" / "entries" / "001"
    data = bytearray(bundle.read_bytes())
    data[10] ^= 1
    bundle.write_bytes(bytes(data))
    with pytest.raises(TamperedLogError) as info:
        verify_tiles(out, VERIFIER)
    assert info.value.first_bad_index == 256


def test_verify_needs_a_checkpoint(world_store: Store) -> None:
    sync_ledger(world_store, signer=None, now=T)
    with pytest.raises(LedgerIntegrityError, match="no signed checkpoint"):
        verify_store(world_store, VERIFIER)


def test_a_checkpoint_signed_by_another_key_is_refused(world_store: Store) -> None:
    sync_ledger(world_store, signer=generate_key("other.log/x"), now=T)
    with pytest.raises(LedgerIntegrityError):
        verify_store(world_store, VERIFIER)
