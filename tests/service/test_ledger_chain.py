"""Sealing a log and continuing in a new one, on SQLite and PostgreSQL: the old log keeps its
size for ever, new entries go to the new log only, and a verifier walks the chain back
from the current log to the first, naming what was tampered with."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from brightline.access import AccessDeniedError, Role
from brightline.config import Settings
from brightline.errors import ConflictError, LedgerIntegrityError, NotFoundError
from brightline.ledger import (
    CONTINUED,
    Checkpoint,
    TamperedLogError,
    generate_key,
    note_sha256,
    read_signer,
    sign_checkpoint,
)
from brightline.service.ledger import (
    disclose,
    export_tiles_dir,
    keygen,
    ledger_status,
    prove_inclusion,
    sync,
    sync_ledger,
    verify_store,
)
from brightline.service.ledger_keys import LedgerKeys, sealed_verifiers, stage_key
from brightline.service.ledger_seal import SealResult, log_verifier, seal_and_restart
from brightline.service.ledger_verify import verify_chain, verify_tiles_chain
from brightline.store import Store, append_outbox, open_store, read_outbox
from brightline.store.ledger import (
    StoredLog,
    add_checkpoint,
    checkpoints,
    entry_at,
    iter_public,
    ledger_logs,
    ledger_size,
)
from brightline.store.ledger_models import LedgerCheckpointRow
from principals import principal
from service.store_scenarios import kill_writers_repeatedly
from service.test_ledger_service import _tamper

T = datetime(2025, 10, 1, tzinfo=UTC)
ADMIN = principal("sealer-7", Role.ADMIN)
ORIGIN = "brightline.local/ledger"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The deployment's data directory, holding the first log's key."""
    made = Settings(data_dir=tmp_path / "data")
    keygen(made)
    return made


def add_events(store: Store, count: int) -> None:
    with store.write() as session:
        for i in range(count):
            append_outbox(session, "principal.role-granted", {"role": "auditor", "n": i}, at=T)


def seal(settings: Settings, store: Store, expected: int, **kwargs: str) -> SealResult:
    return seal_and_restart(settings, store, actor=ADMIN, expected=expected, now=T, **kwargs)


def sealed(settings: Settings, store: Store, times: int) -> list[int]:
    """Sync, then seal ``times`` times with two events in between; the final sizes."""
    sizes = []
    for n in range(1, times + 1):
        add_events(store, 2)
        sizes.append(seal(settings, store, n).final_size)
    add_events(store, 3)
    sync(settings, store)
    return sizes


def chain(settings: Settings, store: Store) -> tuple[int, ...]:
    current = LedgerKeys.of(settings).verifier()
    reports = verify_chain(store, current, sealed=sealed_verifiers(settings))
    return tuple(r.size for r in reports)


def test_seal_twice_then_verify_the_chain(world_store: Store, settings: Settings) -> None:
    sync(settings, world_store)
    sizes = sealed(settings, world_store, 2)
    assert sizes == [3, 3]  # the world import and two events; the continued entry and two
    assert [log.origin for log in _logs(world_store)] == [ORIGIN, f"{ORIGIN}/2", f"{ORIGIN}/3"]
    assert chain(settings, world_store) == (4, 3, 3)  # newest first
    # The current log's key is named after it; the sealed logs' keys are filed by number.
    assert LedgerKeys.of(settings).verifier().name == f"{ORIGIN}/3"
    assert LedgerKeys.sealed(settings, 1).verifier().name == ORIGIN
    assert LedgerKeys.sealed(settings, 2).verifier().name == f"{ORIGIN}/2"
    assert log_verifier(settings, world_store, 2).name == f"{ORIGIN}/2"


def _logs(store: Store) -> list[StoredLog]:
    with store.read() as session:
        return ledger_logs(session)


def _forms(store: Store, log: int) -> list[dict[str, object]]:
    with store.read() as session:
        return [json.loads(public) for _, public in iter_public(session, log=log)]


def test_the_new_log_starts_with_what_a_verifier_needs_of_the_old(
    world_store: Store, settings: Settings
) -> None:
    add_events(world_store, 4)
    result = seal(settings, world_store, 1)
    first = _forms(world_store, 2)[0]
    assert first["type"] == CONTINUED
    final = Checkpoint.parse(result.final_checkpoint.split("\n\n")[0] + "\n")
    assert first["public"] == {
        "origin": ORIGIN,
        "size": 5,
        "root": final.body().split("\n")[2],
        "checkpoint_sha256": note_sha256(result.final_checkpoint).hex(),
    }
    # Its private record names who sealed; the public form does not.
    disclosed = disclose(world_store, 0, log=2)
    assert disclosed.record["actor"] == "sealer-7"
    assert "sealer-7" not in json.dumps(disclosed.public)
    assert result.checkpoint.startswith(f"{ORIGIN}/2\n1\n")


def test_after_the_seal_entries_go_to_the_new_log_and_the_old_never_changes(
    world_store: Store, settings: Settings
) -> None:
    add_events(world_store, 2)
    seal(settings, world_store, 1)
    with world_store.read() as session:
        old_checkpoints = checkpoints(session, log=1)
    for _ in range(3):
        add_events(world_store, 100)
        sync(settings, world_store)
    assert ledger_status(world_store, log=1).size == 3
    assert ledger_status(world_store).size == 301
    with world_store.read() as session:
        assert checkpoints(session, log=1) == old_checkpoints
    assert len(_forms(world_store, 1)) == 3
    assert prove_inclusion(world_store, 2, log=1).size == 3


def test_the_old_keys_cannot_sign_the_new_log(world_store: Store, settings: Settings) -> None:
    add_events(world_store, 1)
    seal(settings, world_store, 1)
    add_events(world_store, 1)
    old = read_signer(LedgerKeys.sealed(settings, 1).private)
    with pytest.raises(LedgerIntegrityError, match=r"current log is brightline\.local/ledger/2"):
        sync_ledger(world_store, signer=old, now=T)


def test_an_empty_log_is_not_sealed(store: Store, settings: Settings) -> None:
    with pytest.raises(ConflictError, match="empty"):
        seal(settings, store, 1)
    assert len(_logs(store)) == 1


def test_seal_refuses_what_it_must_not_do(world_store: Store, settings: Settings) -> None:
    with pytest.raises(AccessDeniedError):
        seal_and_restart(settings, world_store, actor=principal("aude", Role.AUDITOR))
    with pytest.raises(ConflictError, match="already exists"):
        seal(settings, world_store, 1, origin=ORIGIN)
    seal(settings, world_store, 1)
    with pytest.raises(ConflictError, match="sealed already"):
        seal(settings, world_store, 1)
    with pytest.raises(ConflictError, match="already exists"):
        seal(settings, world_store, 2, origin=f"{ORIGIN}/2")
    assert len(_logs(world_store)) == 2


def test_a_seal_interrupted_before_its_commit_reuses_the_staged_key(
    world_store: Store, settings: Settings
) -> None:
    add_events(world_store, 1)
    staged = stage_key(settings, f"{ORIGIN}/2")  # as if the seal died before committing
    with pytest.raises(ConflictError, match="unfinished seal"):
        seal(settings, world_store, 1, origin="elsewhere/2")
    assert seal(settings, world_store, 1).verifier == staged.verifier()
    assert chain(settings, world_store) == (1, 2)


# -- what the chain catches ---------------------------------------------------------------


def test_a_changed_final_checkpoint_breaks_the_chain(
    world_store: Store, settings: Settings
) -> None:
    sealed(settings, world_store, 2)
    with world_store.write() as session:
        row = session.get(LedgerCheckpointRow, checkpoints(session, log=1)[-1].id)
        assert row is not None
        row.note = row.note.replace("— ", "— x", 1)
    # The current log still verifies; the chain does not, and says where and why.
    verify_store(world_store, LedgerKeys.of(settings).verifier())
    with pytest.raises(LedgerIntegrityError) as info:
        chain(settings, world_store)
    message = str(info.value)
    assert message.startswith(f"log 2 ({ORIGIN}/2) does not continue log 1 ({ORIGIN})")
    assert "is not the one the ledger.continued entry commits to" in message


def test_a_later_checkpoint_of_a_sealed_log_breaks_the_chain(
    world_store: Store, settings: Settings
) -> None:
    """An insider holding the sealed log's old key signs it again, with more entries."""
    sealed(settings, world_store, 1)
    old = read_signer(LedgerKeys.sealed(settings, 1).private)
    with world_store.write() as session:
        note = sign_checkpoint(Checkpoint(ORIGIN, 9, bytes(32)), old)
        add_checkpoint(session, size=9, root=bytes(32), note=note, at=T, log=1)
    with pytest.raises(LedgerIntegrityError, match="does not continue log 1"):
        chain(settings, world_store)


def test_a_changed_continued_entry_is_named(world_store: Store, settings: Settings) -> None:
    sealed(settings, world_store, 2)
    _tamper(world_store, "alter", log=2, index=0)
    verify_store(world_store, LedgerKeys.of(settings).verifier())  # log 3 is intact
    with pytest.raises(TamperedLogError) as info:
        chain(settings, world_store)
    assert str(info.value).startswith(f"log 2 ({ORIGIN}/2): entries differ")
    assert info.value.first_bad_index == 0


def test_entries_added_to_a_sealed_log_are_found(world_store: Store, settings: Settings) -> None:
    sealed(settings, world_store, 1)
    _tamper(world_store, "insert", log=1, index=3)  # one more entry at the end of log 1
    with pytest.raises(LedgerIntegrityError, match=r"log 1 .*entries"):
        chain(settings, world_store)


def test_a_sealed_log_whose_key_is_missing_is_named(world_store: Store, settings: Settings) -> None:
    sealed(settings, world_store, 1)
    with pytest.raises(NotFoundError, match=r"sealed log 1 \(brightline.local/ledger\)"):
        verify_chain(world_store, LedgerKeys.of(settings).verifier(), sealed=[])


def test_a_continued_log_whose_predecessor_is_gone_is_refused(
    world_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Tiles: the outsider must be given every earlier log; a missing one is named."""
    sealed(settings, world_store, 2)
    out = {n: tmp_path / f"tiles-{n}" for n in (1, 2, 3)}
    for n, directory in out.items():
        export_tiles_dir(world_store, directory, log_verifier(settings, world_store, n), log=n)
    current = LedgerKeys.of(settings).verifier()
    keys = sealed_verifiers(settings)
    reports = verify_tiles_chain(out[3], current, previous=[out[1], out[2]], sealed=keys)
    assert [r.origin for r in reports] == [f"{ORIGIN}/3", f"{ORIGIN}/2", ORIGIN]
    with pytest.raises(LedgerIntegrityError, match=f"{out[2]} continues {ORIGIN}, but none"):
        verify_tiles_chain(out[3], current, previous=[out[2]], sealed=keys)
    bundle = out[2] / "tile" / "entries" / "000.p" / "3"
    blob = bytearray(bundle.read_bytes())
    blob[20] ^= 1
    bundle.write_bytes(bytes(blob))
    with pytest.raises(TamperedLogError, match=f"{out[2]}: entries differ"):
        verify_tiles_chain(out[3], current, previous=[out[1], out[2]], sealed=keys)


# -- keys left half moved by a crash after the commit ----------------------------------------


@pytest.mark.parametrize("moved", range(5))
def test_keys_left_half_moved_by_a_crash_are_settled(
    world_store: Store, settings: Settings, moved: int
) -> None:
    """The seal committed, then died after ``moved`` of the five file moves."""
    add_events(world_store, 1)
    keys, staged, filed = (
        LedgerKeys.of(settings),
        LedgerKeys.staged(settings),
        LedgerKeys.sealed(settings, 1),
    )
    old, new = keys.verifier(), stage_key(settings, f"{ORIGIN}/2").verifier()
    with pytest.MonkeyPatch.context() as patch:  # the commit happens; the moves do not
        patch.setattr("brightline.service.ledger_seal.settle_keys", lambda *a: None)
        seal(settings, world_store, 1)
    moves = [
        (keys.public, filed.public),
        (keys.private, filed.private),
        (staged.public, keys.public),
        (staged.private, keys.private),
    ]
    for source, target in moves[:moved]:
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
    add_events(world_store, 1)
    assert sync(settings, world_store).size == 2  # settles first, then signs log 2
    assert keys.verifier() == new
    assert filed.verifier() == old
    assert not staged.private.parent.exists()
    assert chain(settings, world_store) == (2, 2)


def test_a_kept_checkpoint_is_checked_against_its_own_log(
    world_store: Store, settings: Settings
) -> None:
    kept = sync(settings, world_store).checkpoint
    sealed(settings, world_store, 1)
    current, keys = LedgerKeys.of(settings).verifier(), sealed_verifiers(settings)
    assert verify_chain(world_store, current, sealed=keys, older=kept)[1].notes[-1] == (
        "consistent with the given older checkpoint"
    )
    stranger = generate_key("other.example/log")
    other = sign_checkpoint(Checkpoint(stranger.name, 1, bytes(32)), stranger)
    with pytest.raises(LedgerIntegrityError, match="none of the logs verified"):
        verify_chain(world_store, current, sealed=keys, older=other)


# -- seals killed at random points --------------------------------------------------------------

KILLS = 40


def _sealer(settings: Settings) -> Callable[[str, int, int], None]:
    def write(url: str, iteration: int, ack: int) -> None:
        store = open_store(url, migrate=False)
        sync(settings, store)  # warm up (and settle a seal killed before) before the clock
        os.write(ack, b"READY\n")
        while True:
            add_events(store, 3)
            result = seal_and_restart(settings, store, actor=ADMIN, now=T)
            os.write(ack, f"SEALED {result.sealed.number}\n".encode())

    return write


def test_killed_seals_leave_a_chain_that_verifies(
    store_url: str, store: Store, settings: Settings
) -> None:
    """Killed in the transaction, it sealed nothing; killed after it, the next command
    finishes moving the keys. Every event is logged once, in order, across the logs."""
    add_events(store, 1)
    sync(settings, store)
    store.close()  # no pooled connection may cross the fork
    lines, errors = kill_writers_repeatedly(
        _sealer(settings), store_url, iterations=KILLS, max_delay=0.3, seed=15
    )
    assert not errors, errors[:5]
    assert len(lines) >= 3, "the sealers barely sealed: the test proves little"
    with open_store(store_url, migrate=False) as again:
        sync(settings, again)
        logs = _logs(again)
        assert len(logs) > len(lines)
        reports = chain(settings, again)
        assert len(reports) == len(logs)
        with again.read() as session:
            outbox = [e.id for e in read_outbox(session, limit=1_000_000)]
            logged = [
                entry_at(session, seq, log=log.number).outbox_id
                for log in logs
                for seq in range(ledger_size(session, log=log.number))
            ]
        assert logged == outbox
        # A key left staged by a seal killed before its commit belongs to no log yet; the
        # next seal uses it.
        staged = LedgerKeys.staged(settings)
        if staged.private.exists():
            assert read_signer(staged.private).name not in {log.origin for log in logs}
        seal(settings, again, len(logs))
        assert not staged.private.parent.exists()
        assert len(chain(settings, again)) == len(logs) + 1
