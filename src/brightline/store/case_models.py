"""Tables of cases, signals, principals' roles, impact plans and notifications.

Like the rest of the store, rows are only inserted. A case's state is derived from
``case_events``; a reporter's identity sits in ``reporter_identities``, apart from
the report, and only the case-admin role reads it. Notification delivery is recorded
attempt by attempt in ``notification_attempts``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from brightline.store.models import Base, BigId, UtcDateTime


class RoleGrantEvent(Base):
    """A role granted to or revoked from a principal; the latest event per pair wins.
    ``node`` is the node a ``customer`` grant binds the principal to (None for others)."""

    __tablename__ = "role_grant_events"
    __table_args__ = (Index("ix_role_grant_events_principal", "principal"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    node: Mapped[str | None] = mapped_column(String(128), nullable=True)


class SignalRow(Base):
    """A report from a person or a detection alert. ``source_kind`` is retaliation-sensitive."""

    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source_kind: Mapped[str] = mapped_column(String(32))
    #: JSON lists.
    nodes: Mapped[str] = mapped_column(Text)
    policies: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    references: Mapped[str] = mapped_column(Text)
    alert_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    #: Who recorded it: a principal for alerts, ``intake`` for reports from people.
    recorded_by: Mapped[str] = mapped_column(String(128))


class ReporterIdentityRow(Base):
    """Who reported a signal, stored apart from the report; absent for anonymous reports."""

    __tablename__ = "reporter_identities"

    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    organization: Mapped[str | None] = mapped_column(Text)


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    opened_by: Mapped[str] = mapped_column(String(128))


class CaseEventRow(Base):
    """One step of a case; ``(case_id, revision)`` is unique and revisions count 1, 2, 3…"""

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "revision", name="uq_case_events_revision"),
        Index("ix_case_events_case_id", "case_id"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Canonical JSON of the move's data.
    data: Mapped[str] = mapped_column(Text)
    #: The outbox event (hence ledger entry) that records this step.
    outbox_id: Mapped[int] = mapped_column(BigId, unique=True)


class PlanRow(Base):
    """An impact plan as shown, attached to the restrictions it covers and to a case."""

    __tablename__ = "impact_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    #: JSON list of the restriction ids the plan covers.
    restrictions: Mapped[str] = mapped_column(Text)
    exceeds_limits: Mapped[bool] = mapped_column(Boolean)
    #: Canonical JSON of the whole plan, and its SHA-256.
    body: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))


class GuardApprovalRow(Base):
    """The extra approval a restriction needs when its plan exceeds the blast-radius limits."""

    __tablename__ = "guard_approvals"
    __table_args__ = (
        UniqueConstraint("restriction_id", "approver", name="uq_guard_approvals_approver"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restriction_id: Mapped[str] = mapped_column(String(128))
    plan_id: Mapped[int] = mapped_column(ForeignKey("impact_plans.id"))
    approver: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationContact(Base):
    """Where to notify: a customer's named contact (``node`` set) or an internal watcher."""

    __tablename__ = "notification_contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    node: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    #: HMAC key of a webhook contact; never printed.
    secret: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationRow(Base):
    """One message to one contact; ``key`` makes enqueueing the same event twice a no-op."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("notification_contacts.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationAttempt(Base):
    __tablename__ = "notification_attempts"
    __table_args__ = (
        UniqueConstraint("notification_id", "attempt", name="uq_notification_attempts_attempt"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)


class PublicReportRow(Base):
    """A signal filed through the public channel: the hash of its receipt (never the
    receipt) and the subject in the reporter's words."""

    __tablename__ = "public_reports"

    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"), primary_key=True)
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(Text)


class PublicReportDocumentRow(Base):
    """The document a public report carried, sealed (``brightline.store.secrets``)."""

    __tablename__ = "public_report_documents"

    signal_id: Mapped[int] = mapped_column(ForeignKey("public_reports.signal_id"), primary_key=True)
    #: SHA-256 of the plain document, and its size in bytes.
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)


class PublicReportMessageRow(Base):
    """A message between a public reporter and the investigators; ``actor`` is the
    investigator who wrote it (None: the reporter), never shown to the reporter."""

    __tablename__ = "public_report_messages"
    __table_args__ = (Index("ix_public_report_messages_signal_id", "signal_id"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("public_reports.signal_id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    author: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
