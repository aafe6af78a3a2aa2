"""Roles and what each may do: one permission table, enforced by the service layer.

The CLI, the API and the console all call the service, so they obey the same table.
An external reviewer acts only on the cases it is assigned to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from brightline.errors import AccessDeniedError

__all__ = ["PERMISSIONS", "AccessDeniedError", "Action", "Role", "authorize"]


class Role(StrEnum):
    INVESTIGATOR = "investigator"
    EXTERNAL_REVIEWER = "external-reviewer"
    APPROVER = "approver"
    AUDITOR = "auditor"
    CASE_ADMIN = "case-admin"


class Action(StrEnum):
    LIST_CASES = "list-cases"
    VIEW_CASE = "view-case"
    VIEW_REPORTER = "view-reporter"
    OPEN_CASE = "open-case"
    ASSIGN = "assign"
    START_REVIEW = "start-review"
    ADD_EVIDENCE = "add-evidence"
    VIEW_USAGE = "view-usage"
    VIEW_USAGE_BREAKDOWN = "view-usage-breakdown"
    ADD_TASK = "add-task"
    ADD_FINDING = "add-finding"
    PLAN = "plan"
    DECIDE = "decide"
    APPROVE_RESTRICTION = "approve-restriction"
    RECORD_APPEAL = "record-appeal"
    DECIDE_APPEAL = "decide-appeal"
    CLOSE = "close"
    EXPORT = "export"
    VIEW_LEDGER = "view-ledger"
    GRANT_ROLES = "grant-roles"


R = Role
_READERS: Final = frozenset({R.INVESTIGATOR, R.APPROVER, R.AUDITOR, R.CASE_ADMIN})

#: Who may do what. The auditor reads everything and changes nothing; only the case
#: admin sees who reported; the external reviewer cannot approve or decide.
PERMISSIONS: Final[Mapping[Action, frozenset[Role]]] = MappingProxyType(
    {
        Action.LIST_CASES: _READERS | {R.EXTERNAL_REVIEWER},
        Action.VIEW_CASE: _READERS | {R.EXTERNAL_REVIEWER},
        Action.VIEW_REPORTER: frozenset({R.CASE_ADMIN}),
        Action.OPEN_CASE: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.ASSIGN: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.START_REVIEW: frozenset({R.INVESTIGATOR}),
        Action.ADD_EVIDENCE: frozenset({R.INVESTIGATOR, R.EXTERNAL_REVIEWER}),
        Action.VIEW_USAGE: frozenset({R.INVESTIGATOR, R.EXTERNAL_REVIEWER, R.AUDITOR}),
        Action.VIEW_USAGE_BREAKDOWN: frozenset({R.INVESTIGATOR, R.EXTERNAL_REVIEWER}),
        Action.ADD_TASK: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.ADD_FINDING: frozenset({R.INVESTIGATOR, R.EXTERNAL_REVIEWER}),
        Action.PLAN: frozenset({R.INVESTIGATOR, R.APPROVER}),
        Action.DECIDE: frozenset({R.INVESTIGATOR}),
        Action.APPROVE_RESTRICTION: frozenset({R.APPROVER}),
        Action.RECORD_APPEAL: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.DECIDE_APPEAL: frozenset({R.INVESTIGATOR, R.APPROVER}),
        Action.CLOSE: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.EXPORT: frozenset({R.INVESTIGATOR, R.AUDITOR, R.CASE_ADMIN}),
        Action.VIEW_LEDGER: _READERS,
        Action.GRANT_ROLES: frozenset({R.CASE_ADMIN}),
    }
)

#: Roles that hold a permission only on the cases they are assigned to.
ASSIGNMENT_SCOPED: Final = frozenset({R.EXTERNAL_REVIEWER})


def may(roles: Iterable[Role], action: Action, *, assigned: bool | None = None) -> bool:
    """Whether someone with ``roles`` may do ``action``.

    ``assigned`` says whether the principal is assigned to the case concerned; None
    when the action concerns no particular case (then assignment-scoped roles count).
    """
    allowed = PERMISSIONS[action]
    return any(
        role in allowed and (role not in ASSIGNMENT_SCOPED or assigned is not False)
        for role in roles
    )


def authorize(
    principal: str, roles: Iterable[Role], action: Action, *, assigned: bool | None = None
) -> None:
    """Raise AccessDeniedError unless ``roles`` allow ``action``."""
    held = frozenset(roles)
    if may(held, action, assigned=assigned):
        return
    if not held:
        raise AccessDeniedError(f"{principal} holds no role; ask a case admin to grant one")
    needed = ", ".join(sorted(PERMISSIONS[action]))
    scoped = held & ASSIGNMENT_SCOPED & PERMISSIONS[action]
    if scoped and assigned is False:
        raise AccessDeniedError(f"{principal} is not assigned to this case")
    raise AccessDeniedError(
        f"{principal} ({', '.join(sorted(held))}) may not {action}; it needs one of: {needed}"
    )
