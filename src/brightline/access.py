"""Who may do what: the one permission table, and the one rule for effective roles.

Every way in (the API, the console, the CLI, the demo) takes its gate from
:data:`PERMISSIONS`, and every service function that changes or reveals something checks
it again with :func:`authorize`. No way in writes role sets of its own.

Effective roles are the credential's roles (an API key's, or an OIDC token's mapped
claims) **intersected** with the roles the store grants the principal
(:func:`effective_roles`): a credential limits what may be done with it, the grants what
the person may do. ``admin`` is for bootstrapping and for managing keys and grants only:
it approves, proposes and reads reporters only when the principal is also granted those
roles. An external reviewer acts only on the cases it is assigned to. A customer acts
only on its own subtree: the node its ``customer`` grant binds it to and everything below
(:func:`authorize_node`, :func:`bears_on_customer`); anything else is "not found", exactly
as an unknown node or restriction is, so that a customer learns nothing of the others.

Pure: no I/O. The table is printed in docs/api.md and tested by a matrix test over every
action, role and way in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from brightline.errors import AccessDeniedError, NotFoundError

__all__ = [
    "ASSIGNMENT_SCOPED",
    "KEY_PRINCIPAL",
    "NODE_SCOPED",
    "PERMISSIONS",
    "AccessDeniedError",
    "Action",
    "Principal",
    "Role",
    "authorize",
    "authorize_grant",
    "authorize_node",
    "bears_on_customer",
    "effective_roles",
    "may",
    "roles_for",
    "unknown_node",
]


class Role(StrEnum):
    INVESTIGATOR = "investigator"
    EXTERNAL_REVIEWER = "external-reviewer"
    APPROVER = "approver"
    AUDITOR = "auditor"
    CASE_ADMIN = "case-admin"
    #: Bootstrapping, API keys, role grants and the ledger's key; nothing else.
    ADMIN = "admin"
    #: A gateway: bundles, decisions and decision-log reports.
    ENFORCEMENT_POINT = "enforcement-point"
    #: A provider's customer, bound to one node (its grant names it): reads the
    #: restrictions on its own subtree and appeals them; nothing else.
    CUSTOMER = "customer"


class Action(StrEnum):
    # cases
    LIST_CASES = "list-cases"
    VIEW_CASE = "view-case"
    VIEW_REPORTER = "view-reporter"
    SUBMIT_REPORT = "submit-report"
    #: Read the public channel's reports (their documents too) and reply to reporters.
    TRIAGE_REPORTS = "triage-reports"
    VIEW_ALERTS = "view-alerts"
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
    RECORD_APPEAL = "record-appeal"
    DECIDE_APPEAL = "decide-appeal"
    CLOSE = "close"
    EXPORT = "export"
    # restrictions
    LIST_RESTRICTIONS = "list-restrictions"
    PROPOSE_RESTRICTION = "propose-restriction"
    APPROVE_RESTRICTION = "approve-restriction"
    REJECT_RESTRICTION = "reject-restriction"
    LIFT_RESTRICTION = "lift-restriction"
    GUARD_APPROVE = "guard-approve"
    PROMOTE_RESTRICTION = "promote-restriction"
    # the world, enforcement and exports
    READ_DIRECTORY = "read-directory"
    IMPORT_WORLD = "import-world"
    READ_BUNDLE = "read-bundle"
    REQUEST_DECISION = "request-decision"
    REPORT_DECISION_LOGS = "report-decision-logs"
    EXPORT_POLICY = "export-policy"
    # the ledger
    VIEW_LEDGER = "view-ledger"
    DISCLOSE = "disclose"
    #: Seal the current log and continue in a new one, under a new key.
    SEAL_LEDGER = "seal-ledger"
    # notifications
    MANAGE_NOTIFICATIONS = "manage-notifications"
    VIEW_NOTIFICATIONS = "view-notifications"
    # principals and keys
    LIST_PRINCIPALS = "list-principals"
    GRANT_ROLES = "grant-roles"
    REVOKE_ROLES = "revoke-roles"
    LIST_KEYS = "list-keys"
    CREATE_KEY = "create-key"
    REVOKE_KEY = "revoke-key"
    # a customer's own view
    #: The restrictions in force and scheduled on the customer's subtree, their notices.
    VIEW_OWN_RESTRICTIONS = "view-own-restrictions"
    #: Appeal one of those restrictions: an appeal on the case that decided it.
    FILE_APPEAL = "file-appeal"


R = Role
#: Staff who read the casework: everyone but external reviewers, gateways and admins.
_STAFF: Final = frozenset({R.INVESTIGATOR, R.APPROVER, R.AUDITOR, R.CASE_ADMIN})
_KEYS_AND_GRANTS: Final = frozenset({R.ADMIN, R.CASE_ADMIN})

#: Who may do what. The auditor reads everything (but reporters) and changes nothing;
#: only the case admin sees who reported; the external reviewer works on its assigned
#: cases only and never approves or decides; ``admin`` manages keys and grants only;
#: ``enforcement-point`` only asks for bundles and decisions and reports decision logs;
#: ``customer`` only reads and appeals what bears on its own subtree.
PERMISSIONS: Final[Mapping[Action, frozenset[Role]]] = MappingProxyType(
    {
        Action.LIST_CASES: _STAFF | {R.EXTERNAL_REVIEWER},
        Action.VIEW_CASE: _STAFF | {R.EXTERNAL_REVIEWER},
        Action.VIEW_REPORTER: frozenset({R.CASE_ADMIN}),
        Action.SUBMIT_REPORT: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.TRIAGE_REPORTS: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.VIEW_ALERTS: _STAFF,
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
        Action.RECORD_APPEAL: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.DECIDE_APPEAL: frozenset({R.INVESTIGATOR, R.APPROVER}),
        Action.CLOSE: frozenset({R.INVESTIGATOR, R.CASE_ADMIN}),
        Action.EXPORT: frozenset({R.INVESTIGATOR, R.AUDITOR, R.CASE_ADMIN}),
        Action.LIST_RESTRICTIONS: _STAFF,
        Action.PROPOSE_RESTRICTION: frozenset({R.INVESTIGATOR}),
        Action.APPROVE_RESTRICTION: frozenset({R.APPROVER}),
        Action.REJECT_RESTRICTION: frozenset({R.APPROVER}),
        Action.LIFT_RESTRICTION: frozenset({R.INVESTIGATOR}),
        Action.GUARD_APPROVE: frozenset({R.APPROVER}),
        Action.PROMOTE_RESTRICTION: frozenset({R.INVESTIGATOR}),
        Action.READ_DIRECTORY: _STAFF,
        Action.IMPORT_WORLD: frozenset({R.ADMIN}),
        Action.READ_BUNDLE: _STAFF | {R.ENFORCEMENT_POINT},
        Action.REQUEST_DECISION: _STAFF | {R.ENFORCEMENT_POINT},
        Action.REPORT_DECISION_LOGS: frozenset({R.ENFORCEMENT_POINT}),
        Action.EXPORT_POLICY: _STAFF,
        Action.VIEW_LEDGER: _STAFF,
        Action.DISCLOSE: frozenset({R.AUDITOR}),
        Action.SEAL_LEDGER: frozenset({R.ADMIN}),
        Action.MANAGE_NOTIFICATIONS: frozenset({R.CASE_ADMIN}),
        Action.VIEW_NOTIFICATIONS: frozenset({R.CASE_ADMIN, R.AUDITOR}),
        Action.LIST_PRINCIPALS: _KEYS_AND_GRANTS | {R.AUDITOR},
        Action.GRANT_ROLES: _KEYS_AND_GRANTS,
        Action.REVOKE_ROLES: _KEYS_AND_GRANTS,
        Action.LIST_KEYS: _KEYS_AND_GRANTS | {R.AUDITOR},
        Action.CREATE_KEY: frozenset({R.ADMIN}),
        Action.REVOKE_KEY: frozenset({R.ADMIN}),
        Action.VIEW_OWN_RESTRICTIONS: frozenset({R.CUSTOMER}),
        Action.FILE_APPEAL: frozenset({R.CUSTOMER}),
    }
)

#: Roles that hold a permission only on the cases they are assigned to.
ASSIGNMENT_SCOPED: Final = frozenset({R.EXTERNAL_REVIEWER})
#: Roles that hold a permission only on the subtree of the node their grant binds them to.
NODE_SCOPED: Final = frozenset({R.CUSTOMER})

#: Names of API-key principals. OIDC principals are ``oidc:<issuer alias>:<sub>``; the
#: colon, which key principals may not contain, keeps the two namespaces apart.
KEY_PRINCIPAL: Final = r"[A-Za-z0-9._@+\-]{1,128}"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, with the roles they may use now (:func:`effective_roles`) and the
    credential they presented (``key:<id>``, ``oidc:<alias>``, for logs and rate limits).
    ``node`` is the node a ``customer`` grant binds the principal to (None otherwise)."""

    name: str
    roles: frozenset[Role]
    credential: str
    node: str | None = None

    def may(self, action: Action, *, assigned: bool | None = None) -> bool:
        return may(self.roles, action, assigned=assigned)

    def has_any(self, roles: Iterable[Role]) -> bool:
        return not self.roles.isdisjoint(roles)


def effective_roles(credential: Iterable[str], granted: Iterable[str]) -> frozenset[Role]:
    """The roles a principal may use: those its credential carries that the store also
    grants it. Unknown role names on either side count for nothing."""
    known = {r.value for r in Role}
    both = {str(r) for r in credential} & {str(r) for r in granted}
    return frozenset(Role(r) for r in both if r in known)


def roles_for(action: Action) -> frozenset[Role]:
    """Who may do ``action`` (for gates and for messages)."""
    return PERMISSIONS[action]


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


def authorize_grant(principal: Principal, action: Action, *, target: str, role: Role) -> None:
    """Granting or revoking ``role`` for ``target``: the table's GRANT_ROLES/REVOKE_ROLES,
    and two rules that keep grants from escalating: no one changes their own roles, and
    only an admin grants or revokes ``admin``."""
    authorize(principal, action)
    if principal.name.casefold() == target.casefold():
        raise AccessDeniedError(f"{principal.name} may not change its own roles")
    if role is Role.ADMIN and Role.ADMIN not in principal.roles:
        raise AccessDeniedError(f"only an admin may grant or revoke {Role.ADMIN}")


def bears_on_customer(
    principal: Principal,
    *,
    scope_chain: Sequence[str],
    bound_chain: Sequence[str],
    exempt: Iterable[str] = (),
) -> bool:
    """Whether a restriction bears on the principal's customer subtree. ``scope_chain`` is
    the chain of the restriction's scope (the node, its parent, … its root),
    ``bound_chain`` that of the principal's bound node. It does when its scope is the bound
    node or below it, or above it without exempting the bound node or a node between."""
    node = principal.node
    if node is None or Role.CUSTOMER not in principal.roles:
        return False
    if node in scope_chain:
        return True
    scope = scope_chain[0] if scope_chain else None
    if scope is None or scope not in bound_chain:
        return False
    below_scope = set(bound_chain[: list(bound_chain).index(scope)])
    return not below_scope & set(exempt)


def authorize_node(
    principal: Principal, action: Action, *, node: str, chain: Sequence[str] | None
) -> None:
    """``action`` on ``node`` (whose chain is ``chain``: the node, its parent, … its root;
    None for a node the world does not hold): the table's gate, then, for a customer,
    its subtree. A node outside it is NotFoundError, worded as for an unknown node, so
    that no customer learns whether another's node exists."""
    authorize(principal, action)
    scoped = principal.has_any(NODE_SCOPED)
    if chain is None or (scoped and (principal.node is None or principal.node not in chain)):
        raise NotFoundError(unknown_node(node))


def unknown_node(node: str) -> str:
    """The one wording of "no such node" (also what a customer is told of a node that is
    not its own)."""
    return f"no node {node!r}"


def authorize(principal: Principal, action: Action, *, assigned: bool | None = None) -> None:
    """Raise AccessDeniedError unless the principal's roles allow ``action``."""
    held = principal.roles
    if may(held, action, assigned=assigned):
        return
    name = principal.name
    if not held:
        raise AccessDeniedError(
            f"{name} holds no role that its credential carries and the store grants; "
            "ask an admin or a case admin to grant one (`brightline principal grant`)"
        )
    needed = ", ".join(sorted(PERMISSIONS[action]))
    scoped = held & ASSIGNMENT_SCOPED & PERMISSIONS[action]
    if scoped and assigned is False:
        raise AccessDeniedError(f"{name} is not assigned to this case")
    raise AccessDeniedError(
        f"{name} ({', '.join(sorted(held))}) may not {action}; it needs one of: {needed}"
    )
