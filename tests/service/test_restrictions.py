"""The restriction lifecycle against both databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from brightline.errors import ConflictError, InvalidInputError, NotFoundError
from brightline.service import (
    Status,
    approve_restriction,
    lift_restriction,
    list_restrictions,
    propose_restrictions,
    propose_restrictions_file,
    reject_restriction,
    show_restriction,
)
from brightline.store import Store, all_events, read_outbox
from principals import NO_TELEMETRY
from service.store_scenarios import ALICE, BOB, CAROL, DAVE, a_case, at, restriction_yaml


def fingerprint(store: Store) -> tuple[Any, ...]:
    """Everything a state change would touch."""
    with store.read() as session:
        events = [(e.seq, e.restriction_id, e.revision, e.kind) for e in all_events(session)]
        outbox = [(o.id, o.payload) for o in read_outbox(session, limit=100_000)]
    return (tuple(events), tuple(outbox))


def test_proposal_comes_into_force_only_after_another_person_approves(world_store: Store) -> None:
    case = a_case(world_store)
    [view] = propose_restrictions(
        world_store, restriction_yaml(), name="r.yaml", actor=ALICE, case_id=case, now=at(1)
    )
    assert view.status is Status.PROPOSED
    assert view.state.case_id == case
    assert view.state.body["reason"] == {"case": case}
    approved = approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    assert approved.status is Status.IN_FORCE
    assert [(e.kind, e.actor) for e in approved.events] == [
        ("proposed", "alice"),
        ("approved", "bob"),
    ]


def test_approved_restriction_waits_for_its_window_then_expires(world_store: Store) -> None:
    extra = "not_before: 2025-09-10T00:00:00Z\nnot_after: 2025-09-20T00:00:00Z\n"
    propose_restrictions(
        world_store, restriction_yaml(extra=extra), name="r.yaml", actor=ALICE, now=at(1)
    )
    assert (
        approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY).status
        is Status.APPROVED
    )
    assert show_restriction(world_store, "r-1", now=at(24 * 10)).status is Status.IN_FORCE
    assert show_restriction(world_store, "r-1", now=at(24 * 18.9)).status is Status.IN_FORCE
    assert show_restriction(world_store, "r-1", now=at(24 * 20)).status is Status.EXPIRED


def test_every_change_writes_one_outbox_event_in_step(world_store: Store) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    lift_restriction(world_store, "r-1", actor=CAROL, why="case closed", now=at(3))
    approve_restriction(world_store, "r-1", actor=DAVE, now=at(4), settings=NO_TELEMETRY)
    with world_store.read() as session:
        events = all_events(session)
        outbox = [o for o in read_outbox(session) if o.event_type.startswith("restriction.")]
    assert [o.event_type for o in outbox] == [
        "restriction.proposed",
        "restriction.approved",
        "restriction.lift-proposed",
        "restriction.lift-approved",
    ]
    assert [o.data()["event"] for o in outbox] == [e.seq for e in events]
    assert outbox[2].data()["why"] == "case closed"
    assert outbox[0].data()["restriction_body"]["scope"] == "unit-9900"
    for entry in outbox:
        assert entry.payload == json.dumps(
            entry.data(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


def test_lift_is_proposed_then_approved_by_someone_else(world_store: Store) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    pending = lift_restriction(world_store, "r-1", actor=BOB, why="resolved", now=at(3))
    assert pending.status is Status.IN_FORCE
    assert pending.state.pending_by == "bob"
    with pytest.raises(ConflictError, match="second person"):
        approve_restriction(world_store, "r-1", actor=BOB, now=at(4), settings=NO_TELEMETRY)
    lifted = approve_restriction(world_store, "r-1", actor=ALICE, now=at(5), settings=NO_TELEMETRY)
    assert lifted.status is Status.LIFTED


def test_rejected_lift_keeps_the_restriction_in_force(world_store: Store) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    lift_restriction(world_store, "r-1", actor=CAROL, why="resolved", now=at(3))
    view = reject_restriction(world_store, "r-1", actor=DAVE, why="not yet", now=at(4))
    assert view.status is Status.IN_FORCE
    assert view.state.pending is None


def test_rejected_proposal_is_closed_for_good(world_store: Store) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    assert (
        reject_restriction(world_store, "r-1", actor=BOB, why="too broad", now=at(2)).status
        is Status.REJECTED
    )
    before = fingerprint(world_store)
    with pytest.raises(ConflictError, match="awaits no approval"):
        approve_restriction(world_store, "r-1", actor=CAROL, now=at(3), settings=NO_TELEMETRY)
    with pytest.raises(ConflictError, match="ids are never reused"):
        propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(4))
    assert fingerprint(world_store) == before


def test_promoting_dry_run_to_enforce_is_a_new_approval(world_store: Store) -> None:
    propose_restrictions(
        world_store, restriction_yaml(mode="dry-run"), name="r.yaml", actor=ALICE, now=at(1)
    )
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    promoted = propose_restrictions(
        world_store, restriction_yaml(mode="enforce"), name="r.yaml", actor=CAROL, now=at(3)
    )[0]
    assert promoted.state.mode == "dry-run"
    assert promoted.state.pending_body is not None
    with pytest.raises(ConflictError, match="second person"):
        approve_restriction(world_store, "r-1", actor=CAROL, now=at(4), settings=NO_TELEMETRY)
    done = approve_restriction(world_store, "r-1", actor=ALICE, now=at(5), settings=NO_TELEMETRY)
    assert done.state.mode == "enforce"
    assert done.status is Status.IN_FORCE


def test_changing_anything_but_the_mode_is_not_a_promotion(world_store: Store) -> None:
    propose_restrictions(
        world_store, restriction_yaml(mode="dry-run"), name="r.yaml", actor=ALICE, now=at(1)
    )
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    before = fingerprint(world_store)
    with pytest.raises(ConflictError, match="ids are never reused"):
        propose_restrictions(
            world_store,
            restriction_yaml(scope="mod-freedonia", mode="enforce"),
            name="r.yaml",
            actor=CAROL,
            now=at(3),
        )
    assert fingerprint(world_store) == before


def test_list_filters_by_status(world_store: Store) -> None:
    text = restriction_yaml("r-1") + "---\n"
    propose_restrictions(world_store, text.split("---")[0], name="a", actor=ALICE, now=at(1))
    propose_restrictions(world_store, restriction_yaml("r-2"), name="b", actor=ALICE, now=at(1))
    approve_restriction(world_store, "r-2", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    assert [v.id for v in list_restrictions(world_store, now=at(3))] == ["r-1", "r-2"]
    proposed = list_restrictions(world_store, status=Status.PROPOSED, now=at(3))
    assert [v.id for v in proposed] == ["r-1"]
    in_force = list_restrictions(world_store, status=Status.IN_FORCE, now=at(3))
    assert [v.id for v in in_force] == ["r-2"]


def test_a_file_may_propose_several_restrictions(world_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        "- "
        + restriction_yaml("r-a").replace("\n", "\n  ")
        + "\n- "
        + restriction_yaml("r-b").replace("\n", "\n  ")
    )
    views = propose_restrictions_file(world_store, path, actor=ALICE, key="k1", now=at(1))
    assert [v.id for v in views] == ["r-a", "r-b"]
    again = propose_restrictions_file(world_store, path, actor=ALICE, key="k1", now=at(2))
    assert all(v.replayed for v in again)


# -- idempotency ----------------------------------------------------------------------------


def test_a_retry_with_the_same_key_changes_nothing(world_store: Store) -> None:
    propose_restrictions(
        world_store, restriction_yaml(), name="r.yaml", actor=ALICE, key="p-1", now=at(1)
    )
    first = approve_restriction(
        world_store, "r-1", actor=BOB, key="a-1", now=at(2), settings=NO_TELEMETRY
    )
    before = fingerprint(world_store)
    again = approve_restriction(
        world_store, "r-1", actor=BOB, key="a-1", now=at(3), settings=NO_TELEMETRY
    )
    proposed_again = propose_restrictions(
        world_store, restriction_yaml(), name="r.yaml", actor=ALICE, key="p-1", now=at(3)
    )
    assert fingerprint(world_store) == before
    assert again.replayed
    assert proposed_again[0].replayed
    assert again.state == first.state


def test_the_same_key_for_a_different_request_is_refused(world_store: Store) -> None:
    # Keys belong to the principal that sends them (another principal's "k" is another
    # key: service/test_access_rules.py), so the reuse is alice's own.
    propose_restrictions(
        world_store, restriction_yaml(), name="r.yaml", actor=ALICE, key="k", now=at(1)
    )
    before = fingerprint(world_store)
    with pytest.raises(ConflictError, match="idempotency key"):
        reject_restriction(world_store, "r-1", actor=ALICE, why="withdrawn", key="k", now=at(2))
    assert fingerprint(world_store) == before


# -- bad input changes nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (
            lambda s: approve_restriction(s, "r-404", actor=BOB, now=at(5), settings=NO_TELEMETRY),
            NotFoundError,
            "no restriction 'r-404'",
        ),
        (
            lambda s: reject_restriction(s, "r-404", actor=BOB, why="x", now=at(5)),
            NotFoundError,
            "no restriction",
        ),
        (
            lambda s: approve_restriction(s, "r-1", actor=ALICE, now=at(5), settings=NO_TELEMETRY),
            ConflictError,
            "cannot also approve",
        ),
        (
            lambda s: lift_restriction(s, "r-1", actor=BOB, why="x", now=at(5)),
            ConflictError,
            "not in force",
        ),
        (
            lambda s: lift_restriction(s, "r-404", actor=BOB, why="x", now=at(5)),
            NotFoundError,
            "no restriction",
        ),
        (
            lambda s: propose_restrictions(
                s, "id: r-9\nscope: [unclosed\n", name="bad.yaml", actor=BOB, now=at(5)
            ),
            InvalidInputError,
            "malformed YAML",
        ),
        (
            lambda s: propose_restrictions(
                s, restriction_yaml("r-9", scope="nobody"), name="r.yaml", actor=BOB, now=at(5)
            ),
            InvalidInputError,
            "unknown node 'nobody'",
        ),
        (
            lambda s: propose_restrictions(
                s, restriction_yaml("r-9"), name="r.yaml", actor=BOB, case_id="C-404", now=at(5)
            ),
            InvalidInputError,
            r"r-9\.reason\.case: no case 'C-404'",
        ),
        (
            lambda s: reject_restriction(s, "r-1", actor=BOB, why="  ", now=at(5)),
            InvalidInputError,
            "a reason is required",
        ),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(
    world_store: Store, action: Any, error: type[Exception], message: str
) -> None:
    propose_restrictions(world_store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
    before = fingerprint(world_store)
    with pytest.raises(error, match=message):
        action(world_store)
    assert fingerprint(world_store) == before


def test_lifting_an_expired_restriction_is_refused(world_store: Store) -> None:
    extra = "not_after: 2025-09-02T00:00:00Z\n"
    propose_restrictions(
        world_store, restriction_yaml(extra=extra), name="r.yaml", actor=ALICE, now=at(1)
    )
    approve_restriction(world_store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    with pytest.raises(ConflictError, match=r"not in force \(it is expired\)"):
        lift_restriction(world_store, "r-1", actor=BOB, why="x", now=at(48))


def test_proposing_before_any_world_is_imported_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="world import"):
        propose_restrictions(store, restriction_yaml(), name="r.yaml", actor=ALICE, now=at(1))
