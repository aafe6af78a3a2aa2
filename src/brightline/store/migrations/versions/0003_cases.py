"""Cases: role grants, signals and reporter identities, case events, impact plans,
guard approvals, notification contacts, notifications and their delivery attempts.

Revision ID: 0003_cases
Revises: 0002_ledger
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_cases"
down_revision = "0002_ledger"
branch_labels = None
depends_on = None

# Frozen copies of the column types as they were at this revision.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    other = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{other}"))


def upgrade() -> None:
    op.create_table(
        "role_grant_events",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", TIME, nullable=False),
        _pk("role_grant_events", "seq"),
    )
    op.create_index("ix_role_grant_events_principal", "role_grant_events", ["principal"])
    op.create_table(
        "signals",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("nodes", sa.Text(), nullable=False),
        sa.Column("policies", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("references", sa.Text(), nullable=False),
        sa.Column("alert_id", sa.String(length=128), nullable=True),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        _pk("signals", "id"),
        sa.UniqueConstraint("alert_id", name=op.f("uq_signals_alert_id")),
    )
    op.create_table(
        "reporter_identities",
        sa.Column("signal_id", BIG_ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("organization", sa.Text(), nullable=True),
        _fk("reporter_identities", "signal_id", "signals.id"),
        _pk("reporter_identities", "signal_id"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        _pk("cases", "id"),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
    )
    op.create_table(
        "case_events",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("outbox_id", BIG_ID, nullable=False),
        _fk("case_events", "case_id", "cases.id"),
        _pk("case_events", "seq"),
        sa.UniqueConstraint("case_id", "revision", name="uq_case_events_revision"),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_case_events_outbox_id")),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "impact_plans",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("restrictions", sa.Text(), nullable=False),
        sa.Column("exceeds_limits", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _fk("impact_plans", "case_id", "cases.id"),
        _pk("impact_plans", "id"),
    )
    op.create_table(
        "guard_approvals",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("restriction_id", sa.String(length=128), nullable=False),
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("approver", sa.String(length=128), nullable=False),
        sa.Column("at", TIME, nullable=False),
        _fk("guard_approvals", "plan_id", "impact_plans.id"),
        _pk("guard_approvals", "seq"),
        sa.UniqueConstraint("restriction_id", "approver", name="uq_guard_approvals_approver"),
    )
    op.create_table(
        "notification_contacts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("node", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", TIME, nullable=False),
        _pk("notification_contacts", "id"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("contact_id", BIG_ID, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        _fk("notifications", "contact_id", "notification_contacts.id"),
        _pk("notifications", "id"),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    op.create_table(
        "notification_attempts",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", BIG_ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _fk("notification_attempts", "notification_id", "notifications.id"),
        _pk("notification_attempts", "seq"),
        sa.UniqueConstraint("notification_id", "attempt", name="uq_notification_attempts_attempt"),
    )


def downgrade() -> None:
    op.drop_table("notification_attempts")
    op.drop_table("notifications")
    op.drop_table("notification_contacts")
    op.drop_table("guard_approvals")
    op.drop_table("impact_plans")
    op.drop_index("ix_case_events_case_id", table_name="case_events")
    op.drop_table("case_events")
    op.drop_table("cases")
    op.drop_table("reporter_identities")
    op.drop_table("signals")
    op.drop_index("ix_role_grant_events_principal", table_name="role_grant_events")
    op.drop_table("role_grant_events")
