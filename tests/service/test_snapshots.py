"""Snapshots compiled from the store's history, and snapshot files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brightline.errors import InvalidInputError, NotFoundError
from brightline.policy import Effect, Request
from brightline.service import (
    approve_restriction,
    compile_snapshot_at,
    lift_restriction,
    propose_restrictions,
    read_snapshot,
    write_snapshot,
)
from brightline.store import Store
from principals import NO_TELEMETRY
from service.store_scenarios import ALICE, BOB, CAROL, DAVE, T0, at, restriction_yaml


def _request(node: str = "sub-9900-ingest", hours: float = 10) -> Request:
    return Request(
        node=node, service="storage.blob", operation="read", region="westeurope", at=at(hours)
    )


def test_snapshot_holds_what_was_in_force_at_each_time(world_store: Store) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    lift_restriction(world_store, "r-1", actor=CAROL, why="resolved", now=at(3))
    approve_restriction(world_store, "r-1", actor=DAVE, now=at(4), settings=NO_TELEMETRY)

    assert compile_snapshot_at(world_store, at(1.5)).snapshot.restrictions == ()
    during = compile_snapshot_at(world_store, at(2.5)).snapshot
    assert [r.id for r in during.restrictions] == ["r-1"]
    assert during.decide(_request()).effect is Effect.DENY
    assert during.decide(_request("sub-9900-rescue")).effect is Effect.ALLOW
    # A pending lift does not lift.
    assert [r.id for r in compile_snapshot_at(world_store, at(3.5)).snapshot.restrictions] == [
        "r-1"
    ]
    assert compile_snapshot_at(world_store, at(5)).snapshot.restrictions == ()


def test_dry_run_restrictions_are_in_the_snapshot_as_would_deny(world_store: Store) -> None:
    propose_restrictions(
        world_store, restriction_yaml(mode="dry-run"), name="r.yaml", actor=ALICE, now=at(1)
    )
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    decision = compile_snapshot_at(world_store, at(3)).snapshot.decide(_request())
    assert decision.effect is Effect.ALLOW
    assert decision.would_deny == ("r-1",)


def test_no_world_yet_is_not_found(world_store: Store) -> None:
    with pytest.raises(NotFoundError):
        compile_snapshot_at(world_store, T0.replace(year=2024))


def test_snapshot_file_rebuilds_an_equal_snapshot(world_store: Store, tmp_path: Path) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    compiled = compile_snapshot_at(world_store, at(3))
    path = tmp_path / "snapshot.json"
    write_snapshot(compiled, path)
    rebuilt = read_snapshot(path)
    assert rebuilt.version == compiled.snapshot.version
    assert rebuilt.canonical() == compiled.snapshot.canonical()
    assert rebuilt.decide(_request()).effect is Effect.DENY


def test_an_edited_snapshot_file_is_refused(world_store: Store, tmp_path: Path) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    path = tmp_path / "snapshot.json"
    write_snapshot(compile_snapshot_at(world_store, at(3)), path)
    data = json.loads(path.read_text())
    data["restrictions"] = []
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidInputError, match="does not match its version"):
        read_snapshot(path)
