"""The case export's one rule, on random case histories (pure, no store): what the records
give is found again whatever order they come in; no record can be left out and no field
edited without the comparison saying where."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.cases import (
    CaseEvent,
    CaseMove,
    CaseState,
    DocumentKind,
    DocumentReference,
    apply_case_event,
)
from brightline.errors import BrightlineError, LedgerIntegrityError
from brightline.service.case_summary import (
    LoggedRecord,
    case_export_differences,
    case_records,
    derive_case_export,
)

CASE = "C-7"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PEOPLE = ("ivy", "ext", "ann", "bob")


def _data(move: CaseMove, state: CaseState | None, rng: random.Random) -> dict[str, Any]:
    """Data for ``move`` as the service writes it, numbered after ``state``."""

    def number(kind: str) -> int:
        return 1 if state is None else state.next_number(kind)

    if move is CaseMove.OPENED:
        return {"title": "t", "nodes": ["unit-1"], "policies": ["p"], "signals": ["S-1"]}
    if move is CaseMove.SIGNAL_ATTACHED:
        n = 2 if state is None else len(state.signals) + 1
        return {"signal": f"S-{n}", "nodes": [f"unit-{n}"], "policies": ["p"]}
    if move in (CaseMove.ASSIGNED, CaseMove.UNASSIGNED):
        return {"principal": rng.choice(PEOPLE)}
    if move is CaseMove.EVIDENCE_ADDED:
        document = DocumentReference(DocumentKind.CONTRACT, f"{rng.randrange(256):02x}" * 32, "c")
        return {"number": number("evidence"), "evidence": document.to_json()}
    if move is CaseMove.TASK_ADDED:
        return {"number": number("task"), "title": "t", "due": None, "assignee": None}
    if move is CaseMove.TASK_DONE:
        return {"number": rng.randint(1, max(1, len(state.tasks) if state else 1))}
    if move is CaseMove.FINDING_RECORDED:
        outcome = rng.choice(["substantiated", "unsubstantiated", "inconclusive"])
        return {
            "number": number("finding"),
            "policy": "p",
            "outcome": outcome,
            "rationale": "r",
            "evidence": [],
        }
    if move is CaseMove.PLAN_ATTACHED:
        return {"plan": rng.randint(1, 9)}
    if move is CaseMove.DECIDED:
        n = number("decision")
        restrict = rng.random() < 0.7
        return {
            "kind": "restrict" if restrict else "no-restriction",
            "number": n,
            "rationale": "r",
            "restrictions": [f"r-{n}"] if restrict else [],
            "plans": [],
        }
    if move is CaseMove.APPEALED:
        return {"number": number("appeal"), "grounds": "g"}
    if move is CaseMove.APPEAL_DECIDED:
        appeal = len(state.appeals) if state else 1
        return {"appeal": appeal, "outcome": rng.choice(["upheld", "lift"]), "rationale": "r"}
    if move is CaseMove.CLOSED:
        return {"why": "w"}
    return {}


class _Log:
    """Records in log order, each an hour after the last."""

    def __init__(self) -> None:
        self.records: list[LoggedRecord] = []

    def add(self, event_type: str, record: dict[str, Any]) -> None:
        index = len(self.records)
        at = (T0 + timedelta(hours=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        full = {**record, "at": at, "world_version": 1, "outbox_event": index + 1}
        self.records.append(LoggedRecord(index, event_type, full))


def _history(seed: int, length: int) -> list[LoggedRecord]:
    """A legal random history: moves the transition table refuses are skipped; each signal
    logged before the event naming it; each restricting decision's restriction proposed,
    then perhaps approved, lifted on appeal, by someone else each time."""
    rng = random.Random(seed)
    log = _Log()
    state: CaseState | None = None
    # Closing is allowed from the start: rarely, so that histories get somewhere first.
    weights = [1 if move is CaseMove.CLOSED else 8 for move in CaseMove]
    moves = [CaseMove.OPENED, *rng.choices(list(CaseMove), weights, k=length)]
    for move in moves:
        data = _data(move, state, rng)
        actor = rng.choice(PEOPLE)
        revision = 1 if state is None else state.revision + 1
        probe = CaseEvent(0, CASE, revision, move, actor, T0, data)
        try:
            after = apply_case_event(state, probe)
        except (BrightlineError, KeyError, ValueError):
            continue
        for signal in data.get("signals", [data.get("signal")] if "signal" in data else []):
            nodes = data.get("nodes", [])
            log.add(
                "signal.received",
                {
                    "signal": signal,
                    "source": "person",
                    "alert": None,
                    "nodes": nodes,
                    "policies": ["p"],
                },
            )
        for rid in data.get("restrictions", []) if move is CaseMove.DECIDED else []:
            _restriction(log, rid, rng)
        log.add(
            f"case.{move.value}",
            {"case": CASE, "revision": revision, "kind": move.value, "actor": actor, "data": data},
        )
        state = after
    return log.records


def _restriction(log: _Log, rid: str, rng: random.Random) -> None:
    body = {"id": rid, "scope": "unit-1", "actions": ["storage.*:*"], "mode": "enforce"}
    steps = [("proposed", "ivy"), ("approved", "ann"), ("lift-proposed", "ivy")]
    steps += [("lift-approved", "bob")]
    for revision, (kind, actor) in enumerate(steps[: rng.randint(1, 4)], start=1):
        record: dict[str, Any] = {
            "event": len(log.records) + 100,
            "restriction": rid,
            "revision": revision,
            "kind": kind,
            "actor": actor,
            "why": None,
            "case": CASE,
        }
        if kind == "proposed":
            record["restriction_body"] = body
        log.add(f"restriction.{kind}", record)


def _leaves(value: Any, path: str) -> list[str]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [path]


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.replace("[", ".").replace("]", "").split(".")
    target: Any = document
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    target[int(last) if last.isdigit() else last] = value


histories = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 40))


@settings(max_examples=60, deadline=None)
@given(histories, st.randoms(use_true_random=False))
def test_the_records_give_the_same_export_in_any_order(
    history: tuple[int, int], rng: random.Random
) -> None:
    records = _history(*history)
    derived = derive_case_export(CASE, records, at=T0)
    shuffled = list(records)
    rng.shuffle(shuffled)
    assert derive_case_export(CASE, shuffled, at=T0) == derived
    assert case_records(CASE, shuffled) == records
    assert case_export_differences(derived, derived) == []


@settings(max_examples=60, deadline=None)
@given(histories, st.data())
def test_any_edited_field_is_named(history: tuple[int, int], data: st.DataObject) -> None:
    derived = derive_case_export(CASE, _history(*history), at=T0)
    leaves = _leaves(derived["case"], "case") + _leaves(derived["timeline"], "timeline")
    path = data.draw(st.sampled_from(leaves))
    forged = json.loads(json.dumps(derived))  # not deepcopy: it keeps shared lists shared
    _set(forged, path, data.draw(st.sampled_from(["forged", 10**9, None, True, []])))
    if json.dumps(forged, sort_keys=True) == json.dumps(derived, sort_keys=True):
        return  # the "edit" wrote the value that was there
    problems = case_export_differences(forged, derived)
    assert len(problems) == 1
    assert problems[0].startswith(path), (path, problems)


@settings(max_examples=60, deadline=None)
@given(histories, st.data())
def test_no_record_can_be_left_out_unnoticed(history: tuple[int, int], data: st.DataObject) -> None:
    records = _history(*history)
    derived = derive_case_export(CASE, records, at=T0)
    left_out = data.draw(st.integers(0, len(records) - 1))
    rest = records[:left_out] + records[left_out + 1 :]
    try:
        less = derive_case_export(CASE, rest, at=T0)
    except LedgerIntegrityError:
        return  # a gap in a history, or something the case names without its entry
    assert case_export_differences(derived, less), records[left_out]


def test_a_record_of_another_case_is_named() -> None:
    records = _history(1, 5)
    stray = LoggedRecord(
        len(records), "case.opened", {**records[-1].record, "case": "C-8", "revision": 1}
    )
    with pytest.raises(LedgerIntegrityError, match=r"entry \d+ \(case.opened\) records case C-8"):
        derive_case_export(CASE, [*records, stray], at=T0)
    role = LoggedRecord(len(records), "principal.role-granted", {"principal": "x"})
    with pytest.raises(LedgerIntegrityError, match="is not an event of a case"):
        derive_case_export(CASE, [*records, role], at=T0)
    assert case_records(CASE, [*records, role]) == records
