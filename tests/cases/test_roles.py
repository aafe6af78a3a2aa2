"""Role rules, table-driven: every action × role through the service layer (both databases).

The expected table is written out here, apart from ``PERMISSIONS``, so that a change to
who may do what shows up as a failing test rather than passing silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brightline.cases import (
    PERMISSIONS,
    AccessDeniedError,
    Action,
    AppealOutcome,
    DocumentKind,
    DocumentReference,
    Finding,
    FindingOutcome,
    Role,
    may,
)
from brightline.config import Settings
from brightline.errors import BrightlineError
from brightline.service.case_export import case_timeline, export_case, list_cases, show_case
from brightline.service.cases import (
    add_evidence,
    add_task,
    assign,
    close_case,
    decide_appeal,
    decide_no_restriction,
    open_case,
    record_appeal,
    record_finding,
    start_review,
)
from brightline.service.intake import grant_role, list_principals, show_reporter
from brightline.service.plans import approve, plan_text
from brightline.service.usage import case_usage
from brightline.store import Store
from cases.case_scenarios import POLICY, at, report, with_people

# Who may act: I investigator, X external reviewer (assigned), x external reviewer (not
# assigned), A approver, U auditor, C case admin.
WHO = {
    "I": "investigator",
    "X": "reviewer",
    "x": "reviewer",
    "A": "approver1",
    "U": "auditor",
    "C": "admin",
}
EXPECTED: dict[Action, str] = {
    Action.LIST_CASES: "IXxAUC",
    Action.VIEW_CASE: "IXAUC",
    Action.VIEW_REPORTER: "C",
    Action.OPEN_CASE: "IC",
    Action.ASSIGN: "IC",
    Action.START_REVIEW: "I",
    Action.ADD_EVIDENCE: "IX",
    Action.VIEW_USAGE: "IXU",
    Action.VIEW_USAGE_BREAKDOWN: "IX",
    Action.ADD_TASK: "IC",
    Action.ADD_FINDING: "IX",
    Action.PLAN: "IA",
    Action.DECIDE: "I",
    Action.APPROVE_RESTRICTION: "A",
    Action.RECORD_APPEAL: "IC",
    Action.DECIDE_APPEAL: "IA",
    Action.CLOSE: "IC",
    Action.EXPORT: "IUC",
    Action.VIEW_LEDGER: "IAUC",
    Action.GRANT_ROLES: "C",
}
ROLE_OF = {
    "I": Role.INVESTIGATOR,
    "X": Role.EXTERNAL_REVIEWER,
    "x": Role.EXTERNAL_REVIEWER,
    "A": Role.APPROVER,
    "U": Role.AUDITOR,
    "C": Role.CASE_ADMIN,
}
DOC = DocumentReference(DocumentKind.TICKET, "cd" * 32, "Support ticket 17")


def _calls(store: Store, case: str, tmp: Path) -> dict[Action, Callable[[str], Any]]:
    settings = Settings(data_dir=tmp)
    finding = Finding(POLICY, FindingOutcome.INCONCLUSIVE, "not enough")
    return {
        Action.LIST_CASES: lambda a: list_cases(store, actor=a),
        Action.VIEW_CASE: lambda a: show_case(store, case, actor=a),
        Action.VIEW_REPORTER: lambda a: show_reporter(store, "S-1", actor=a),
        Action.OPEN_CASE: lambda a: open_case(store, actor=a, title="t", signals=["S-1"]),
        Action.ASSIGN: lambda a: assign(store, case, "someone", actor=a),
        Action.START_REVIEW: lambda a: start_review(store, case, actor=a),
        Action.ADD_EVIDENCE: lambda a: add_evidence(store, case, DOC, actor=a),
        Action.VIEW_USAGE: lambda a: case_usage(store, settings, case, actor=a, now=at(1)),
        Action.VIEW_USAGE_BREAKDOWN: lambda a: case_usage(
            store, settings, case, actor=a, purpose="why", now=at(1)
        ),
        Action.ADD_TASK: lambda a: add_task(store, case, actor=a, title="call"),
        Action.ADD_FINDING: lambda a: record_finding(store, case, finding, actor=a),
        Action.PLAN: lambda a: _plan(store, settings, a),
        Action.DECIDE: lambda a: decide_no_restriction(store, case, actor=a, rationale="r"),
        Action.APPROVE_RESTRICTION: lambda a: approve(store, "r-none", actor=a),
        Action.RECORD_APPEAL: lambda a: record_appeal(store, case, actor=a, grounds="g"),
        Action.DECIDE_APPEAL: lambda a: decide_appeal(
            store, case, actor=a, outcome=AppealOutcome.UPHELD, rationale="r"
        ),
        Action.CLOSE: lambda a: close_case(store, case, actor=a, why="w"),
        Action.EXPORT: lambda a: export_case(store, case, tmp / "out.json", actor=a),
        Action.VIEW_LEDGER: lambda a: list_principals(store, actor=a),
        Action.GRANT_ROLES: lambda a: grant_role(store, "newcomer", Role.AUDITOR, actor=a),
    }


def _plan(store: Store, settings: Settings, actor: str) -> Any:
    # The plan itself is read-only; the role check sits where a case acts on it.
    from brightline.service.cases import require

    with store.read() as session:
        require(session, actor, Action.PLAN)
    return plan_text(
        store, settings, "id: r-x\nscope: unit-9900\nactions: ['*:*']\n", name="r.yaml", now=at(1)
    )


def test_expected_table_matches_the_permission_table() -> None:
    assert set(EXPECTED) == set(Action) == set(PERMISSIONS)
    for action, who in EXPECTED.items():
        for letter, role in ROLE_OF.items():
            assigned = None if action is Action.LIST_CASES else letter != "x"
            assert may([role], action, assigned=assigned) == (letter in who), (action, letter)


@pytest.mark.parametrize("action", list(Action))
def test_every_role_is_held_to_the_table(store: Store, tmp_path: Path, action: Action) -> None:
    with_people(store)
    case_timeline  # noqa: B018  (read through VIEW_CASE, same rule)
    for letter, actor in WHO.items():
        signal = report(store)
        case = open_case(store, actor="investigator", title="t", signals=[signal], now=at(0)).id
        if letter == "X":
            assign(store, case, "reviewer", actor="investigator", now=at(0))
        call = _calls(store, case, tmp_path)[action]
        allowed = letter in EXPECTED[action]
        try:
            call(actor)
        except AccessDeniedError:
            assert not allowed, f"{actor} ({letter}) was refused {action}"
            continue
        except BrightlineError:
            pass  # refused for another reason (state, missing object): the role passed
        assert allowed, f"{actor} ({letter}) was allowed {action}"


def test_rejecting_a_restriction_is_an_approvers_act_too(store: Store) -> None:
    from brightline.service.plans import reject

    with_people(store)
    for letter, actor in WHO.items():
        try:
            reject(store, "r-none", actor=actor, why="no")
        except AccessDeniedError:
            assert letter not in EXPECTED[Action.APPROVE_RESTRICTION], actor
            continue
        except BrightlineError:
            pass  # the role passed; there is no such restriction
        assert letter in EXPECTED[Action.APPROVE_RESTRICTION], actor
