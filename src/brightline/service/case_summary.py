"""What a case export says, derived from the ledger records it carries: one rule, used by the
exporter to write the bundle and by the verifier to check it.

Pure: records in, the derived part of the bundle out. A case export's ``case`` (status,
signals, evidence, findings, tasks, plans, decisions, appeals and their outcomes, the
restrictions its decisions proposed, its events) and its ``timeline`` are nothing but
:func:`derive_case_export` of the records of its ledger entries. A verifier that checked
those records against their commitments therefore derives them again and compares them
field by field (:func:`case_export_differences`): a summary edited after the fact, even
with the bundle's digest recomputed, is refused and the field named.

What the entries cannot show: that none was left out after the last one. A bundle whose
latest entries were removed, and its summary rolled back with them, is a true account
of the case as it stood then; the store audit (``brightline ledger verify``) is what
shows the provider's log holds no later event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from brightline.cases import CaseEvent, CaseMove, CaseState, derive_case
from brightline.errors import ConflictError, InvalidInputError, LedgerIntegrityError
from brightline.policy import format_time
from brightline.service.lifecycle import EventKind, RestrictionState, derive
from brightline.store import StoredEvent

#: What replaying or summarising records the log holds may raise, were one malformed: a
#: verifier reports it and never crashes on it.
_BAD_HISTORY: Final = (ConflictError, InvalidInputError, KeyError, TypeError, ValueError)
T = TypeVar("T")
E = TypeVar("E")
S = TypeVar("S")
_LIFECYCLE: Final = frozenset(kind.value for kind in EventKind)
#: Restriction entries that belong to a case without changing its restrictions' phase.
_ALSO_RESTRICTION: Final = frozenset({"guard-approved"})


@dataclass(frozen=True, slots=True)
class LoggedRecord:
    """A ledger entry's private record, with the entry's index and the event type its public
    form names (the public form is what the log's tree commits to; the bundle's own label
    of an entry is not trusted)."""

    index: int
    event_type: str
    record: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"entry {self.index} ({self.event_type})"


# -- rendering: one form for showing a case and for exporting it -----------------------------


def case_json(state: CaseState, *, signals: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The summary of a case (without its events); ``signals`` are the case's signals as
    the caller may show them."""
    s = state
    return {
        "id": s.id,
        "status": s.status.value,
        "title": s.title,
        "opened_by": s.opened_by,
        "opened_at": format_time(s.opened_at),
        "nodes": list(s.nodes),
        "policies": list(s.policies),
        "assignees": sorted(s.assignees),
        "signals": [dict(signal) for signal in signals],
        "evidence": [
            {"number": e.number, "by": e.by, "at": format_time(e.at), **e.evidence.to_json()}
            for e in s.evidence
        ],
        "findings": [
            {
                "number": f.number,
                "by": f.by,
                "at": format_time(f.at),
                "policy": f.finding.policy,
                "outcome": f.finding.outcome.value,
                "rationale": f.finding.rationale,
                "evidence": list(f.finding.evidence),
            }
            for f in s.findings
        ],
        "tasks": [
            {
                "number": t.number,
                "title": t.title,
                "due": t.due,
                "assignee": t.assignee,
                "done": t.done,
            }
            for t in s.tasks
        ],
        "plans": list(s.plans),
        "decisions": [
            {
                "number": d.number,
                "by": d.by,
                "at": format_time(d.at),
                "kind": d.decision.kind.value,
                "rationale": d.decision.rationale,
                "restrictions": list(d.decision.restrictions),
            }
            for d in s.decisions
        ],
        "appeals": [
            {
                "number": a.number,
                "at": format_time(a.at),
                "grounds": a.grounds,
                "outcome": a.outcome.value if a.outcome else None,
                "rationale": a.rationale,
            }
            for a in s.appeals
        ],
        "closed_at": format_time(s.closed_at),
    }


def event_json(event: CaseEvent) -> dict[str, Any]:
    return {
        "revision": event.revision,
        "kind": event.move.value,
        "actor": event.actor,
        "at": format_time(event.at),
        "data": dict(event.data),
    }


def restriction_item(event: StoredEvent) -> dict[str, Any]:
    """A restriction event as a case's timeline shows it (``seq`` is the store's event id)."""
    return {
        "source": "restriction",
        "restriction": event.restriction_id,
        "seq": event.seq,
        "revision": event.revision,
        "kind": event.kind,
        "actor": event.actor,
        "at": format_time(event.at),
        "why": event.why,
        "case": event.case_id,
    }


def timeline_order(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A case's events and its restrictions' events in time order, a case event first at
    the same time (the decision before the proposal it made)."""
    return sorted(items, key=lambda i: (i["at"], i["source"] != "case"))


def restriction_json(state: RestrictionState, *, at: datetime) -> dict[str, Any]:
    """A restriction of a case as its events leave it, with its status at ``at``."""
    return {
        "id": state.id,
        "status": state.status(at).value,
        "phase": state.phase.value,
        "pending": state.pending.value if state.pending else None,
        "proposed_by": state.proposed_by,
        "proposed_at": format_time(state.proposed_at),
        "case": state.case_id,
        "revision": state.revision,
        "restriction": dict(state.body),
        "pending_restriction": dict(state.pending_body) if state.pending_body else None,
    }


def logged_signal_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """A signal as its ``signal.received`` record gives it (what a person or a detector
    wrote is kept out of the log)."""
    return {
        "id": str(record["signal"]),
        "source": str(record["source"]),
        "received_at": str(record["at"]),
        "nodes": list(record["nodes"]),
        "policies": list(record["policies"]),
        "alert": record["alert"],
    }


# -- deriving ----------------------------------------------------------------------------------


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r}")
    return moment


def _case_event(logged: LoggedRecord) -> CaseEvent:
    r = logged.record
    move = CaseMove(r["kind"])
    if logged.event_type != f"case.{move.value}" or not isinstance(r["data"], Mapping):
        raise ValueError("its record does not match its type")
    return CaseEvent(
        seq=logged.index,
        case_id=str(r["case"]),
        revision=int(r["revision"]),
        move=move,
        actor=str(r["actor"]),
        at=_time(r["at"]),
        data=r["data"],
    )


def _restriction_event(logged: LoggedRecord) -> StoredEvent:
    r = logged.record
    body = r.get("restriction_body")
    if logged.event_type != f"restriction.{r['kind']}" or not isinstance(body, Mapping | None):
        raise ValueError("its record does not match its type")
    return StoredEvent(
        seq=int(r["event"]),
        restriction_id=str(r["restriction"]),
        revision=int(r["revision"]),
        kind=str(r["kind"]),
        actor=str(r["actor"]),
        at=_time(r["at"]),
        why=r["why"],
        case_id=r["case"],
        body=body,
        idempotency_key=None,  # not in the log, nor in an export
        request_digest="",
    )


def _parse(logged: LoggedRecord, parse: Callable[[LoggedRecord], T]) -> T:
    try:
        return parse(logged)
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerIntegrityError(f"{logged.where}: malformed record ({exc!r})") from exc


def _stray(case_id: str, state: CaseState | None, logged: LoggedRecord) -> str | None:
    """Why ``logged`` is not an entry of case ``case_id`` (as ``state``, from the case's own
    entries, leaves it; None while those are being read), or None if it is one."""
    r, (kind, _, what) = logged.record, logged.event_type.partition(".")
    if kind == "case":
        return None if r.get("case") == case_id else f"records case {r.get('case')}"
    if state is None:
        return "is not an event of the case itself"
    if kind == "restriction" and (what in _LIFECYCLE or what in _ALSO_RESTRICTION):
        if r.get("case") == case_id or r.get("restriction") in state.restrictions():
            return None
        return f"records restriction {r.get('restriction')}, which case {case_id} did not decide"
    if logged.event_type == "signal.received":
        if r.get("signal") in state.signals:
            return None
        return f"records signal {r.get('signal')}, not one of case {case_id}"
    return "is not an event of a case"


@dataclass(frozen=True, slots=True)
class CaseHistory:
    """A case's logged history: its events and its restrictions' events (in log order),
    replayed; its signals' records by signal id."""

    state: CaseState
    events: tuple[CaseEvent, ...]
    restrictions: Mapping[str, RestrictionState]
    restriction_events: Mapping[str, tuple[StoredEvent, ...]]
    signals: Mapping[str, LoggedRecord]


def _replay(
    records: Sequence[LoggedRecord],
    events: Sequence[E],
    replay: Callable[[Sequence[E]], S],
    *,
    what: str,
) -> S:
    """``replay(events)``; if a transition table refuses it (or a record lacks what its move
    needs), LedgerIntegrityError naming the first entry (of ``records``, one per event)
    where it fails."""
    try:
        return replay(events)
    except _BAD_HISTORY as exc:
        for k in range(1, len(events) + 1):  # only on failure: find where
            try:
                replay(events[:k])
            except _BAD_HISTORY as where:
                raise LedgerIntegrityError(
                    f"{records[k - 1].where}: the entries of {what} do not replay here ({where})"
                ) from exc
        raise LedgerIntegrityError(f"the entries of {what} do not replay ({exc})") from exc


def _replayed(case_id: str, ordered: Sequence[LoggedRecord]) -> tuple[CaseState, list[CaseEvent]]:
    records, events = [], []
    for logged in ordered:
        if logged.event_type.startswith("case."):
            if (why := _stray(case_id, None, logged)) is not None:
                raise LedgerIntegrityError(f"{logged.where} {why}, not {case_id}")
            records.append(logged)
            events.append(_parse(logged, _case_event))
    if not events:
        raise LedgerIntegrityError(f"no entry records an event of case {case_id}")
    return _replay(records, events, derive_case, what=f"case {case_id}"), events


def case_history(case_id: str, records: Sequence[LoggedRecord]) -> CaseHistory:
    """Sort a case's records (any order) by what they record, and replay them. Raises
    LedgerIntegrityError, naming the entry, for a record of something else, a malformed
    record or a history a transition table refuses (a revision missing, a move not
    allowed, an approval by the proposer)."""
    ordered = sorted(records, key=lambda r: r.index)
    state, events = _replayed(case_id, ordered)
    by_restriction: dict[str, list[tuple[LoggedRecord, StoredEvent]]] = {}
    signals: dict[str, LoggedRecord] = {}
    for logged in ordered:
        if logged.event_type.startswith("case."):
            continue
        if (why := _stray(case_id, state, logged)) is not None:
            raise LedgerIntegrityError(f"{logged.where} {why}")
        if logged.event_type == "signal.received":
            signals[str(logged.record["signal"])] = logged
        elif logged.event_type.removeprefix("restriction.") in _LIFECYCLE:
            event = _parse(logged, _restriction_event)
            by_restriction.setdefault(event.restriction_id, []).append((logged, event))
    restrictions = {
        rid: _replay(
            [logged for logged, _ in pairs],
            [event for _, event in pairs],
            derive,
            what=f"restriction {rid}",
        )
        for rid, pairs in by_restriction.items()
    }
    return CaseHistory(
        state,
        tuple(events),
        restrictions,
        {rid: tuple(event for _, event in pairs) for rid, pairs in by_restriction.items()},
        signals,
    )


def case_records(case_id: str, records: Sequence[LoggedRecord]) -> list[LoggedRecord]:
    """The records of ``records`` that belong to case ``case_id`` as its own logged events
    leave it; the exporter writes only these, so that a verifier finds no stray entry."""
    ordered = sorted(records, key=lambda r: r.index)
    state, _ = _replayed(case_id, ordered)
    return [r for r in ordered if _stray(case_id, state, r) is None]


def derive_case_export(
    case_id: str, records: Sequence[LoggedRecord], *, at: datetime
) -> dict[str, Any]:
    """The ``case`` and ``timeline`` of a case export, as its entries' records give them,
    each restriction's status read at ``at`` (the export's time). Raises
    LedgerIntegrityError as :func:`case_history` does, and when a signal or a restriction
    the case names has no entry in ``records``: an honest export carries both, since each
    is logged before the case event that names it."""
    history = case_history(case_id, records)
    state = history.state
    signals = []
    for ref in state.signals:
        logged = history.signals.get(ref)
        if logged is None:
            raise LedgerIntegrityError(f"case {case_id} names signal {ref}, which no entry records")
        signals.append(_parse(logged, _signal))
    named = state.restrictions()
    missing = [rid for rid in named if rid not in history.restrictions]
    if missing:
        raise LedgerIntegrityError(
            f"case {case_id} decided restriction {missing[0]}, which no entry records"
        )
    order = [*named, *(rid for rid in history.restrictions if rid not in named)]
    try:
        restrictions = [restriction_json(history.restrictions[rid], at=at) for rid in order]
        case = case_json(state, signals=signals)
    except _BAD_HISTORY as exc:
        raise LedgerIntegrityError(f"the entries of case {case_id} cannot be read ({exc})") from exc
    case["restrictions"] = restrictions
    case["events"] = [event_json(e) for e in history.events]
    timeline = [{"source": "case", **event_json(e)} for e in history.events]
    timeline += [restriction_item(e) for rid in order for e in history.restriction_events[rid]]
    return {"case": case, "timeline": timeline_order(timeline)}


def _signal(logged: LoggedRecord) -> dict[str, Any]:
    return logged_signal_json(logged.record)


# -- comparing -----------------------------------------------------------------------------------

_ABSENT: Final = object()
_WIDTH: Final = 100


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def _same(a: Any, b: Any) -> bool:
    # By their JSON text: true is not 1 and 2.0 is not 2.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def first_difference(path: str, exported: Any, derived: Any) -> str | None:
    """Where ``exported`` (a bundle's value at ``path``) first differs from ``derived`` (the
    value its verified entries give), with both values; None if they are the same."""
    if exported is _ABSENT:
        return f"{path}: absent from the bundle, the verified entries give {_shown(derived)}"
    if derived is _ABSENT:
        return f"{path}: not in the verified entries (the bundle says {_shown(exported)})"
    if isinstance(exported, Mapping) and isinstance(derived, Mapping):
        keys = [*derived, *(k for k in exported if k not in derived)]
        for key in keys:
            found = first_difference(
                f"{path}.{key}", exported.get(key, _ABSENT), derived.get(key, _ABSENT)
            )
            if found:
                return found
        return None
    if isinstance(exported, list) and isinstance(derived, list):
        for i in range(max(len(exported), len(derived))):
            found = first_difference(
                f"{path}[{i}]",
                exported[i] if i < len(exported) else _ABSENT,
                derived[i] if i < len(derived) else _ABSENT,
            )
            if found:
                return found
        return None
    if _same(exported, derived):
        return None
    return (
        f"{path}: the bundle says {_shown(exported)}, the verified entries give {_shown(derived)}"
    )


def case_export_differences(bundle: Mapping[str, Any], derived: Mapping[str, Any]) -> list[str]:
    """One problem per field of the bundle's case (status, findings, appeals, restrictions,
    events…) and for its timeline that differs from ``derived``, naming the first place
    it differs."""
    problems = []
    exported_case, derived_case = bundle.get("case", _ABSENT), derived["case"]
    if isinstance(exported_case, Mapping):
        keys = [*derived_case, *(k for k in exported_case if k not in derived_case)]
        for key in keys:
            problems.append(
                first_difference(
                    f"case.{key}", exported_case.get(key, _ABSENT), derived_case.get(key, _ABSENT)
                )
            )
    else:
        problems.append(first_difference("case", exported_case, derived_case))
    problems.append(
        first_difference("timeline", bundle.get("timeline", _ABSENT), derived["timeline"])
    )
    return [p for p in problems if p is not None]


__all__ = [
    "CaseHistory",
    "LoggedRecord",
    "case_export_differences",
    "case_history",
    "case_json",
    "case_records",
    "derive_case_export",
    "event_json",
    "first_difference",
    "logged_signal_json",
    "restriction_item",
    "restriction_json",
    "timeline_order",
]
