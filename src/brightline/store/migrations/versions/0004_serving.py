"""Serving: API keys, revocations, decision logs.

Revision ID: 0004_serving
Revises: 0003_cases
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_serving"
down_revision = "0003_cases"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "api_key_revocations",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", TIME, nullable=False),
        sa.Column("revoked_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_api_key_revocations_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_key_revocations")),
    )
    op.create_table(
        "decision_log_counts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("enforcement_point", sa.String(length=128), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("restriction_id", sa.String(length=128), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("hour", TIME, nullable=False),
        sa.Column("effect", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_log_counts")),
    )
    op.create_index("ix_decision_log_counts_hour", "decision_log_counts", ["hour"])
    op.create_table(
        "decision_log_samples",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("enforcement_point", sa.String(length=128), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_log_samples")),
    )
    op.create_table(
        "decision_log_reports",
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("enforcement_point", sa.String(length=128), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_decision_log_reports")),
    )


def downgrade() -> None:
    op.drop_table("decision_log_reports")
    op.drop_table("decision_log_samples")
    op.drop_index("ix_decision_log_counts_hour", table_name="decision_log_counts")
    op.drop_table("decision_log_counts")
    op.drop_table("api_key_revocations")
    op.drop_table("api_keys")
