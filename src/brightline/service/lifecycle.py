"""A restriction's life, derived from its events through one transition table.

Pure: events in, state out; the time used to tell *approved* from *in force* and
*expired* is passed in.

::

    (none) ──proposed──▶ PROPOSED ──approved──▶ ACTIVE ──lift-proposed──▶ LIFT_PROPOSED
                           │                     │  ▲                       │      │
                        rejected   promotion-proposed  promotion-approved/-rejected
                           ▼                     ▼  │                  lift-approved  lift-rejected
                        REJECTED            PROMOTION_PROPOSED              ▼      (back to ACTIVE)
                                                                          LIFTED

    (none) ──bootstrapped──▶ ACTIVE   (only on an empty store: ``bootstrap_restrictions``)

Four eyes: each ``*-approved`` event must come from someone other than the author of
the proposal it approves. A *bootstrapped* restriction had no second person: it is the
example world's restrictions put in force by ``brightline serve`` on an empty store, and
its event (and public ledger entry) says so. An ACTIVE restriction is *approved* before its
``not_before``, *in force* inside its window and *expired* from its ``not_after``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from brightline.errors import ConflictError
from brightline.store import StoredEvent


class EventKind(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    LIFT_PROPOSED = "lift-proposed"
    LIFT_APPROVED = "lift-approved"
    LIFT_REJECTED = "lift-rejected"
    PROMOTION_PROPOSED = "promotion-proposed"
    PROMOTION_APPROVED = "promotion-approved"
    PROMOTION_REJECTED = "promotion-rejected"
    BOOTSTRAPPED = "bootstrapped"


class Phase(StrEnum):
    """Where the events have taken a restriction, whatever the time."""

    PROPOSED = "proposed"
    ACTIVE = "active"
    LIFT_PROPOSED = "lift-proposed"
    PROMOTION_PROPOSED = "promotion-proposed"
    REJECTED = "rejected"
    LIFTED = "lifted"


class Status(StrEnum):
    """What a person asks about: the phase read against the clock."""

    PROPOSED = "proposed"
    APPROVED = "approved"  # approved, its window not yet begun
    IN_FORCE = "in-force"
    EXPIRED = "expired"
    REJECTED = "rejected"
    LIFTED = "lifted"


#: The only legal moves. Anything else raises ConflictError.
TRANSITIONS: Final[Mapping[tuple[Phase | None, EventKind], Phase]] = MappingProxyType(
    {
        (None, EventKind.PROPOSED): Phase.PROPOSED,
        (None, EventKind.BOOTSTRAPPED): Phase.ACTIVE,
        (Phase.PROPOSED, EventKind.APPROVED): Phase.ACTIVE,
        (Phase.PROPOSED, EventKind.REJECTED): Phase.REJECTED,
        (Phase.ACTIVE, EventKind.LIFT_PROPOSED): Phase.LIFT_PROPOSED,
        (Phase.LIFT_PROPOSED, EventKind.LIFT_APPROVED): Phase.LIFTED,
        (Phase.LIFT_PROPOSED, EventKind.LIFT_REJECTED): Phase.ACTIVE,
        (Phase.ACTIVE, EventKind.PROMOTION_PROPOSED): Phase.PROMOTION_PROPOSED,
        (Phase.PROMOTION_PROPOSED, EventKind.PROMOTION_APPROVED): Phase.ACTIVE,
        (Phase.PROMOTION_PROPOSED, EventKind.PROMOTION_REJECTED): Phase.ACTIVE,
    }
)

#: For each phase awaiting a decision: the event that approves it and the one that rejects it.
PENDING: Final[Mapping[Phase, tuple[EventKind, EventKind]]] = MappingProxyType(
    {
        Phase.PROPOSED: (EventKind.APPROVED, EventKind.REJECTED),
        Phase.LIFT_PROPOSED: (EventKind.LIFT_APPROVED, EventKind.LIFT_REJECTED),
        Phase.PROMOTION_PROPOSED: (EventKind.PROMOTION_APPROVED, EventKind.PROMOTION_REJECTED),
    }
)

#: Phases in which the approved body applies (in force, or waiting for / past its window).
APPROVED_PHASES: Final = frozenset({Phase.ACTIVE, Phase.LIFT_PROPOSED, Phase.PROMOTION_PROPOSED})
_APPROVALS: Final = frozenset(approve for approve, _ in PENDING.values())


def transition(phase: Phase | None, kind: EventKind) -> Phase:
    """The phase after ``kind`` happens in ``phase``; ConflictError if that is not allowed."""
    after = TRANSITIONS.get((phase, kind))
    if after is None:
        where = "a restriction that does not exist" if phase is None else f"phase {phase}"
        raise ConflictError(f"{kind} is not allowed in {where}")
    return after


def same_principal(a: str, b: str) -> bool:
    """Principals are compared case-insensitively, so ``Alice`` cannot approve ``alice``."""
    return a.casefold() == b.casefold()


def parse_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


class RestrictionState(NamedTuple):
    """A restriction as its events leave it.

    ``body`` is the restriction in effect once approved (the proposed one until then);
    ``pending_body`` is a promotion's body awaiting approval. A NamedTuple, not a frozen
    dataclass: the store audit replays a million events, each making a new state, and a
    tuple is made several times faster."""

    id: str
    phase: Phase
    revision: int
    body: Mapping[str, Any]
    proposed_by: str
    proposed_at: datetime
    case_id: str | None
    pending_by: str | None = None
    pending_body: Mapping[str, Any] | None = None

    @property
    def mode(self) -> str:
        return str(self.body.get("mode", "enforce"))

    @property
    def not_before(self) -> datetime | None:
        return parse_time(self.body.get("not_before"))

    @property
    def not_after(self) -> datetime | None:
        return parse_time(self.body.get("not_after"))

    def status(self, at: datetime) -> Status:
        if self.phase is Phase.PROPOSED:
            return Status.PROPOSED
        if self.phase is Phase.REJECTED:
            return Status.REJECTED
        if self.phase is Phase.LIFTED:
            return Status.LIFTED
        not_after = self.not_after
        if not_after is not None and at >= not_after:
            return Status.EXPIRED
        not_before = self.not_before
        if not_before is not None and at < not_before:
            return Status.APPROVED
        return Status.IN_FORCE

    @property
    def pending(self) -> EventKind | None:
        """The approval this restriction awaits, if any."""
        decision = PENDING.get(self.phase)
        return None if decision is None else decision[0]

    def is_open(self, at: datetime) -> bool:
        """Proposed, or approved and not yet expired: what an import must not break."""
        return self.status(at) in (Status.PROPOSED, Status.APPROVED, Status.IN_FORCE)


def check_four_eyes(state: RestrictionState, kind: EventKind, actor: str) -> None:
    if (
        kind in _APPROVALS
        and state.pending_by is not None
        and same_principal(actor, state.pending_by)
    ):
        raise ConflictError(
            f"{actor} proposed this and cannot also approve it: "
            f"restriction {state.id!r} needs a second person"
        )


def derive(events: Sequence[StoredEvent]) -> RestrictionState:
    """Replay one restriction's events (in revision order).

    Raises ConflictError if the history breaks the transition table, skips a revision
    or approves its own proposal: the history must be consistent to be trusted.
    """
    if not events:
        raise ConflictError("a restriction needs at least one event")
    state: RestrictionState | None = None
    for expected, event in enumerate(events, start=1):
        if event.revision != expected:
            raise ConflictError(
                f"restriction {event.restriction_id!r}: revision {event.revision} "
                f"where {expected} was expected"
            )
        state = apply(state, event)
    assert state is not None
    return state


_KINDS: Final = MappingProxyType({k.value: k for k in EventKind})


def apply(state: RestrictionState | None, event: StoredEvent) -> RestrictionState:
    """The state after one more event."""
    kind = _KINDS.get(event.kind) or EventKind(event.kind)  # (a dict is faster)
    phase = transition(None if state is None else state.phase, kind)
    if state is None:
        if event.body is None:
            raise ConflictError(f"restriction {event.restriction_id!r}: proposal without a body")
        return RestrictionState(
            id=event.restriction_id,
            phase=phase,
            revision=event.revision,
            body=event.body,
            proposed_by=event.actor,
            proposed_at=event.at,
            case_id=event.case_id,
            pending_by=None if kind is EventKind.BOOTSTRAPPED else event.actor,
        )
    check_four_eyes(state, kind, event.actor)
    body = state.body
    pending_body: Mapping[str, Any] | None = None
    pending_by: str | None = None
    if kind is EventKind.PROMOTION_PROPOSED:
        pending_body, pending_by = event.body, event.actor
    elif kind is EventKind.LIFT_PROPOSED:
        pending_by = event.actor
    elif kind is EventKind.PROMOTION_APPROVED:
        if state.pending_body is None:
            raise ConflictError(f"restriction {state.id!r}: promotion without a body")
        body = state.pending_body
    return RestrictionState(
        id=state.id,
        phase=phase,
        revision=event.revision,
        body=body,
        proposed_by=state.proposed_by,
        proposed_at=state.proposed_at,
        case_id=state.case_id,
        pending_by=pending_by,
        pending_body=pending_body,
    )
