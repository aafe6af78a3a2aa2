"""A customer's own view: the restrictions in force and scheduled on its subtree, the
notices it was sent about them, and its appeals.

A customer principal is bound to one node by its ``customer`` grant
(:attr:`brightline.access.Principal.node`). Which restrictions bear on it is one rule,
:func:`brightline.access.bears_on_customer`; a restriction that does not is "not found",
worded as for an unknown id, so a customer learns nothing of another's.

What it is shown is what the decision discloses to the customer and nothing else: the
restriction's scope (its own node when the restriction is scoped above it), services,
regions, window, mode and phase, the public name of its policy
(:class:`brightline.policy.Notice`, as in a denial's notice), the exemptions inside its
subtree, the notices sent to its own contacts, and its own appeals with their outcome.
Never the restriction's internal reason, its case, notes, evidence, reporters or who
proposed, approved or reviewed it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from brightline.access import Action, Principal, authorize, authorize_node, bears_on_customer
from brightline.cases import CaseStatus
from brightline.cases.model import check_text
from brightline.errors import ConflictError, NotFoundError
from brightline.policy import Notice, format_time
from brightline.service.cases import append_appeal, load_case, now_utc
from brightline.service.lifecycle import RestrictionState, Status, parse_time
from brightline.service.restrictions import load_states
from brightline.store import Store, latest_world
from brightline.store.cases import notifications
from brightline.world import World

#: What a customer is shown: restrictions in force, and approved ones not yet begun.
SHOWN: Final = (Status.IN_FORCE, Status.APPROVED)
#: Case statuses from which an appeal may be filed (as the case transition table has it).
_APPEALABLE: Final = (CaseStatus.DECIDED, CaseStatus.RE_REVIEWED)


@dataclass(frozen=True, slots=True)
class CustomerNoticeSent:
    """A notice sent to one of the customer's own contacts about a restriction."""

    event: str
    at: str | None
    channel: str
    contact: str
    delivered: bool


@dataclass(frozen=True, slots=True)
class CustomerAppeal:
    """An appeal the customer filed, and its outcome once re-reviewed."""

    number: int
    at: datetime
    grounds: str
    outcome: str | None


@dataclass(frozen=True, slots=True)
class CustomerRestriction:
    """A restriction as its customer sees it."""

    id: str
    status: Status
    phase: str
    mode: str
    #: The restriction's scope, or the customer's own node when it is scoped above it.
    scope: str
    #: Scoped above the customer's node (its provider's reseller, say).
    inherited: bool
    services: tuple[str, ...]
    #: None: every region.
    regions: tuple[str, ...] | None
    exempt: tuple[str, ...]
    not_before: str | None
    not_after: str | None
    policy: str
    appeal_contact: str
    appealable: bool
    notices: tuple[CustomerNoticeSent, ...]
    appeals: tuple[CustomerAppeal, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "phase": self.phase,
            "mode": self.mode,
            "scope": self.scope,
            "inherited": self.inherited,
            "services": list(self.services),
            "regions": None if self.regions is None else list(self.regions),
            "exempt": list(self.exempt),
            "window": {"not_before": self.not_before, "not_after": self.not_after},
            "policy": self.policy,
            "appeal_contact": self.appeal_contact,
            "appealable": self.appealable,
            "notices": [
                {
                    "event": n.event,
                    "at": n.at,
                    "channel": n.channel,
                    "contact": n.contact,
                    "delivered": n.delivered,
                }
                for n in self.notices
            ],
            "appeals": [
                {
                    "number": a.number,
                    "at": format_time(a.at),
                    "grounds": a.grounds,
                    "outcome": a.outcome,
                }
                for a in self.appeals
            ],
        }


@dataclass(frozen=True, slots=True)
class CustomerPhase:
    """One step of what bears on the customer, as an impact plan shows a proposal's
    phases: the restrictions in force now (``starts`` None), or those that begin at one
    time (their ``not_before``)."""

    starts: str | None
    restrictions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"starts": self.starts, "restrictions": list(self.restrictions)}


def phases_of(shown: Sequence[CustomerRestriction]) -> tuple[CustomerPhase, ...]:
    """The phases of ``shown``: in force now first, then each later start in time order."""
    by_start: dict[str | None, list[str]] = {}
    for r in shown:
        by_start.setdefault(None if r.status is Status.IN_FORCE else r.not_before, []).append(r.id)
    never = datetime.min.replace(tzinfo=UTC)
    order = sorted(by_start, key=lambda start: (start is not None, parse_time(start) or never))
    return tuple(CustomerPhase(start, tuple(by_start[start])) for start in order)


def customer_restrictions(
    store: Store,
    *,
    actor: Principal,
    notice: Notice,
    node: str | None = None,
    now: datetime | None = None,
) -> list[CustomerRestriction]:
    """The restrictions in force and scheduled that bear on ``actor``'s subtree, by id;
    with ``node`` (a node of that subtree), those that bear on that node's. A node
    outside the subtree is NotFoundError, worded as for an unknown node."""
    at = now_utc(now)
    with store.read() as session:
        if node is None:
            authorize(actor, Action.VIEW_OWN_RESTRICTIONS)
            return _visible(session, actor, notice, at)
        stored = latest_world(session)
        d = None if stored is None else stored.world.directory
        chain = d.ancestors(node) if d is not None and node in d else None
        authorize_node(actor, Action.VIEW_OWN_RESTRICTIONS, node=node, chain=chain)
        # The same rule, for the part of the subtree below ``node``.
        shown = {r.id for r in _visible(session, replace(actor, node=node), notice, at)}
        return [r for r in _visible(session, actor, notice, at) if r.id in shown]


def customer_restriction(
    store: Store,
    restriction_id: str,
    *,
    actor: Principal,
    notice: Notice,
    now: datetime | None = None,
) -> CustomerRestriction:
    """One of them; NotFoundError, as for an unknown id, for any other."""
    at = now_utc(now)
    with store.read() as session:
        authorize(actor, Action.VIEW_OWN_RESTRICTIONS)
        return _one(session, actor, notice, at, restriction_id)


def file_appeal(
    store: Store,
    restriction_id: str,
    *,
    actor: Principal,
    grounds: str,
    notice: Notice,
    now: datetime | None = None,
) -> CustomerAppeal:
    """The customer's appeal against one of its restrictions: an appeal on the case that
    decided it, filed in the customer's name (case admins and investigators see it on
    the case, and internal watchers are notified as for any appeal)."""
    grounds = check_text(grounds, "grounds")
    at = now_utc(now)
    with store.write() as session:
        authorize(actor, Action.FILE_APPEAL)
        shown = _one(session, actor, notice, at, restriction_id)
        case_id = load_states(session)[restriction_id].case_id
        if case_id is None:
            raise ConflictError(
                f"restriction {restriction_id} was not decided on a case here: to appeal it, "
                f"contact {notice.contact}"
            )
        case = load_case(session, case_id)
        if case.status is CaseStatus.APPEALED:
            raise ConflictError(f"an appeal against {restriction_id} is awaiting re-review")
        if not shown.appealable:
            raise ConflictError(
                f"restriction {restriction_id} cannot be appealed here now: contact "
                f"{notice.contact}"
            )
        after = append_appeal(session, case, actor=actor.name, grounds=grounds, at=at)
        filed = after.appeals[-1]
        return CustomerAppeal(filed.number, filed.at, filed.grounds, None)


def _one(
    session: Session, actor: Principal, notice: Notice, at: datetime, restriction_id: str
) -> CustomerRestriction:
    for shown in _visible(session, actor, notice, at):
        if shown.id == restriction_id:
            return shown
    raise NotFoundError(f"no restriction {restriction_id!r}")


def _visible(
    session: Session, actor: Principal, notice: Notice, at: datetime
) -> list[CustomerRestriction]:
    stored = latest_world(session)
    node = actor.node
    if stored is None or node is None or node not in stored.world.directory:
        return []  # fails closed: a binding to a node the world no longer holds shows nothing
    world = stored.world
    bound_chain = world.directory.ancestors(node)
    sent = _notices(session, world, node)
    out = []
    for rid, state in sorted(load_states(session).items()):
        status = state.status(at)
        scope = str(state.body.get("scope"))
        if status not in SHOWN or scope not in world.directory:
            continue
        exempt = [str(e) for e in state.body.get("exempt") or ()]
        if not bears_on_customer(
            actor,
            scope_chain=world.directory.ancestors(scope),
            bound_chain=bound_chain,
            exempt=exempt,
        ):
            continue
        out.append(_shown(session, actor, notice, world, state, status, sent.get(rid, ())))
    return out


def _shown(
    session: Session,
    actor: Principal,
    notice: Notice,
    world: World,
    state: RestrictionState,
    status: Status,
    sent: tuple[CustomerNoticeSent, ...],
) -> CustomerRestriction:
    node = str(actor.node)
    body = state.body
    scope = str(body.get("scope"))
    inherited = scope != node and not world.directory.is_within(scope, node)
    d = world.directory
    regions = body.get("regions")
    reason = body.get("reason") or {}
    appeals: tuple[CustomerAppeal, ...] = ()
    appealable = False
    if state.case_id is not None:
        case = load_case(session, state.case_id)
        appealable = case.status in _APPEALABLE
        appeals = tuple(
            CustomerAppeal(
                a.number, a.at, a.grounds, None if a.outcome is None else a.outcome.value
            )
            for a in case.appeals
            if a.by.casefold() == actor.name.casefold()
        )
    return CustomerRestriction(
        id=state.id,
        status=status,
        phase=state.phase.value,
        mode=state.mode,
        scope=node if inherited else scope,
        inherited=inherited,
        services=tuple(str(a) for a in body.get("actions") or ()),
        regions=None if regions is None else tuple(sorted(str(r) for r in regions)),
        # Only exemptions inside the customer's subtree: others name other customers.
        exempt=tuple(
            str(e) for e in body.get("exempt") or () if e in d and d.is_within(str(e), node)
        ),
        not_before=body.get("not_before"),
        not_after=body.get("not_after"),
        policy=notice.policy_name(reason.get("policy") if isinstance(reason, Mapping) else None),
        appeal_contact=notice.contact,
        appealable=appealable,
        notices=sent,
        appeals=appeals,
    )


def _notices(
    session: Session, world: World, node: str
) -> dict[str, tuple[CustomerNoticeSent, ...]]:
    """Notices sent to contacts on the customer's own subtree, by restriction id."""
    d = world.directory
    out: dict[str, list[CustomerNoticeSent]] = {}
    for item in notifications(session):
        contact = item.contact
        if contact.node is None or contact.node not in d or not d.is_within(contact.node, node):
            continue
        payload = json.loads(item.payload)
        rid = payload.get("restriction")
        if not isinstance(rid, str):
            continue  # appeal notices go to internal watchers only
        out.setdefault(rid, []).append(
            CustomerNoticeSent(
                item.event_type, payload.get("at"), contact.channel, contact.name, item.delivered
            )
        )
    return {rid: tuple(sent) for rid, sent in out.items()}
