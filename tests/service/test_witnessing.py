"""Witnessing over the store, on SQLite and PostgreSQL, with two real witnesses on
loopback (C2SP tlog-witness over HTTP): checkpoints advance and are cosigned; a split
view or a smaller checkpoint is refused by both; verification needs the quorum; a
restarted witness remembers; a witness that is away delays nothing and catches up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from brightline.config import Settings, WitnessEndpoint
from brightline.errors import LedgerIntegrityError
from brightline.ledger import (
    AddCheckpoint,
    Checkpoint,
    TiledTree,
    WitnessQuorum,
    add_signatures,
    generate_key,
    leaf_hash,
    note_signatures,
    sign_checkpoint,
)
from brightline.service.ledger import consistency, sync_ledger
from brightline.service.witness import Witness
from brightline.service.witnessing import (
    Outcome,
    require_witnessed,
    witness_latest,
    witnessed_store,
)
from brightline.store import Store, append_outbox
from brightline.store.ledger import SqlTileStore, latest_checkpoint
from witnesses import WitnessServer

T = datetime(2025, 10, 1, tzinfo=UTC)
ORIGIN = "test.brightline/ledger"
SIGNER = generate_key(ORIGIN)
VERIFIER = SIGNER.verifier()


def add_events(store: Store, count: int) -> None:
    with store.write() as session:
        for i in range(count):
            append_outbox(session, "principal.role-granted", {"role": "auditor", "n": i}, at=T)


def grow(store: Store, count: int) -> int:
    """Log ``count`` more events and sign a checkpoint; the new size."""
    add_events(store, count)
    return sync_ledger(store, signer=SIGNER, now=T).size


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[WitnessServer, WitnessServer]]:
    w1 = WitnessServer(tmp_path / "w1", name="w1.example/witness", logs=[VERIFIER]).start()
    w2 = WitnessServer(tmp_path / "w2", name="w2.example/witness", logs=[VERIFIER]).start()
    try:
        yield w1, w2
    finally:
        w1.stop()
        w2.stop()


def settings_for(tmp_path: Path, *servers: WitnessServer, **extra: object) -> Settings:
    endpoints = tuple(WitnessEndpoint(url=s.url, key=str(s.key)) for s in servers)
    return Settings(
        data_dir=tmp_path / "data",
        ledger_witnesses=endpoints,
        ledger_witness_timeout=2.0,
        **extra,  # type: ignore[arg-type]
    )


def post(server: WitnessServer, request: AddCheckpoint) -> httpx.Response:
    return httpx.post(f"{server.url}/add-checkpoint", content=request.encode(), timeout=5)


def test_checkpoints_advance_and_are_cosigned_by_both(
    store: Store, tmp_path: Path, pair: tuple[WitnessServer, WitnessServer]
) -> None:
    w1, w2 = pair
    settings = settings_for(tmp_path, w1, w2)
    first = grow(store, 3)
    result = witness_latest(settings, store)
    assert [s.outcome for s in result.submissions] == [Outcome.COSIGNED, Outcome.COSIGNED]
    assert (result.size, result.cosigned) == (first, 2)
    second = grow(store, 300)  # across a tile boundary: a real consistency proof
    result = witness_latest(settings, store)
    assert (result.size, result.cosigned) == (second, 2)
    for server in pair:
        assert server.witness is not None
        assert server.witness.state()[ORIGIN].size == second
    with store.read() as session:
        latest = latest_checkpoint(session)
    assert latest is not None
    names = [s.name for s in note_signatures(latest.note)[1]]
    assert names[0] == ORIGIN  # the log's own signature first, then as received
    assert sorted(names[1:]) == ["w1.example/witness", "w2.example/witness"]
    quorum = WitnessQuorum.of([w1.key, w2.key])
    assert len(require_witnessed(latest.note, VERIFIER, quorum)) == 2
    assert len(witnessed_store(store, VERIFIER, quorum)) == 2
    again = witness_latest(settings, store)
    assert [s.outcome for s in again.submissions] == [Outcome.HELD, Outcome.HELD]


def test_a_split_view_or_a_smaller_checkpoint_is_refused_by_both(
    store: Store, tmp_path: Path, pair: tuple[WitnessServer, WitnessServer]
) -> None:
    settings = settings_for(tmp_path, *pair)
    grow(store, 5)
    size = grow(store, 5)
    witness_latest(settings, store)
    # The log's key signs a second, different checkpoint of the same size.
    split = sign_checkpoint(Checkpoint(ORIGIN, size, leaf_hash(b"another view")), SIGNER)
    # And a smaller one, with the log's true root at that size.
    with store.read() as session:
        smaller_root = TiledTree(SqlTileStore(session)).root(size - 4)
    smaller = sign_checkpoint(Checkpoint(ORIGIN, size - 4, smaller_root), SIGNER)
    for server in pair:
        assert server.witness is not None
        held = server.witness.state()[ORIGIN]
        answer = post(server, AddCheckpoint(size, (), split))
        assert answer.status_code == 409
        assert "split view" in answer.text
        assert post(server, AddCheckpoint(size, (), smaller)).status_code == 400
        pretending = post(server, AddCheckpoint(0, (), smaller))
        assert (pretending.status_code, pretending.text) == (409, f"{size}\n")
        assert pretending.headers["content-type"] == "text/x.tlog.size"
        proof = consistency(store, size - 8, size - 4)
        assert post(server, AddCheckpoint(size - 8, proof, smaller)).status_code == 409
        assert server.witness.state()[ORIGIN] == held  # nothing moved


def test_a_checkpoint_of_another_key_or_log_is_refused(
    store: Store, tmp_path: Path, pair: tuple[WitnessServer, WitnessServer]
) -> None:
    w1, _ = pair
    size = grow(store, 3)
    impostor = generate_key(ORIGIN)
    forged = sign_checkpoint(Checkpoint(ORIGIN, size, leaf_hash(b"x")), impostor)
    assert post(w1, AddCheckpoint(0, (), forged)).status_code == 403
    other = generate_key("other.example/log")
    unknown = sign_checkpoint(Checkpoint("other.example/log", 1, leaf_hash(b"x")), other)
    assert post(w1, AddCheckpoint(0, (), unknown)).status_code == 404
    assert httpx.get(f"{w1.url}/add-checkpoint", timeout=5).status_code == 405
    assert (
        httpx.post(f"{w1.url}/add-checkpoint", content=b"x" * 70_000, timeout=5).status_code == 413
    )


def test_verification_needs_the_quorum(
    store: Store, tmp_path: Path, pair: tuple[WitnessServer, WitnessServer]
) -> None:
    w1, w2 = pair
    grow(store, 4)
    witness_latest(settings_for(tmp_path, w1, w2), store)
    with store.read() as session:
        latest = latest_checkpoint(session)
    assert latest is not None
    both = WitnessQuorum.of([w1.key, w2.key])
    assert len(require_witnessed(latest.note, VERIFIER, both)) == 2
    text, signatures = note_signatures(latest.note)
    stripped = text + "\n" + "".join(s.line() for s in signatures if s.name != w2.key.name)
    with pytest.raises(LedgerIntegrityError, match=r"1 valid witness cosignature, 2 needed"):
        require_witnessed(stripped, VERIFIER, both)
    assert (
        len(require_witnessed(stripped, VERIFIER, WitnessQuorum.of([w1.key, w2.key], quorum=1)))
        == 1
    )
    # A cosignature moved onto another checkpoint is worth nothing there.
    other = sign_checkpoint(Checkpoint(ORIGIN, latest.size, leaf_hash(b"x")), SIGNER)
    moved = add_signatures(other, [s.line() for s in signatures if s.name != ORIGIN])
    with pytest.raises(LedgerIntegrityError, match=r"0 valid witness cosignatures, 2 needed"):
        require_witnessed(moved, VERIFIER, both)


def test_a_restarted_witness_keeps_its_state(
    store: Store, tmp_path: Path, pair: tuple[WitnessServer, WitnessServer]
) -> None:
    w1, w2 = pair
    size = grow(store, 6)
    witness_latest(settings_for(tmp_path, w1, w2), store)
    w1.stop()
    w1.start()
    assert w1.witness is not None
    assert w1.witness.state()[ORIGIN].size == size
    split = sign_checkpoint(Checkpoint(ORIGIN, size, leaf_hash(b"another view")), SIGNER)
    assert post(w1, AddCheckpoint(size, (), split)).status_code == 409
    assert post(w1, AddCheckpoint(0, (), split)).text == f"{size}\n"
    grown = grow(store, 2)
    result = witness_latest(settings_for(tmp_path, w1, w2), store)
    assert (result.size, result.cosigned) == (grown, 2)


def test_a_witness_that_is_away_delays_nothing_and_catches_up(
    store: Store, tmp_path: Path, pair: tuple[WitnessServer, WitnessServer]
) -> None:
    w1, w2 = pair
    w2.stop()
    settings = settings_for(tmp_path, w1, w2)
    size = grow(store, 3)  # the append does not wait for any witness
    result = witness_latest(settings, store)
    outcomes = {s.witness: s.outcome for s in result.submissions}
    assert outcomes == {
        "w1.example/witness": Outcome.COSIGNED,
        "w2.example/witness": Outcome.FAILED,
    }
    assert result.cosigned == 1
    with pytest.raises(LedgerIntegrityError, match="1 valid"):
        witnessed_store(store, VERIFIER, WitnessQuorum.of([w1.key, w2.key]))
    w2.start(port=int(w2.url.rsplit(":", 1)[1]))
    result = witness_latest(settings, store)
    assert (result.size, result.cosigned) == (size, 2)


def test_the_log_follows_a_witness_that_remembers_another_size(
    store: Store, tmp_path: Path, pair: tuple[WitnessServer, WitnessServer]
) -> None:
    w1, _ = pair
    first = grow(store, 4)
    with store.read() as session:
        latest = latest_checkpoint(session)
    assert latest is not None
    # The witness learnt size `first` from somewhere else (another copy of the log's
    # submitter); the log, knowing no cosignature of it, starts from 0 and gets a 409.
    assert post(w1, AddCheckpoint(0, (), latest.signed_note)).status_code == 200
    grown = grow(store, 3)
    result = witness_latest(settings_for(tmp_path, w1), store)
    assert [s.outcome for s in result.submissions] == [Outcome.COSIGNED]
    assert w1.witness is not None
    assert w1.witness.state()[ORIGIN].size == grown > first


def test_concurrent_submissions_cannot_both_advance(store: Store, tmp_path: Path) -> None:
    server = WitnessServer(tmp_path / "w", name="w.example/witness", logs=[VERIFIER])
    witness = Witness(server.directory, logs=[VERIFIER])
    base = grow(store, 3)
    with store.read() as session:
        latest = latest_checkpoint(session)
    assert latest is not None
    assert witness.add_checkpoint(AddCheckpoint(0, (), latest.signed_note).encode()).status == 200
    sizes = [grow(store, 1) for _ in range(8)]
    with store.read() as session:
        tree = TiledTree(SqlTileStore(session))
        bodies = [
            AddCheckpoint(
                base,
                tree.consistency_proof(base, n),
                sign_checkpoint(Checkpoint(ORIGIN, n, tree.root(n)), SIGNER),
            ).encode()
            for n in sizes
        ]
    other = Witness(server.directory, logs=[VERIFIER])  # a second process's view, as it were
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def submit(i: int) -> None:
        barrier.wait()
        statuses.append((witness if i % 2 else other).add_checkpoint(bodies[i]).status)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200] + [409] * (len(bodies) - 1)
    assert witness.state()[ORIGIN].size in sizes


def test_a_witness_refuses_to_forget_a_damaged_state(tmp_path: Path) -> None:
    server = WitnessServer(tmp_path / "w", name="w.example/witness", logs=[VERIFIER])
    (server.directory / "state.json").write_text(
        '{"format": "brightline.witness-state/1", "logs": {'
    )
    with pytest.raises(LedgerIntegrityError, match="refusing to forget"):
        Witness(server.directory, logs=[VERIFIER])
