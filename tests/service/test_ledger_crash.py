"""The ledger logs every outbox event exactly once and in order even when the process
doing it is killed with SIGKILL at random points (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime

from brightline.ledger import generate_key
from brightline.service.ledger import sync_ledger, verify_store
from brightline.store import Store, append_outbox, open_store, read_outbox
from brightline.store.ledger import entry_at, ledger_size
from service.store_scenarios import kill_writers_repeatedly

ITERATIONS = 150
MAX_DELAY_S = 0.15
T = datetime(2025, 10, 1, tzinfo=UTC)
SIGNER = generate_key("crash.test/ledger")


def _writer(url: str, iteration: int, ack: int) -> None:
    store = open_store(url, migrate=False)
    sync_ledger(store, signer=SIGNER, now=T)  # warm up before the clock starts
    os.write(ack, b"READY\n")
    step = 0
    while True:
        with store.write() as session:
            for i in range(random.randint(1, 40)):
                payload = {"role": "auditor", "it": iteration, "step": step, "i": i}
                append_outbox(session, "principal.role-granted", payload, at=T)
        result = sync_ledger(store, signer=SIGNER, now=T)
        os.write(ack, f"SYNCED {result.size}\n".encode())
        step += 1


def test_killed_syncs_log_each_event_exactly_once_in_order(
    store_url: str, world_store: Store
) -> None:
    world_store.close()  # no pooled connection may cross the fork
    lines, errors = kill_writers_repeatedly(
        _writer, store_url, iterations=ITERATIONS, max_delay=MAX_DELAY_S, seed=7
    )
    synced = [int(line.split()[1]) for line in lines if line.startswith("SYNCED")]
    assert not errors, errors[:5]
    assert len(synced) >= 5, "the writers barely synced: the test proves little"

    with open_store(store_url, migrate=False) as store:
        final = sync_ledger(store, signer=SIGNER, now=T)
        with store.read() as session:
            outbox = [e.id for e in read_outbox(session, limit=10_000_000)]
            size = ledger_size(session)
            logged = [entry_at(session, seq).outbox_id for seq in range(size)]
        assert logged == outbox  # each event once, in order
        assert final.size == len(outbox) > ITERATIONS
        assert max(synced) <= final.size  # nothing acknowledged was lost
        verify_store(store, SIGNER.verifier())
