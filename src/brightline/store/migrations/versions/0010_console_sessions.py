"""Shared serving state, so that several servers on one database behave as one service:
console sessions (``console_sessions``) and rate-limit counters (``rate_counts``), until
now in each server's memory; and an index on the outbox's event types, so that a server
finds the newest ``bundle.issued`` event without reading the outbox.

Nothing stored changes; the downgrade drops the two tables (every console session ends)
and the index.

Revision ID: 0010_console_sessions
Revises: 0009_catalog_units
Create Date: 2027-01-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from brightline.store.models import UtcDateTime

revision = "0010_console_sessions"
down_revision = "0009_catalog_units"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("principal", sa.String(256), nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("credential", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
        sa.Column("flash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_owner", "console_sessions", ["owner"])
    op.create_index("ix_console_sessions_seen_at", "console_sessions", ["seen_at"])
    op.create_table(
        "rate_counts",
        sa.Column("credential", sa.String(256), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("credential", "minute", name="pk_rate_counts"),
    )
    op.create_index("ix_outbox_event_type_id", "outbox", ["event_type", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_event_type_id", table_name="outbox")
    op.drop_table("rate_counts")
    op.drop_index("ix_console_sessions_seen_at", table_name="console_sessions")
    op.drop_index("ix_console_sessions_owner", table_name="console_sessions")
    op.drop_table("console_sessions")
