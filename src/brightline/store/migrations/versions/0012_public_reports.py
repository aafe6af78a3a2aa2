"""The public report channel: public reports (a signal's receipt hash and subject), the
document a report carried (sealed) and the messages between reporter and investigators.

The downgrade drops the three tables: receipts stop working and documents and messages
are gone; the signals themselves stay.

Revision ID: 0012_public_reports
Revises: 0011_change_notify
Create Date: 2027-01-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_public_reports"
down_revision = "0011_change_notify"
branch_labels = None
depends_on = None

# Frozen copies of the column types as they were at this revision.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "public_reports",
        sa.Column("signal_id", BIG_ID, nullable=False),
        sa.Column("receipt_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_public_reports_signal_id_signals")
        ),
        sa.PrimaryKeyConstraint("signal_id", name=op.f("pk_public_reports")),
        sa.UniqueConstraint("receipt_hash", name=op.f("uq_public_reports_receipt_hash")),
    )
    op.create_table(
        "public_report_documents",
        sa.Column("signal_id", BIG_ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["public_reports.signal_id"],
            name=op.f("fk_public_report_documents_signal_id_public_reports"),
        ),
        sa.PrimaryKeyConstraint("signal_id", name=op.f("pk_public_report_documents")),
    )
    op.create_table(
        "public_report_messages",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("signal_id", BIG_ID, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["public_reports.signal_id"],
            name=op.f("fk_public_report_messages_signal_id_public_reports"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_public_report_messages")),
    )
    op.create_index("ix_public_report_messages_signal_id", "public_report_messages", ["signal_id"])


def downgrade() -> None:
    op.drop_index("ix_public_report_messages_signal_id", table_name="public_report_messages")
    op.drop_table("public_report_messages")
    op.drop_table("public_report_documents")
    op.drop_table("public_reports")
