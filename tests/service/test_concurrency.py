"""Concurrent approvals and retried requests, with real threads and processes, on both databases."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from brightline.access import Principal
from brightline.errors import BrightlineError, ConflictError
from brightline.service import (
    RestrictionView,
    approve_restriction,
    propose_restrictions,
)
from brightline.store import Store, all_events, open_store, read_outbox
from principals import NO_TELEMETRY
from service.store_scenarios import ALICE, BOB, CAROL, at, restriction_yaml

ROUNDS = 5


def _race(calls: list[Callable[[], RestrictionView]]) -> list[RestrictionView | BrightlineError]:
    """Run the calls in threads released at the same instant; return each outcome."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = calls[i]()
        except BrightlineError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _kinds(store: Store, rid: str) -> list[str]:
    with store.read() as session:
        return [e.kind for e in all_events(session) if e.restriction_id == rid]


def _propose(store: Store, rid: str) -> None:
    propose_restrictions(store, restriction_yaml(rid), name="r.yaml", actor=ALICE, now=at(1))


def test_two_approvals_at_once_in_threads_yield_one_approval(world_store: Store) -> None:
    for n in range(ROUNDS):
        rid = f"r-{n}"
        _propose(world_store, rid)
        outcomes = _race(
            [
                lambda rid=rid: approve_restriction(
                    world_store, rid, actor=BOB, now=at(2), settings=NO_TELEMETRY
                ),
                lambda rid=rid: approve_restriction(
                    world_store, rid, actor=CAROL, now=at(2), settings=NO_TELEMETRY
                ),
            ]
        )
        assert sum(isinstance(o, RestrictionView) for o in outcomes) == 1, outcomes
        assert sum(isinstance(o, ConflictError) for o in outcomes) == 1, outcomes
        assert _kinds(world_store, rid) == ["proposed", "approved"]


def test_concurrent_retries_with_one_key_apply_once(world_store: Store) -> None:
    _propose(world_store, "r-1")
    outcomes = _race(
        [
            lambda: approve_restriction(
                world_store, "r-1", actor=BOB, key="k-1", now=at(2), settings=NO_TELEMETRY
            )
            for _ in range(4)
        ]
    )
    assert all(isinstance(o, RestrictionView) for o in outcomes), outcomes
    assert sum(not o.replayed for o in outcomes if isinstance(o, RestrictionView)) == 1
    assert _kinds(world_store, "r-1") == ["proposed", "approved"]
    with world_store.read() as session:
        assert [o.event_type for o in read_outbox(session)].count("restriction.approved") == 1


def _approve_in_child(url: str, rid: str, actor: Principal, go: int, report: int) -> None:
    """Body of a forked process: wait for the go signal, approve, report the outcome."""
    try:
        store = open_store(url, migrate=False)
        os.read(go, 1)
        try:
            approve_restriction(store, rid, actor=actor, now=at(2), settings=NO_TELEMETRY)
            outcome = b"ok"
        except ConflictError:
            outcome = b"conflict"
        store.close()
        os.write(report, outcome)
    finally:
        os._exit(0)


def test_two_approvals_at_once_in_processes_yield_one_approval(
    store_url: str, world_store: Store
) -> None:
    for n in range(ROUNDS):
        _propose(world_store, f"r-{n}")
    world_store.engine.dispose()  # no pooled connection may cross the fork
    for n in range(ROUNDS):
        rid = f"r-{n}"
        go_read, go_write = os.pipe()
        pids, reports = [], []
        for actor in (BOB, CAROL):
            report_read, report_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                _approve_in_child(store_url, rid, actor, go_read, report_write)
            os.close(report_write)
            pids.append(pid)
            reports.append(report_read)
        os.write(go_write, b"gg")  # release both at once
        outcomes = []
        for pid, report in zip(pids, reports, strict=True):
            os.waitpid(pid, 0)
            outcomes.append(os.read(report, 16))
            os.close(report)
        os.close(go_read)
        os.close(go_write)
        assert sorted(outcomes) == [b"conflict", b"ok"], outcomes
        assert _kinds(world_store, rid) == ["proposed", "approved"]
