"""Repositories for cases, signals, role grants, plans and notifications. No business rules.

Reporter identities and webhook secrets are sealed here as they are written
(:mod:`brightline.store.secrets`); :func:`reporter_identity` opens an identity, and a
:class:`Contact` carries its secret still sealed, opened by the caller that signs with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brightline.cases import CaseEvent, CaseMove, ReporterIdentity, Role
from brightline.store.case_models import (
    CaseEventRow,
    CaseRow,
    GuardApprovalRow,
    NotificationAttempt,
    NotificationContact,
    NotificationRow,
    PlanRow,
    ReporterIdentityRow,
    RoleGrantEvent,
    SignalRow,
)
from brightline.store.outbox import OutboxRecord, append_record, canonical_json
from brightline.store.secrets import SealedField, StoreSecrets

# -- roles ----------------------------------------------------------------------------------


def roles_of(session: Session, principal: str) -> frozenset[Role]:
    """The roles ``principal`` holds now (names compared case-insensitively)."""
    held: dict[str, bool] = {}
    rows = session.scalars(
        select(RoleGrantEvent)
        .where(func.lower(RoleGrantEvent.principal) == principal.casefold())
        .order_by(RoleGrantEvent.seq)
    )
    for row in rows:
        held[row.role] = row.kind == "grant"
    return frozenset(Role(role) for role, on in held.items() if on)


def all_grants(session: Session) -> dict[str, frozenset[Role]]:
    state: dict[tuple[str, str], bool] = {}
    for row in session.scalars(select(RoleGrantEvent).order_by(RoleGrantEvent.seq)):
        state[(row.principal.casefold(), row.role)] = row.kind == "grant"
    out: dict[str, set[Role]] = {}
    for (principal, role), on in state.items():
        if on:
            out.setdefault(principal, set()).add(Role(role))
    return {p: frozenset(r) for p, r in sorted(out.items())}


def bound_node(session: Session, principal: str) -> str | None:
    """The node ``principal``'s ``customer`` grant binds it to; None without one."""
    node: str | None = None
    rows = session.scalars(
        select(RoleGrantEvent)
        .where(func.lower(RoleGrantEvent.principal) == principal.casefold())
        .where(RoleGrantEvent.role == Role.CUSTOMER.value)
        .order_by(RoleGrantEvent.seq)
    )
    for row in rows:
        node = row.node if row.kind == "grant" else None
    return node


def all_bound_nodes(session: Session) -> dict[str, str]:
    """Every customer binding now: principal (case-folded) → node."""
    bound: dict[str, str | None] = {}
    rows = session.scalars(
        select(RoleGrantEvent)
        .where(RoleGrantEvent.role == Role.CUSTOMER.value)
        .order_by(RoleGrantEvent.seq)
    )
    for row in rows:
        bound[row.principal.casefold()] = row.node if row.kind == "grant" else None
    return {p: n for p, n in sorted(bound.items()) if n is not None}


def grant_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(RoleGrantEvent)) or 0


@dataclass(frozen=True, slots=True)
class StoredGrant:
    """A role granted (``kind`` ``grant``) or revoked (``revoke``)."""

    seq: int
    principal: str
    role: str
    kind: str
    actor: str
    at: datetime
    node: str | None = None


def add_grant_event(
    session: Session,
    *,
    principal: str,
    role: Role,
    kind: str,
    actor: str,
    at: datetime,
    node: str | None = None,
) -> StoredGrant:
    row = RoleGrantEvent(
        principal=principal, role=role.value, kind=kind, actor=actor, at=at, node=node
    )
    session.add(row)
    session.flush()
    return StoredGrant(row.seq, principal, role.value, kind, actor, at, node)


# -- signals --------------------------------------------------------------------------------


class StoredSignal(NamedTuple):
    """A signal as stored. A NamedTuple, not a frozen dataclass: the store audit reads
    a million of them, and a tuple is made several times faster."""

    id: int
    received_at: datetime
    source_kind: str
    nodes: tuple[str, ...]
    policies: tuple[str, ...]
    summary: str
    references: tuple[Mapping[str, Any], ...]
    alert_id: str | None

    @property
    def ref(self) -> str:
        return f"S-{self.id}"


def _signal(row: SignalRow) -> StoredSignal:
    return StoredSignal(
        id=row.id,
        received_at=row.received_at,
        source_kind=row.source_kind,
        nodes=tuple(json.loads(row.nodes)),
        policies=tuple(json.loads(row.policies)),
        summary=row.summary,
        references=tuple(json.loads(row.references)),
        alert_id=row.alert_id,
    )


def add_signal(
    session: Session,
    *,
    at: datetime,
    source_kind: str,
    nodes: Sequence[str],
    policies: Sequence[str],
    summary: str,
    references: Sequence[Mapping[str, Any]],
    alert_id: str | None,
    recorded_by: str,
    identity: ReporterIdentity | None,
    secrets: StoreSecrets,
) -> StoredSignal:
    """Add a signal and, for a named report, its reporter's identity, sealed for its row."""
    row = SignalRow(
        received_at=at,
        source_kind=source_kind,
        nodes=canonical_json(list(nodes)),
        policies=canonical_json(list(policies)),
        summary=summary,
        references=canonical_json([dict(r) for r in references]),
        alert_id=alert_id,
        recorded_by=recorded_by,
    )
    session.add(row)
    session.flush()
    if identity is not None:
        keyring = secrets.for_sealing(session)

        def seal(value: str | None, field: SealedField) -> str | None:
            return None if value is None else keyring.seal(value, field=field, row=row.id)

        session.add(
            ReporterIdentityRow(
                signal_id=row.id,
                name=keyring.seal(identity.name, field=SealedField.REPORTER_NAME, row=row.id),
                contact=seal(identity.contact, SealedField.REPORTER_CONTACT),
                organization=seal(identity.organization, SealedField.REPORTER_ORGANIZATION),
            )
        )
        session.flush()
    return _signal(row)


def get_signal(session: Session, signal_id: int) -> StoredSignal | None:
    row = session.get(SignalRow, signal_id)
    return None if row is None else _signal(row)


def signal_by_alert(session: Session, alert_id: str) -> StoredSignal | None:
    row = session.scalar(select(SignalRow).where(SignalRow.alert_id == alert_id))
    return None if row is None else _signal(row)


def reporter_identity(
    session: Session, signal_id: int, secrets: StoreSecrets
) -> ReporterIdentity | None:
    """Who reported the signal, opened from its sealed row (None: anonymous). Only the
    case admin's reads call this."""
    row = session.get(ReporterIdentityRow, signal_id)
    if row is None:
        return None
    keyring = secrets.for_opening()

    def unseal(value: str | None, field: SealedField) -> str | None:
        return None if value is None else keyring.open(value, field=field, row=signal_id)

    return ReporterIdentity(
        name=keyring.open(row.name, field=SealedField.REPORTER_NAME, row=signal_id),
        contact=unseal(row.contact, SealedField.REPORTER_CONTACT),
        organization=unseal(row.organization, SealedField.REPORTER_ORGANIZATION),
    )


# -- cases ----------------------------------------------------------------------------------


def next_case_id(session: Session) -> tuple[str, int]:
    number = (session.scalar(select(func.max(CaseRow.number))) or 0) + 1
    return f"C-{number}", number


def add_case(session: Session, case_id: str, number: int, *, actor: str, at: datetime) -> None:
    session.add(CaseRow(id=case_id, number=number, opened_at=at, opened_by=actor))
    session.flush()


def case_ids(session: Session) -> list[str]:
    return list(session.scalars(select(CaseRow.id).order_by(CaseRow.number)))


def _event(row: CaseEventRow) -> CaseEvent:
    return CaseEvent(
        seq=row.seq,
        case_id=row.case_id,
        revision=row.revision,
        move=CaseMove(row.kind),
        actor=row.actor,
        at=row.at,
        data=json.loads(row.data),
    )


def case_events(session: Session, case_id: str) -> list[CaseEvent]:
    rows = session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.revision)
    )
    return [_event(r) for r in rows]


def all_case_events(session: Session) -> dict[str, list[CaseEvent]]:
    out: dict[str, list[CaseEvent]] = {}
    for row in session.scalars(select(CaseEventRow).order_by(CaseEventRow.seq)):
        out.setdefault(row.case_id, []).append(_event(row))
    return out


def case_events_mentioning(session: Session, text: str) -> dict[str, list[CaseEvent]]:
    """Every event of the cases whose steps' data hold the JSON string ``text`` (a
    signal's ref, say), as :func:`all_case_events` gives them: the database narrows by
    the encoded string, the caller decides from the events."""
    encoded = canonical_json(text)  # as the data column holds it
    escaped = encoded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    named = (
        select(CaseEventRow.case_id)
        .where(CaseEventRow.data.like(pattern, escape="\\"))
        .distinct()
        .scalar_subquery()
    )
    out: dict[str, list[CaseEvent]] = {}
    rows = session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id.in_(named)).order_by(CaseEventRow.seq)
    )
    for row in rows:
        out.setdefault(row.case_id, []).append(_event(row))
    return out


def case_outbox_ids(session: Session, case_id: str) -> list[int]:
    return list(
        session.scalars(
            select(CaseEventRow.outbox_id)
            .where(CaseEventRow.case_id == case_id)
            .order_by(CaseEventRow.revision)
        )
    )


def append_case_event(session: Session, event: CaseEvent, *, outbox: OutboxRecord) -> CaseEvent:
    """Append ``event`` (its ``seq`` is given by the store) and its outbox event, as
    ``brightline.service.records.case_record`` builds it, in the caller's transaction."""
    outbox_id = append_record(session, outbox)
    row = CaseEventRow(
        case_id=event.case_id,
        revision=event.revision,
        kind=event.move.value,
        actor=event.actor,
        at=event.at,
        data=canonical_json(dict(event.data)),
        outbox_id=outbox_id,
    )
    session.add(row)
    session.flush()
    return _event(row)


# -- plans ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredPlan:
    id: int
    created_at: datetime
    actor: str
    case_id: str | None
    restrictions: tuple[str, ...]
    exceeds_limits: bool
    body: Mapping[str, Any]
    digest: str


def plan_of_row(row: PlanRow) -> StoredPlan:
    return StoredPlan(
        id=row.id,
        created_at=row.created_at,
        actor=row.actor,
        case_id=row.case_id,
        restrictions=tuple(json.loads(row.restrictions)),
        exceeds_limits=row.exceeds_limits,
        body=json.loads(row.body),
        digest=row.digest,
    )


def add_plan(
    session: Session,
    *,
    at: datetime,
    actor: str,
    case_id: str | None,
    restrictions: Sequence[str],
    exceeds_limits: bool,
    body: Mapping[str, Any],
    digest: str,
) -> StoredPlan:
    row = PlanRow(
        created_at=at,
        actor=actor,
        case_id=case_id,
        restrictions=canonical_json(list(restrictions)),
        exceeds_limits=exceeds_limits,
        body=canonical_json(dict(body)),
        digest=digest,
    )
    session.add(row)
    session.flush()
    return plan_of_row(row)


def get_plan(session: Session, plan_id: int) -> StoredPlan | None:
    row = session.get(PlanRow, plan_id)
    return None if row is None else plan_of_row(row)


def plans_for_restriction(session: Session, restriction_id: str) -> list[StoredPlan]:
    """Plans covering ``restriction_id``, oldest first (few plans exist; filtered here)."""
    rows = session.scalars(select(PlanRow).order_by(PlanRow.id))
    return [p for p in map(plan_of_row, rows) if restriction_id in p.restrictions]


def guard_approvers(session: Session, restriction_id: str) -> list[str]:
    return list(
        session.scalars(
            select(GuardApprovalRow.approver)
            .where(GuardApprovalRow.restriction_id == restriction_id)
            .order_by(GuardApprovalRow.seq)
        )
    )


def guard_approvers_of_plan(session: Session, restriction_id: str, plan_id: int) -> list[str]:
    """Who gave the guard approval of ``restriction_id`` on ``plan_id``."""
    return list(
        session.scalars(
            select(GuardApprovalRow.approver)
            .where(
                GuardApprovalRow.restriction_id == restriction_id,
                GuardApprovalRow.plan_id == plan_id,
            )
            .order_by(GuardApprovalRow.seq)
        )
    )


@dataclass(frozen=True, slots=True)
class StoredGuardApproval:
    seq: int
    restriction_id: str
    plan_id: int
    approver: str
    at: datetime


def add_guard_approval(
    session: Session, *, restriction_id: str, plan_id: int, approver: str, at: datetime
) -> StoredGuardApproval:
    row = GuardApprovalRow(restriction_id=restriction_id, plan_id=plan_id, approver=approver, at=at)
    session.add(row)
    session.flush()
    return StoredGuardApproval(row.seq, restriction_id, plan_id, approver, at)


# -- notifications --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact:
    """A notification contact; ``sealed_secret`` is a webhook's HMAC key as stored, opened
    with ``Keyring.open(…, field=SealedField.WEBHOOK_SECRET, row=id)`` only to sign."""

    id: int
    node: str | None
    name: str
    channel: str
    target: str
    sealed_secret: str | None

    def __repr__(self) -> str:
        return f"Contact(id={self.id}, node={self.node!r}, channel={self.channel!r})"


def _contact(row: NotificationContact) -> Contact:
    return Contact(row.id, row.node, row.name, row.channel, row.target, row.secret)


def add_contact(
    session: Session,
    *,
    node: str | None,
    name: str,
    channel: str,
    target: str,
    secret: str | None,
    actor: str,
    at: datetime,
    secrets: StoreSecrets,
) -> Contact:
    """Add a contact; its secret is sealed for the row's id, so it is written (in the
    same transaction) right after the insert that assigns the id."""
    row = NotificationContact(
        node=node,
        name=name,
        channel=channel,
        target=target,
        secret=None,
        added_by=actor,
        added_at=at,
    )
    session.add(row)
    session.flush()
    if secret is not None:
        keyring = secrets.for_sealing(session)
        row.secret = keyring.seal(secret, field=SealedField.WEBHOOK_SECRET, row=row.id)
        session.flush()
    return _contact(row)


def contacts(session: Session) -> list[Contact]:
    return [
        _contact(r)
        for r in session.scalars(select(NotificationContact).order_by(NotificationContact.id))
    ]


def add_notification(
    session: Session,
    *,
    key: str,
    contact_id: int,
    event_type: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> bool:
    """Enqueue unless ``key`` was already enqueued; True when added."""
    if session.scalar(select(NotificationRow.id).where(NotificationRow.key == key)) is not None:
        return False
    session.add(
        NotificationRow(
            key=key,
            contact_id=contact_id,
            event_type=event_type,
            payload=canonical_json(dict(payload)),
            created_at=at,
        )
    )
    session.flush()
    return True


@dataclass(frozen=True, slots=True)
class StoredNotification:
    id: int
    key: str
    contact: Contact
    event_type: str
    payload: str
    attempts: int
    delivered: bool


def notifications(session: Session) -> list[StoredNotification]:
    contacts_by_id = {c.id: c for c in contacts(session)}
    tries: dict[int, tuple[int, bool]] = {}
    for attempt in session.scalars(select(NotificationAttempt).order_by(NotificationAttempt.seq)):
        count, done = tries.get(attempt.notification_id, (0, False))
        tries[attempt.notification_id] = (count + 1, done or attempt.delivered)
    out = []
    for row in session.scalars(select(NotificationRow).order_by(NotificationRow.id)):
        count, done = tries.get(row.id, (0, False))
        out.append(
            StoredNotification(
                row.id,
                row.key,
                contacts_by_id[row.contact_id],
                row.event_type,
                row.payload,
                count,
                done,
            )
        )
    return out


def add_attempt(
    session: Session,
    *,
    notification_id: int,
    attempt: int,
    at: datetime,
    delivered: bool,
    detail: str,
) -> None:
    session.add(
        NotificationAttempt(
            notification_id=notification_id,
            attempt=attempt,
            at=at,
            delivered=delivered,
            detail=detail,
        )
    )
    session.flush()


def attempts_for(session: Session, notification_id: int) -> list[tuple[int, datetime, bool, str]]:
    rows = session.scalars(
        select(NotificationAttempt)
        .where(NotificationAttempt.notification_id == notification_id)
        .order_by(NotificationAttempt.attempt)
    )
    return [(r.attempt, r.at, r.delivered, r.detail) for r in rows]
