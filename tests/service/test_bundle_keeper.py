"""The server's bundle keeper on SQLite and PostgreSQL: every bundle is a ledger entry and
is served only once a signed checkpoint holds it, with a proof an enforcement point
checks; the keeper confirms the bundle in force only while nothing waits for the log."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from brightline.bundle import LedgerProof, LogState, log_key_only, open_current, verify_logged
from brightline.errors import LedgerIntegrityError, StoreUnavailableError
from brightline.ledger import TiledTree, generate_key
from brightline.policy import Notice
from brightline.service import approve_restriction, propose_restrictions
from brightline.service.bundles import BundleKeeper
from brightline.service.ledger import disclose, ledger_status, sync_ledger
from brightline.store import Store, append_outbox, outbox_head, read_outbox_of_type
from brightline.store.ledger import SqlTileStore
from principals import NO_TELEMETRY
from service.store_scenarios import ALICE, BOB, restriction_yaml

T = datetime(2025, 10, 1, tzinfo=UTC)
SIGNER = generate_key("test.brightline/ledger")
VERIFIER = SIGNER.verifier()
POLICY = log_key_only(VERIFIER)


def published(store: Store, at: datetime) -> BundleKeeper:
    keeper = BundleKeeper(store, SIGNER)
    assert keeper.refresh(now=at)
    sync_ledger(store, signer=SIGNER, now=at)
    assert keeper.publish(now=at)
    return keeper


def test_a_bundle_is_served_only_once_the_log_holds_it(world_store: Store) -> None:
    keeper = BundleKeeper(world_store, SIGNER)
    assert keeper.refresh(now=T)
    assert not keeper.publish(now=T)  # its bundle.issued event is not logged yet
    with pytest.raises(StoreUnavailableError):
        _ = keeper.served
    assert keeper.confirmed_at is None
    sync_ledger(world_store, signer=SIGNER, now=T)
    assert keeper.publish(now=T)
    served = keeper.served
    checkpoint = verify_logged(served.bundle, served.proof, checkpoint_policy=POLICY, held=None)
    assert checkpoint.size == ledger_status(world_store).size
    form = json.loads(served.proof.entry)
    assert form["type"] == "bundle.issued"
    # Public: the two hashes. Committed to, not published: the serial and exact time.
    assert form["public"] == {"version": served.bundle.version, "digest": served.bundle.digest}
    record = disclose(world_store, served.proof.index).record
    assert record["serial"] == served.bundle.serial
    assert record["digest"] == served.bundle.digest


def test_its_own_event_is_no_change_of_policy(world_store: Store) -> None:
    keeper = published(world_store, T)
    with world_store.read() as session:
        head = outbox_head(session)
    assert not keeper.refresh(now=T + timedelta(minutes=1))
    assert not keeper.publish(now=T + timedelta(minutes=1))
    with world_store.read() as session:
        assert outbox_head(session) == head
        assert len(read_outbox_of_type(session, "bundle.issued")) == 1


def test_the_proof_follows_the_latest_checkpoint_and_extends_the_one_before(
    world_store: Store,
) -> None:
    keeper = published(world_store, T)
    first = keeper.served
    held = verify_logged(first.bundle, first.proof, checkpoint_policy=POLICY, held=None)
    with world_store.write() as session:  # changes that leave the policy as it is
        for i in range(300):
            append_outbox(session, "principal.role-granted", {"n": i}, at=T)
    sync_ledger(world_store, signer=SIGNER, now=T)
    assert not keeper.refresh(now=T)
    assert not keeper.publish(now=T)  # the same version, proven at the new checkpoint
    later = keeper.served
    assert later.bundle == first.bundle
    assert later.size == held.size + 300
    with pytest.raises(LedgerIntegrityError, match="no consistency proof"):
        verify_logged(
            later.bundle,
            later.proof,
            checkpoint_policy=POLICY,
            held=LogState(held.size, held.root_hash),
        )
    proof = later.document(keeper.consistency(held.size, later.size))["ledger"]
    checkpoint = verify_logged(
        later.bundle,
        LedgerProof.from_json(proof),
        checkpoint_policy=POLICY,
        held=LogState(held.size, held.root_hash),
    )
    assert checkpoint.size == later.size


def test_while_a_new_bundle_waits_for_the_log_the_old_one_stays_unconfirmed(
    world_store: Store,
) -> None:
    keeper = published(world_store, T)
    old = keeper.current
    assert keeper.confirmed_at == T
    note = open_current(keeper.freshness(), VERIFIER)
    assert (note.version, note.serial, note.at) == (old.version, old.serial, T)

    later = T + timedelta(hours=1)
    propose_restrictions(
        world_store, restriction_yaml("r-1"), name="r.yaml", actor=ALICE, now=later
    )
    approve_restriction(world_store, "r-1", actor=BOB, now=later, settings=NO_TELEMETRY)
    assert keeper.refresh(now=later)  # issued, not logged: the ledger has not synced
    assert not keeper.publish(now=later)
    assert keeper.current == old
    assert keeper.confirmed_at == T  # no longer confirmed: clients will see it age
    assert open_current(keeper.freshness(), VERIFIER).at == T

    logged = later + timedelta(minutes=1)
    sync_ledger(world_store, signer=SIGNER, now=logged)
    assert keeper.publish(now=logged)
    assert keeper.current.version != old.version
    assert keeper.current.serial > old.serial
    assert keeper.confirmed_at == logged
    assert open_current(keeper.freshness(), VERIFIER).version == keeper.current.version


class _SilentStore:
    """The keeper's store while the database does not answer: a read blocks until let go."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.entered = threading.Event()
        self.answer = threading.Event()

    @contextlib.contextmanager
    def read(self) -> Iterator[object]:
        self.entered.set()
        self.answer.wait(timeout=10)
        with self._store.read() as session:
            yield session

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_the_signed_freshness_never_waits_for_a_refresh_stuck_on_the_database(
    world_store: Store,
) -> None:
    """The server signs the freshness note on its event loop: a refresh waiting for the
    database (in a worker thread) must not hold it up, or every request would wait."""
    keeper = published(world_store, T)
    silent = _SilentStore(world_store)
    keeper._store = silent  # type: ignore[assignment]
    stuck = threading.Thread(target=keeper.refresh, kwargs={"now": T + timedelta(minutes=1)})
    stuck.start()
    try:
        assert silent.entered.wait(timeout=10)
        started = time.monotonic()
        note = keeper.freshness()
        assert time.monotonic() - started < 1.0
        assert note
    finally:
        silent.answer.set()
        stuck.join(timeout=30)


def test_servers_on_one_store_issue_each_version_once_and_serve_the_same_bundle(
    world_store: Store,
) -> None:
    """Three servers' keepers: whichever compiles a version first issues it; the others
    rebuild the same bundle from its event, and each serves it once the log holds it
    (worded with the deployment's notice, which the bundle carries)."""
    notice = Notice("appeals@provider.example", {"mass-surveillance": "Mass surveillance"})
    keepers = [BundleKeeper(world_store, SIGNER, notice=notice) for _ in range(3)]
    assert all(k.refresh(now=T + timedelta(seconds=i)) for i, k in enumerate(keepers))
    sync_ledger(world_store, signer=SIGNER, now=T)
    assert all(k.publish(now=T) for k in keepers)
    later = T + timedelta(hours=1)
    propose_restrictions(
        world_store, restriction_yaml("r-1"), name="r.yaml", actor=ALICE, now=later
    )
    approve_restriction(world_store, "r-1", actor=BOB, now=later, settings=NO_TELEMETRY)
    for i, keeper in enumerate(reversed(keepers)):  # another one issues first
        assert keeper.refresh(now=later + timedelta(seconds=i))
        assert keeper.awaiting_log
    sync_ledger(world_store, signer=SIGNER, now=later)
    for keeper in keepers:
        keeper.publish(now=later)
        assert not keeper.awaiting_log
    served = {k.served.document()["note"] for k in keepers}
    assert len(served) == 1  # the same signed bundle everywhere
    with world_store.read() as session:
        issued = [e.data()["version"] for e in read_outbox_of_type(session, "bundle.issued")]
    assert len(issued) == len(set(issued)) == 2
    assert issued[-1] == keepers[0].current.version
    assert keepers[0].current.serial > 0


class _CountingStore:
    """The keeper's store, counting the reads made through it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reads = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def read(self) -> Iterator[object]:
        with self._lock:
            self.reads += 1
        time.sleep(0.05)  # a slow database: the requests woken together overlap
        with self._store.read() as session:
            yield session

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_clients_woken_together_ask_the_store_for_a_consistency_proof_at_most_once(
    world_store: Store,
) -> None:
    """Every long poll wakes when a checkpoint is published: the proof from the size
    served before is made at publish, another proof once however many ask at once."""
    keeper = published(world_store, T)
    held = keeper.served.size
    with world_store.write() as session:
        for i in range(40):
            append_outbox(session, "principal.role-granted", {"n": i}, at=T)
    sync_ledger(world_store, signer=SIGNER, now=T)
    assert not keeper.publish(now=T)
    size = keeper.served.size
    counting = _CountingStore(world_store)
    keeper._store = counting  # type: ignore[assignment]
    for old, reads in [(held, 0), (1, 1)]:
        proofs: list[tuple[bytes, ...]] = []

        def ask(old: int = old, proofs: list[tuple[bytes, ...]] = proofs) -> None:
            proofs.append(keeper.consistency(old, size))

        threads = [threading.Thread(target=ask) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert counting.reads == reads
        assert len(proofs) == 20
        assert all(p == proofs[0] for p in proofs)
        with world_store.read() as session:
            expected = TiledTree(SqlTileStore(session)).consistency_proof(old, size)
        assert proofs[0] == expected
