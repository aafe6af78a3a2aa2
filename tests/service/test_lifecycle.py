"""The transition table and state derivation, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from brightline.errors import ConflictError
from brightline.service.lifecycle import (
    TRANSITIONS,
    EventKind,
    Phase,
    Status,
    derive,
    transition,
)
from brightline.store import StoredEvent

T = datetime(2025, 1, 1, tzinfo=UTC)
BODY: dict[str, Any] = {
    "id": "r-1",
    "mode": "dry-run",
    "not_before": "2025-02-01T00:00:00Z",
    "not_after": "2025-03-01T00:00:00Z",
}


def _events(*steps: tuple[str, str]) -> list[StoredEvent]:
    out = []
    for revision, (kind, actor) in enumerate(steps, start=1):
        body = None
        if kind == "proposed":
            body = BODY
        elif kind == "promotion-proposed":
            body = {**BODY, "mode": "enforce"}
        out.append(
            StoredEvent(
                seq=revision,
                restriction_id="r-1",
                revision=revision,
                kind=kind,
                actor=actor,
                at=T,
                why=None,
                case_id=None,
                body=body,
                idempotency_key=None,
                request_digest="",
            )
        )
    return out


def test_every_transition_not_in_the_table_is_refused() -> None:
    for phase in [None, *Phase]:
        for kind in EventKind:
            if (phase, kind) in TRANSITIONS:
                assert transition(phase, kind) is TRANSITIONS[(phase, kind)]
            else:
                with pytest.raises(ConflictError):
                    transition(phase, kind)


def test_status_follows_the_window() -> None:
    state = derive(_events(("proposed", "alice"), ("approved", "bob")))
    assert state.phase is Phase.ACTIVE
    assert state.status(datetime(2025, 1, 15, tzinfo=UTC)) is Status.APPROVED
    assert state.status(datetime(2025, 2, 1, tzinfo=UTC)) is Status.IN_FORCE
    assert state.status(datetime(2025, 3, 1, tzinfo=UTC)) is Status.EXPIRED


def test_promotion_changes_the_body_only_when_approved() -> None:
    pending = derive(
        _events(("proposed", "alice"), ("approved", "bob"), ("promotion-proposed", "carol"))
    )
    assert pending.mode == "dry-run"
    assert pending.pending is EventKind.PROMOTION_APPROVED
    assert pending.pending_by == "carol"
    done = derive(
        _events(
            ("proposed", "alice"),
            ("approved", "bob"),
            ("promotion-proposed", "carol"),
            ("promotion-approved", "alice"),
        )
    )
    assert done.mode == "enforce"
    assert done.pending is None


def test_a_rejected_lift_leaves_the_restriction_active() -> None:
    state = derive(
        _events(
            ("proposed", "alice"),
            ("approved", "bob"),
            ("lift-proposed", "carol"),
            ("lift-rejected", "dave"),
        )
    )
    assert state.phase is Phase.ACTIVE


@pytest.mark.parametrize(
    "steps",
    [
        [("proposed", "alice"), ("approved", "alice")],
        [("proposed", "alice"), ("approved", "Alice")],
        [
            ("proposed", "alice"),
            ("approved", "bob"),
            ("lift-proposed", "c"),
            ("lift-approved", "C"),
        ],
    ],
)
def test_history_approving_its_own_proposal_is_inconsistent(steps: list[tuple[str, str]]) -> None:
    with pytest.raises(ConflictError, match="second person"):
        derive(_events(*steps))


def test_history_with_a_gap_is_inconsistent() -> None:
    events = _events(("proposed", "alice"), ("approved", "bob"))
    with pytest.raises(ConflictError, match="revision"):
        derive(events[1:])
