"""Case use cases: open, assign, review, evidence, findings, decisions, appeals, close.

Every change runs in one write transaction that (1) loads the principal's roles and
checks them against the permission table (``brightline.cases.roles``), (2) replays the
case's events, (3) checks the move against the case transition table and (4) appends
the case event together with its outbox event ``case.<move>``: the private facts of the
move and the world version it was made against. What the ledger publishes of it is
decided by ``brightline.disclosure`` alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from brightline.access import Principal
from brightline.cases import (
    Action,
    AppealOutcome,
    CaseDecision,
    CaseEvent,
    CaseMove,
    CaseState,
    DecisionKind,
    Evidence,
    Finding,
    apply_case_event,
    authorize,
    derive_case,
)
from brightline.cases.model import check_ids, check_text
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.policy import format_time
from brightline.service.lifecycle import Status
from brightline.service.records import case_record
from brightline.store import Store, latest_world, latest_world_version
from brightline.store.cases import (
    StoredSignal,
    add_case,
    all_case_events,
    append_case_event,
    case_events,
    get_signal,
    next_case_id,
)

#: Key principals, and OIDC principals ``oidc:<alias>:<sub>`` (see brightline.access).
PRINCIPAL: Final = re.compile(
    r"[A-Za-z0-9._@+\-]{1,128}|oidc:[A-Za-z0-9._\-]{1,24}:[A-Za-z0-9._@+\-|=]{1,96}"
)

# -- shared steps ---------------------------------------------------------------------------


def now_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise InvalidInputError("time must carry a time zone")
    return now.astimezone(UTC)


def check_principal(name: str, where: str = "PRINCIPAL") -> str:
    """A name roles can be granted to: a key principal, or ``oidc:<alias>:<sub>``."""
    if not PRINCIPAL.fullmatch(name):
        raise InvalidInputError(
            Problem(
                where,
                f"{name!r} is not a principal name (1–128 of A-Z a-z 0-9 . _ @ + - and, for "
                "OIDC principals, oidc:<alias>:<sub>)",
            )
        )
    return name


def require(actor: Principal, action: Action, state: CaseState | None = None) -> None:
    """AccessDeniedError unless the actor's roles allow ``action`` (on ``state``'s case:
    an external reviewer only on the cases it is assigned to)."""
    assigned = None if state is None else state.is_assigned(actor.name)
    authorize(actor, action, assigned=assigned)


def load_case(session: Session, case_id: str) -> CaseState:
    events = case_events(session, case_id)
    if not events:
        raise NotFoundError(f"no case {case_id!r}")
    return derive_case(events)


def record(
    session: Session,
    state: CaseState | None,
    *,
    case_id: str,
    move: CaseMove,
    actor: str,
    at: datetime,
    data: Mapping[str, Any],
) -> CaseState:
    """Check ``move`` through the transition table and append it with its outbox event."""
    if state is not None:
        at = max(at, case_events(session, case_id)[-1].at)  # times never go backwards
    revision = 1 if state is None else state.revision + 1
    probe = CaseEvent(0, case_id, revision, move, actor, at, data)
    after = apply_case_event(state, probe)  # raises on an illegal move
    record = case_record(probe, world_version=latest_world_version(session))
    append_case_event(session, probe, outbox=record)
    return after


def _change(
    store: Store,
    case_id: str,
    *,
    actor: Principal,
    action: Action,
    move: CaseMove,
    data: Mapping[str, Any],
    now: datetime | None,
) -> CaseState:
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, action, state)
        return record(
            session,
            state,
            case_id=case_id,
            move=move,
            actor=actor.name,
            at=at,
            data=data,
        )


def parse_signal_ref(ref: str) -> int:
    text = ref.removeprefix("S-")
    if not text.isdigit():
        raise InvalidInputError(Problem("signal", f"{ref!r} is not a signal id (S-<n>)"))
    return int(text)


def case_nodes(
    session: Session, signals: Sequence[StoredSignal], linked: Sequence[str]
) -> list[str]:
    """The nodes of ``signals`` and those the actor links: a public report names its
    subject in words, so whoever opens or attaches it says which nodes it is about. Linked
    nodes must exist in the stored world; there must be at least one node in all."""
    extra = check_ids(linked, "nodes") if linked else ()
    if extra:
        stored = latest_world(session)
        unknown = [n for n in extra if stored is None or n not in stored.world.directory]
        if unknown:
            raise InvalidInputError(Problem("nodes", f"unknown nodes: {', '.join(unknown)}"))
    nodes = list(dict.fromkeys([*(n for s in signals for n in s.nodes), *extra]))
    if not nodes:
        raise InvalidInputError(
            Problem("nodes", "a public report names no node: link the nodes its subject names")
        )
    return nodes


# -- changing -------------------------------------------------------------------------------


def open_case(
    store: Store,
    *,
    actor: Principal,
    title: str,
    signals: Sequence[str],
    nodes: Sequence[str] = (),
    now: datetime | None = None,
) -> CaseState:
    """Open a case grouping ``signals``; its nodes and policies are theirs, and ``nodes``
    the actor links (see :func:`case_nodes`)."""
    title = check_text(title, "title", limit=200)
    if not signals:
        raise InvalidInputError(Problem("--signal", "a case groups at least one signal"))
    at = now_utc(now)
    with store.write() as session:
        require(actor, Action.OPEN_CASE)
        found = []
        for ref in signals:
            signal = get_signal(session, parse_signal_ref(ref))
            if signal is None:
                raise NotFoundError(f"no signal {ref!r}")
            found.append(signal)
        case_id, number = next_case_id(session)
        add_case(session, case_id, number, actor=actor.name, at=at)
        data = {
            "title": title,
            "signals": [s.ref for s in found],
            "nodes": case_nodes(session, found, nodes),
            "policies": list(dict.fromkeys(p for s in found for p in s.policies)),
        }
        return record(
            session,
            None,
            case_id=case_id,
            move=CaseMove.OPENED,
            actor=actor.name,
            at=at,
            data=data,
        )


def attach_signal(
    store: Store,
    case_id: str,
    signal_ref: str,
    *,
    actor: Principal,
    nodes: Sequence[str] = (),
    now: datetime | None = None,
) -> CaseState:
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, Action.OPEN_CASE, state)
        signal = get_signal(session, parse_signal_ref(signal_ref))
        if signal is None:
            raise NotFoundError(f"no signal {signal_ref!r}")
        data = {
            "signal": signal.ref,
            "nodes": case_nodes(session, [signal], nodes),
            "policies": list(signal.policies),
        }
        return record(
            session,
            state,
            case_id=case_id,
            move=CaseMove.SIGNAL_ATTACHED,
            actor=actor.name,
            at=at,
            data=data,
        )


def assign(
    store: Store,
    case_id: str,
    principal: str,
    *,
    actor: Principal,
    remove: bool = False,
    now: datetime | None = None,
) -> CaseState:
    check_principal(principal, "PRINCIPAL")
    move = CaseMove.UNASSIGNED if remove else CaseMove.ASSIGNED
    return _change(
        store,
        case_id,
        actor=actor,
        action=Action.ASSIGN,
        move=move,
        data={"principal": principal},
        now=now,
    )


def start_review(
    store: Store, case_id: str, *, actor: Principal, now: datetime | None = None
) -> CaseState:
    return _change(
        store,
        case_id,
        actor=actor,
        action=Action.START_REVIEW,
        move=CaseMove.REVIEW_STARTED,
        data={},
        now=now,
    )


def add_evidence(
    store: Store, case_id: str, evidence: Evidence, *, actor: Principal, now: datetime | None = None
) -> CaseState:
    """Pin an evidence item; pinned evidence is immutable (events are never changed)."""
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, Action.ADD_EVIDENCE, state)
        data = {"number": state.next_number("evidence"), "evidence": evidence.to_json()}
        return record(
            session,
            state,
            case_id=case_id,
            move=CaseMove.EVIDENCE_ADDED,
            actor=actor.name,
            at=at,
            data=data,
        )


def add_task(
    store: Store,
    case_id: str,
    *,
    actor: Principal,
    title: str,
    due: datetime | None = None,
    assignee: str | None = None,
    now: datetime | None = None,
) -> CaseState:
    title = check_text(title, "title", limit=200)
    if assignee is not None:
        check_principal(assignee, "--assignee")
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, Action.ADD_TASK, state)
        data = {
            "number": state.next_number("task"),
            "title": title,
            "due": format_time(due),
            "assignee": assignee,
        }
        return record(
            session,
            state,
            case_id=case_id,
            move=CaseMove.TASK_ADDED,
            actor=actor.name,
            at=at,
            data=data,
        )


def complete_task(
    store: Store, case_id: str, number: int, *, actor: Principal, now: datetime | None = None
) -> CaseState:
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, Action.ADD_TASK, state)
        if number not in {t.number for t in state.tasks if not t.done}:
            raise NotFoundError(f"case {case_id} has no open task {number}")
        return record(
            session,
            state,
            case_id=case_id,
            move=CaseMove.TASK_DONE,
            actor=actor.name,
            at=at,
            data={"number": number},
        )


def record_finding(
    store: Store, case_id: str, finding: Finding, *, actor: Principal, now: datetime | None = None
) -> CaseState:
    """A finding per alleged policy, linking evidence of the case; a later one supersedes."""
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, Action.ADD_FINDING, state)
        if finding.policy not in state.policies:
            raise InvalidInputError(
                Problem(
                    "policy",
                    f"case {case_id} alleges {', '.join(state.policies)}, not {finding.policy!r}",
                )
            )
        state.check_evidence_numbers(finding.evidence)
        data = {
            "number": state.next_number("finding"),
            "policy": finding.policy,
            "outcome": finding.outcome.value,
            "rationale": finding.rationale,
            "evidence": list(finding.evidence),
        }
        return record(
            session,
            state,
            case_id=case_id,
            move=CaseMove.FINDING_RECORDED,
            actor=actor.name,
            at=at,
            data=data,
        )


def record_decision(
    session: Session,
    state: CaseState,
    decision: CaseDecision,
    *,
    actor: Principal,
    at: datetime,
) -> CaseState:
    """Append a decision (the caller has checked the role and proposed any restrictions)."""
    data = {
        "number": state.next_number("decision"),
        "kind": decision.kind.value,
        "rationale": decision.rationale,
        "restrictions": list(decision.restrictions),
        "plans": list(decision.plans),
    }
    return record(
        session,
        state,
        case_id=state.id,
        move=CaseMove.DECIDED,
        actor=actor.name,
        at=at,
        data=data,
    )


def decide_no_restriction(
    store: Store, case_id: str, *, actor: Principal, rationale: str, now: datetime | None = None
) -> CaseState:
    """Record why the case ends without a restriction."""
    decision = CaseDecision(DecisionKind.NO_RESTRICTION, rationale)
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, Action.DECIDE, state)
        return record_decision(session, state, decision, actor=actor, at=at)


def record_appeal(
    store: Store, case_id: str, *, actor: Principal, grounds: str, now: datetime | None = None
) -> CaseState:
    """Record the customer's appeal against the decision (received by ``actor``)."""
    grounds = check_text(grounds, "grounds")
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, Action.RECORD_APPEAL, state)
        return append_appeal(session, state, actor=actor.name, grounds=grounds, at=at)


def append_appeal(
    session: Session, state: CaseState, *, actor: str, grounds: str, at: datetime
) -> CaseState:
    """The appeal move on ``state``'s case, numbered next (its gate checked by the
    caller: staff recording it, or the customer filing it)."""
    data = {"number": state.next_number("appeal"), "grounds": grounds}
    return record(
        session, state, case_id=state.id, move=CaseMove.APPEALED, actor=actor, at=at, data=data
    )


def decide_appeal(
    store: Store,
    case_id: str,
    *,
    actor: Principal,
    outcome: AppealOutcome,
    rationale: str,
    now: datetime | None = None,
) -> CaseState:
    """Re-review's outcome. ``lift`` proposes lifting every restriction of the case in
    force, each then needing another person's approval (four eyes, as any lift)."""
    rationale = check_text(rationale, "rationale")
    at = now_utc(now)
    with store.write() as session:
        state = load_case(session, case_id)
        require(actor, Action.DECIDE_APPEAL, state)
        pending = [a for a in state.appeals if a.outcome is None]
        if not pending:
            raise InvalidInputError(Problem("appeal", f"case {case_id} has no open appeal"))
    from brightline.service.restrictions import lift_on_appeal, show_restriction

    lifts: list[str] = []
    if outcome is AppealOutcome.LIFT:
        for rid in state.restrictions():
            view = show_restriction(store, rid, now=at)
            if view.status in (Status.IN_FORCE, Status.APPROVED) and view.state.pending is None:
                lift_on_appeal(
                    store,
                    rid,
                    actor=actor,
                    why=f"appeal {pending[0].number} of {case_id}: {rationale}",
                    key=f"{case_id}:appeal:{pending[0].number}:{rid}",
                    now=at,
                )
                lifts.append(rid)
    with store.write() as session:
        state = load_case(session, case_id)
        data = {
            "appeal": pending[0].number,
            "outcome": outcome.value,
            "rationale": rationale,
            "lifts": lifts,
        }
        return record(
            session,
            state,
            case_id=case_id,
            move=CaseMove.APPEAL_DECIDED,
            actor=actor.name,
            at=at,
            data=data,
        )


def close_case(
    store: Store, case_id: str, *, actor: Principal, why: str, now: datetime | None = None
) -> CaseState:
    """Close; refused with a substantiated finding and no decision. Releases the hold."""
    why = check_text(why, "--why")
    return _change(
        store,
        case_id,
        actor=actor,
        action=Action.CLOSE,
        move=CaseMove.CLOSED,
        data={"why": why},
        now=now,
    )


# -- preservation ---------------------------------------------------------------------------


class CaseHolds:
    """A telemetry ``HoldSource``: the nodes of every case not closed.

    ``brightline telemetry prune`` keeps their subtrees' usage past retention, so what a
    customer does after a report cannot erase the record.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def held_nodes(self, now: datetime) -> set[str]:
        with self._store.read() as session:
            held: set[str] = set()
            for events in all_case_events(session).values():
                state = derive_case(events)
                if state.holds_telemetry:
                    held.update(state.nodes)
            return held
