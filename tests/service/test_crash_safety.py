"""A writer killed with SIGKILL at random points loses nothing it acknowledged and leaves
no partial change, on both databases.

Each iteration forks a writer that runs restriction lifecycles (propose, approve, lift,
approve the lift), each step with an idempotency key, and acknowledges every step on a
pipe once the service call has returned (that is, once the transaction committed). The
parent kills it after a random delay. Then: every acknowledged event is stored; every
event has exactly one outbox entry and every restriction outbox entry one event; every
restriction's history replays through the transition table; and retrying acknowledged
requests with their keys changes nothing.
"""

from __future__ import annotations

import os
from typing import Any

from brightline.service import (
    approve_restriction,
    current_world,
    lift_restriction,
    list_restrictions,
    propose_restrictions,
)
from brightline.service.restrictions import load_states
from brightline.store import Store, all_events, open_store, read_outbox
from principals import NO_TELEMETRY
from service.store_scenarios import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    at,
    kill_writers_repeatedly,
    restriction_yaml,
)

ITERATIONS = 150
MAX_DELAY_S = 0.1


def _writer(url: str, iteration: int, ack: int) -> None:
    """Forked child: run lifecycles until killed, acknowledging each committed step."""
    store = open_store(url, migrate=False)
    list_restrictions(store)  # warm up: connect and compile the reads before the clock starts
    current_world(store)
    os.write(ack, b"READY\n")
    step = 0
    while True:
        rid = f"c{iteration}-{step}"
        propose_restrictions(
            store, restriction_yaml(rid), name="r.yaml", actor=ALICE, key=f"{rid}/1", now=at(1)
        )
        os.write(ack, f"{rid} 1 proposed\n".encode())
        approve_restriction(store, rid, actor=BOB, key=f"{rid}/2", now=at(2), settings=NO_TELEMETRY)
        os.write(ack, f"{rid} 2 approved\n".encode())
        lift_restriction(store, rid, actor=CAROL, why="done", key=f"{rid}/3", now=at(3))
        os.write(ack, f"{rid} 3 lift-proposed\n".encode())
        approve_restriction(
            store, rid, actor=DAVE, key=f"{rid}/4", now=at(4), settings=NO_TELEMETRY
        )
        os.write(ack, f"{rid} 4 lift-approved\n".encode())
        step += 1


def _retry(store: Store, rid: str, revision: int) -> Any:
    if revision == 1:
        return propose_restrictions(
            store, restriction_yaml(rid), name="r.yaml", actor=ALICE, key=f"{rid}/1", now=at(9)
        )[0]
    if revision == 2:
        return approve_restriction(
            store, rid, actor=BOB, key=f"{rid}/2", now=at(9), settings=NO_TELEMETRY
        )
    if revision == 3:
        return lift_restriction(store, rid, actor=CAROL, why="done", key=f"{rid}/3", now=at(9))
    return approve_restriction(
        store, rid, actor=DAVE, key=f"{rid}/4", now=at(9), settings=NO_TELEMETRY
    )


def _contents(store: Store) -> tuple[Any, ...]:
    with store.read() as session:
        events = tuple((e.seq, e.restriction_id, e.revision, e.kind) for e in all_events(session))
        outbox = tuple((o.id, o.payload) for o in read_outbox(session, limit=1_000_000))
    return events, outbox


def test_killed_writers_lose_no_acknowledged_change_and_leave_no_partial_one(
    store_url: str, world_store: Store
) -> None:
    world_store.close()  # no pooled connection may cross the fork
    lines, errors = kill_writers_repeatedly(
        _writer, store_url, iterations=ITERATIONS, max_delay=MAX_DELAY_S, seed=20251001
    )
    acknowledged: list[tuple[str, int, str]] = []
    for line in lines:
        rid, revision, kind = line.split()
        acknowledged.append((rid, int(revision), kind))

    assert not errors, errors[:5]
    assert len(acknowledged) > ITERATIONS // 4, "the writers barely wrote: the test proves little"

    with open_store(store_url, migrate=False) as store:
        with store.read() as session:
            events = all_events(session)
            outbox = list(read_outbox(session, limit=1_000_000))
            states = load_states(session)  # replays every history; raises if inconsistent
        stored = {(e.restriction_id, e.revision): e.kind for e in events}
        for rid, revision, kind in acknowledged:
            assert stored.get((rid, revision)) == kind, f"acknowledged {rid}#{revision} is lost"

        restriction_outbox = [o for o in outbox if o.event_type.startswith("restriction.")]
        referenced = [o.data()["event"] for o in restriction_outbox]
        assert sorted(referenced) == sorted(e.seq for e in events), "event without outbox entry"
        for entry in restriction_outbox:
            data = entry.data()
            assert stored[(data["restriction"], data["revision"])] == data["kind"]
        assert len(states) == len({e.restriction_id for e in events})

        # Retrying acknowledged requests with their keys changes nothing.
        before = _contents(store)
        for rid, revision, _ in acknowledged[-40:]:
            assert _retry(store, rid, revision).replayed
        assert _contents(store) == before
