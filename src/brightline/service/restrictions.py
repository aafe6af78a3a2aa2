"""The restriction lifecycle: propose, approve, reject, lift — each one event, appended.

Every change runs in one write transaction that (1) replays the restriction's events
into its state, (2) checks the move against the transition table and the four-eyes
rule, (3) appends the event and (4) writes the matching outbox event. A request carrying
an idempotency key that was already used for the same request changes nothing and
returns the current state; the same key used for a different request is a conflict.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from brightline.access import Action, Principal, authorize
from brightline.config import Settings
from brightline.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from brightline.policy import format_time, parse_restrictions_text, restriction_from_mapping
from brightline.service.guard import (
    GUARDED,
    compute_plan,
    guard_step,
    pending_plan,
    store_plan,
)
from brightline.service.lifecycle import (
    APPROVED_PHASES,
    PENDING,
    EventKind,
    Phase,
    RestrictionState,
    Status,
    check_four_eyes,
    derive,
    transition,
)
from brightline.service.records import restriction_record
from brightline.store import (
    NewEvent,
    Store,
    StoredEvent,
    all_events,
    append_event,
    canonical_json,
    event_by_key,
    events_for,
    latest_world,
    latest_world_version,
)
from brightline.store.cases import case_events
from brightline.store.outbox import append_record
from brightline.world import World

CASE_ID: Final = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
IDEMPOTENCY_KEY: Final = re.compile(r"[!-~]{1,200}")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class RestrictionView:
    """A restriction's derived state at ``at``, with its history.

    ``replayed`` is True when the request was a retry of one already applied (same
    idempotency key, same request): nothing was written. ``guard_approval`` is True when
    an approval was recorded as the blast-radius guard's: a second approver must approve.
    """

    state: RestrictionState
    status: Status
    at: datetime
    events: tuple[StoredEvent, ...]
    replayed: bool = False
    guard_approval: bool = False

    @property
    def id(self) -> str:
        return self.state.id

    def to_json(self, *, history: bool = True) -> dict[str, Any]:
        state = self.state
        out: dict[str, Any] = {
            "id": state.id,
            "status": self.status.value,
            "phase": state.phase.value,
            "pending": state.pending.value if state.pending else None,
            "pending_by": state.pending_by if state.pending else None,
            "mode": state.mode,
            "proposed_by": state.proposed_by,
            "proposed_at": format_time(state.proposed_at),
            "case": state.case_id,
            "revision": state.revision,
            "restriction": dict(state.body),
            "pending_restriction": dict(state.pending_body) if state.pending_body else None,
            "replayed": self.replayed,
            "guard_approval": self.guard_approval,
        }
        if history:
            out["events"] = [event_json(e) for e in self.events]
        return out


def event_json(event: StoredEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "revision": event.revision,
        "kind": event.kind,
        "actor": event.actor,
        "at": format_time(event.at),
        "why": event.why,
        "case": event.case_id,
        "idempotency_key": event.idempotency_key,
    }


# -- reading ------------------------------------------------------------------------------


def load_states(session: Session, *, until: datetime | None = None) -> dict[str, RestrictionState]:
    """Every restriction's state from its events (recorded at or before ``until``)."""
    by_id: dict[str, list[StoredEvent]] = {}
    for event in all_events(session, until=until):
        by_id.setdefault(event.restriction_id, []).append(event)
    return {rid: derive(sorted(events, key=lambda e: e.revision)) for rid, events in by_id.items()}


def show_restriction(
    store: Store, restriction_id: str, *, now: datetime | None = None
) -> RestrictionView:
    """One restriction with its full event history; NotFoundError if it does not exist."""
    at = _now(now)
    with store.read() as session:
        return _view(session, restriction_id, at)


def list_restrictions(
    store: Store, *, status: Status | None = None, now: datetime | None = None
) -> list[RestrictionView]:
    """Every restriction (with ``status`` at ``now``, when given), sorted by id."""
    at = _now(now)
    with store.read() as session:
        by_id: dict[str, list[StoredEvent]] = {}
        for event in all_events(session):
            by_id.setdefault(event.restriction_id, []).append(event)
    views = []
    for rid in sorted(by_id):
        events = tuple(sorted(by_id[rid], key=lambda e: e.revision))
        state = derive(events)
        view = RestrictionView(state, state.status(at), at, events)
        if status is None or view.status is status:
            views.append(view)
    return views


def approved_bodies(
    states: Mapping[str, RestrictionState], at: datetime
) -> list[Mapping[str, Any]]:
    """Bodies of the restrictions that apply at ``at``: approved, not lifted, not expired.

    Restrictions approved for a window that has not begun are included: the Snapshot
    applies ``not_before`` to each request, so they start denying on time.
    """
    return [
        state.body
        for _, state in sorted(states.items())
        if state.phase in APPROVED_PHASES and state.status(at) is not Status.EXPIRED
    ]


# -- changing -----------------------------------------------------------------------------


def propose_restrictions_file(
    store: Store,
    path: Path,
    *,
    actor: Principal,
    case_id: str | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> list[RestrictionView]:
    """Propose the restriction(s) in a YAML file; see :func:`propose_restrictions`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read: {exc}")) from exc
    return propose_restrictions(
        store, text, name=path.name, actor=actor, case_id=case_id, key=key, now=now
    )


def propose_restrictions(
    store: Store,
    text: str,
    *,
    name: str,
    actor: Principal,
    case_id: str | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> list[RestrictionView]:
    """Propose one restriction (a YAML mapping) or several (a list), all or none.

    A new id starts a proposal. Re-proposing an in-force dry-run restriction with
    ``mode: enforce`` and nothing else changed proposes its promotion, which needs a new
    approval. Any other reuse of an id is a conflict: ids are never reused.
    Raises InvalidInputError for malformed YAML or a restriction that does not fit the
    stored world; NotFoundError if no world was imported yet.
    """
    authorize(actor, Action.PROPOSE_RESTRICTION)
    _check_key(key)
    if case_id is not None and not CASE_ID.fullmatch(case_id):
        raise InvalidInputError(Problem("--case", f"not a valid case id: {case_id!r}"))
    at = _now(now)
    with store.write() as session:
        world = _world(session)
        restrictions = parse_restrictions_text(text, world, name=name)
        if not restrictions:
            raise InvalidInputError(Problem(name, "no restriction to propose"))
        views = []
        for restriction in restrictions:
            body = restriction.canonical()
            reason = dict(body["reason"])  # type: ignore[call-overload]
            if case_id is not None:
                if reason.get("case", case_id) != case_id:
                    raise InvalidInputError(
                        Problem(
                            f"{name}: {restriction.id}.reason.case",
                            f"names case {reason['case']!r} but --case says {case_id!r}",
                        )
                    )
                reason["case"] = case_id
                body["reason"] = dict(sorted(reason.items()))
            if reason.get("case") is not None:
                _check_case_exists(session, str(reason["case"]), f"{name}: {restriction.id}")
            item_key = key if key is None or len(restrictions) == 1 else f"{key}#{restriction.id}"
            views.append(
                _propose_one(
                    session, body, case=reason.get("case"), actor=actor, key=item_key, at=at
                )
            )
        return views


#: Why every bootstrapped restriction is in force, as its event (and the ledger) records.
BOOTSTRAP_WHY: Final = (
    "bootstrap: the example world's restrictions, put in force by `brightline serve` on "
    "an empty store without proposal or four-eyes approval"
)


def bootstrap_restrictions(
    store: Store, path: Path, *, actor: Principal, now: datetime | None = None
) -> list[RestrictionView]:
    """Put the restrictions of ``path`` (a world's ``restrictions.yaml``) in force at once,
    each recorded as *bootstrapped* (not approved): what ``brightline serve`` does with
    the example world on an empty store, so that the server decides as
    ``brightline check --world`` does. Only on a store that holds no restriction yet
    (ConflictError otherwise): from then on, restrictions go through four eyes.
    """
    authorize(actor, Action.IMPORT_WORLD)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read: {exc}")) from exc
    at = _now(now)
    with store.write() as session:
        if all_events(session):
            raise ConflictError(
                "the store already holds restrictions: only an empty store is bootstrapped"
            )
        restrictions = parse_restrictions_text(text, _world(session), name=path.name)
        for restriction in restrictions:
            body = restriction.canonical()
            _append(
                session,
                restriction.id,
                None,
                EventKind.BOOTSTRAPPED,
                actor=actor.name,
                at=at,
                digest=_digest("bootstrap", restriction.id, actor=actor.name, body=body),
                key=None,
                why=BOOTSTRAP_WHY,
                body=body,  # its reason may name a case of the example, not of this store
            )
        return [_view(session, r.id, at) for r in restrictions]


def _propose_one(
    session: Session,
    body: dict[str, Any],
    *,
    case: str | None,
    actor: Principal,
    key: str | None,
    at: datetime,
) -> RestrictionView:
    rid = str(body["id"])
    digest = _digest("propose", rid, actor=actor.name, body=body, case=case)
    key = _scoped(actor, key)
    if _is_replay(session, key, digest):
        return _view(session, rid, at, replayed=True)
    events = events_for(session, rid)
    if not events:
        _append(
            session,
            rid,
            None,
            EventKind.PROPOSED,
            actor=actor.name,
            at=at,
            digest=digest,
            key=key,
            body=body,
            case=case,
        )
        return _view(session, rid, at)
    state = derive(events)
    promotion = {**state.body, "mode": "enforce"}
    if state.phase is Phase.ACTIVE and state.mode == "dry-run" and body == promotion:
        if state.status(at) is Status.EXPIRED:
            raise ConflictError(f"restriction {rid!r} has expired; propose a new one")
        authorize(actor, Action.PROMOTE_RESTRICTION)
        _append(
            session,
            rid,
            state,
            EventKind.PROMOTION_PROPOSED,
            actor=actor.name,
            at=at,
            digest=digest,
            key=key,
            body=body,
            case=case,
        )
        return _view(session, rid, at)
    raise ConflictError(
        f"restriction {rid!r} already exists ({state.status(at)}); ids are never reused "
        "and only a dry-run restriction in force can be re-proposed, as enforce, unchanged"
    )


def approve_restriction(
    store: Store,
    restriction_id: str,
    *,
    actor: Principal,
    settings: Settings,
    key: str | None = None,
    now: datetime | None = None,
) -> RestrictionView:
    """Approve what the restriction awaits: its proposal, its lift or its promotion.

    The one approval path, for the API, the console, the CLI and the demo alike: the
    approver role, four eyes (the approver is not who asked) and, for a proposal or a
    promotion, the blast-radius guard on what enforcing it would deny
    (:mod:`brightline.service.guard`). When the guard applies and no other approver gave
    its approval yet, this approval is recorded as the guard's and the view says so
    (``guard_approval``); a second approver then approves. A proposal is checked again
    against the current world, and refused if its window has already ended.
    """
    authorize(actor, Action.APPROVE_RESTRICTION)
    _check_key(key)
    at = _now(now)
    digest = _digest("approve", restriction_id, actor=actor.name)
    scoped = _scoped(actor, key)
    computed = None
    with store.read() as session:
        if _is_replay(session, scoped, digest):
            return _view(session, restriction_id, at, replayed=True)
        state = _state(session, restriction_id)
        needs_plan = state.pending in GUARDED and pending_plan(session, state) is None
    if needs_plan:
        # Outside the write transaction: a plan reads the telemetry.
        computed = compute_plan(store, settings, state, now=at)
    with store.write() as session:
        if _is_replay(session, scoped, digest):
            return _view(session, restriction_id, at, replayed=True)
        current = _state(session, restriction_id)
        if current.revision != state.revision:
            raise ConflictError(f"restriction {restriction_id!r} changed; try again")
        decision = PENDING.get(state.phase)
        if decision is None:
            raise ConflictError(
                f"restriction {restriction_id!r} awaits no approval (it is {state.status(at)})"
            )
        kind = decision[0]
        check_four_eyes(state, kind, actor.name)
        if kind in GUARDED:
            plan = pending_plan(session, state)
            if plan is None:
                assert computed is not None
                plan = store_plan(session, state, computed, actor=actor, at=at)
            if guard_step(session, state, plan, actor, at):
                return _view(session, restriction_id, at, guard=True)
        if kind is EventKind.APPROVED:
            _check_fits(_world(session), state.body, restriction_id)
            if (
                state.status(at) is Status.PROPOSED
                and state.not_after is not None
                and at >= state.not_after
            ):
                raise ConflictError(
                    f"restriction {restriction_id!r}: its window ended before approval"
                )
        _append(
            session, restriction_id, state, kind, actor=actor.name, at=at, digest=digest, key=scoped
        )
        return _view(session, restriction_id, at)


def reject_restriction(
    store: Store,
    restriction_id: str,
    *,
    actor: Principal,
    why: str,
    key: str | None = None,
    now: datetime | None = None,
) -> RestrictionView:
    """Reject what the restriction awaits (approvers only). A rejected proposal is closed
    for good; a rejected lift or promotion leaves the restriction as it was. An approver
    may reject their own proposal (a withdrawal)."""
    authorize(actor, Action.REJECT_RESTRICTION)

    def rejection(state: RestrictionState, at: datetime) -> EventKind:
        decision = PENDING.get(state.phase)
        if decision is None:
            raise ConflictError(
                f"restriction {restriction_id!r} awaits no decision (it is {state.status(at)})"
            )
        return decision[1]

    return _explained_change(
        store, "reject", restriction_id, rejection, actor=actor, why=why, key=key, now=now
    )


def lift_restriction(
    store: Store,
    restriction_id: str,
    *,
    actor: Principal,
    why: str,
    key: str | None = None,
    now: datetime | None = None,
) -> RestrictionView:
    """Propose lifting an approved restriction (in force, or approved for a later window).

    The lift takes effect when someone else approves it. Lifting a restriction that is
    proposed, rejected, lifted, expired or already awaiting a decision is a conflict.
    """
    authorize(actor, Action.LIFT_RESTRICTION)
    return _propose_lift(store, restriction_id, actor=actor, why=why, key=key, now=now)


def lift_on_appeal(
    store: Store,
    restriction_id: str,
    *,
    actor: Principal,
    why: str,
    key: str | None = None,
    now: datetime | None = None,
) -> RestrictionView:
    """The lift that an appeal's re-review decides (``decide_appeal``): whoever may decide
    the appeal proposes it, and, as any lift, someone else must approve it."""
    authorize(actor, Action.DECIDE_APPEAL)
    return _propose_lift(store, restriction_id, actor=actor, why=why, key=key, now=now)


def _propose_lift(
    store: Store,
    restriction_id: str,
    *,
    actor: Principal,
    why: str,
    key: str | None,
    now: datetime | None,
) -> RestrictionView:
    def lifting(state: RestrictionState, at: datetime) -> EventKind:
        status = state.status(at)
        if status not in (Status.IN_FORCE, Status.APPROVED):
            raise ConflictError(f"restriction {restriction_id!r} is not in force (it is {status})")
        if state.phase is not Phase.ACTIVE:
            raise ConflictError(
                f"restriction {restriction_id!r} already awaits a decision on its {state.phase}"
            )
        return EventKind.LIFT_PROPOSED

    return _explained_change(
        store, "lift", restriction_id, lifting, actor=actor, why=why, key=key, now=now
    )


def _explained_change(
    store: Store,
    operation: str,
    restriction_id: str,
    choose: Callable[[RestrictionState, datetime], EventKind],
    *,
    actor: Principal,
    why: str,
    key: str | None,
    now: datetime | None,
) -> RestrictionView:
    """Append the event ``choose`` picks for the current state (or raises for), with a
    reason; a retry with the same idempotency key changes nothing."""
    _check_key(key)
    why = _check_why(why)
    at = _now(now)
    with store.write() as session:
        digest = _digest(operation, restriction_id, actor=actor.name, why=why)
        key = _scoped(actor, key)
        if _is_replay(session, key, digest):
            return _view(session, restriction_id, at, replayed=True)
        state = _state(session, restriction_id)
        kind = choose(state, at)
        _append(
            session,
            restriction_id,
            state,
            kind,
            actor=actor.name,
            at=at,
            digest=digest,
            key=key,
            why=why,
        )
        return _view(session, restriction_id, at)


# -- helpers ------------------------------------------------------------------------------


def _append(
    session: Session,
    restriction_id: str,
    state: RestrictionState | None,
    kind: EventKind,
    *,
    actor: str,
    at: datetime,
    digest: str,
    key: str | None,
    why: str | None = None,
    body: Mapping[str, Any] | None = None,
    case: str | None = None,
) -> StoredEvent:
    transition(None if state is None else state.phase, kind)  # raises on an illegal move
    if state is not None:
        case = state.case_id
        # Event times never go backwards within a restriction, so that a history cut at
        # any time is a prefix of it.
        last = events_for(session, restriction_id)[-1].at
        at = max(at, last)
    event = append_event(
        session,
        NewEvent(
            restriction_id=restriction_id,
            revision=1 if state is None else state.revision + 1,
            kind=kind.value,
            actor=actor,
            at=at,
            request_digest=digest,
            why=why,
            case_id=case,
            body=body,
            idempotency_key=key,
        ),
    )
    append_record(session, restriction_record(event, world_version=latest_world_version(session)))
    return event


def _view(
    session: Session,
    restriction_id: str,
    at: datetime,
    *,
    replayed: bool = False,
    guard: bool = False,
) -> RestrictionView:
    events = tuple(events_for(session, restriction_id))
    if not events:
        raise NotFoundError(f"no restriction {restriction_id!r}")
    state = derive(events)
    return RestrictionView(state, state.status(at), at, events, replayed, guard)


def _state(session: Session, restriction_id: str) -> RestrictionState:
    events = events_for(session, restriction_id)
    if not events:
        raise NotFoundError(f"no restriction {restriction_id!r}")
    return derive(events)


def _world(session: Session) -> World:
    stored = latest_world(session)
    if stored is None:
        raise NotFoundError("no world in the store yet: run `brightline world import` first")
    return stored.world


def _check_fits(world: World, body: Mapping[str, Any], restriction_id: str) -> None:
    try:
        restriction_from_mapping(dict(body), world)
    except InvalidInputError as exc:
        raise ConflictError(
            f"restriction {restriction_id!r} no longer fits the world: "
            + "; ".join(str(p) for p in exc.problems)
        ) from exc


def _is_replay(session: Session, key: str | None, digest: str) -> bool:
    if key is None:
        return False
    previous = event_by_key(session, key)
    if previous is None:
        return False
    if previous.request_digest != digest:
        raise ConflictError(f"idempotency key {key!r} was already used for a different request")
    return True


def _digest(operation: str, restriction_id: str, **fields: Any) -> str:
    blob = canonical_json({"operation": operation, "restriction": restriction_id, **fields})
    return hashlib.sha256(blob.encode()).hexdigest()


def _scoped(actor: Principal, key: str | None) -> str | None:
    """Idempotency keys belong to the principal that sends them: the same key sent by
    another principal is another key, so no one can spend someone else's retry."""
    if key is None:
        return None
    scoped = canonical_json({"principal": actor.name.casefold(), "key": key})
    return "p:" + hashlib.sha256(scoped.encode()).hexdigest()


def _check_case_exists(session: Session, case_id: str, where: str) -> None:
    """A restriction names a case only if the case exists: the link is published."""
    if not case_events(session, case_id):
        raise InvalidInputError(Problem(f"{where}.reason.case", f"no case {case_id!r}"))


def _check_key(key: str | None) -> None:
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInputError(
            Problem("--key", "idempotency keys are 1–200 printable ASCII characters")
        )


def _check_why(why: str) -> str:
    why = why.strip()
    if not why:
        raise InvalidInputError(Problem("--why", "a reason is required"))
    return why


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise InvalidInputError("time must carry a time zone")
    return now.astimezone(UTC)


__all__: Sequence[str] = [
    "RestrictionView",
    "approve_restriction",
    "approved_bodies",
    "lift_restriction",
    "list_restrictions",
    "load_states",
    "propose_restrictions",
    "propose_restrictions_file",
    "reject_restriction",
    "show_restriction",
]
