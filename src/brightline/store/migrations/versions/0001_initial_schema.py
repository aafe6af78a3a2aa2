"""Initial schema: world versions, restriction events, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types as they were at this revision.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "world_versions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_world_versions")),
    )
    for table, columns in (
        (
            "world_nodes",
            [
                sa.Column("parent", sa.String(length=128), nullable=True),
                sa.Column("kind", sa.String(length=128), nullable=False),
                sa.Column("name", sa.Text(), nullable=False),
                sa.Column("attrs", sa.Text(), nullable=False),
            ],
        ),
        (
            "world_services",
            [
                sa.Column("operations", sa.Text(), nullable=False),
                sa.Column("tags", sa.Text(), nullable=False),
            ],
        ),
        ("world_regions", [sa.Column("country", sa.String(length=2), nullable=False)]),
    ):
        op.create_table(
            table,
            sa.Column("version_id", BIG_ID, nullable=False),
            sa.Column("id", sa.String(length=128), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            *columns,
            sa.ForeignKeyConstraint(
                ["version_id"],
                ["world_versions.id"],
                name=op.f(f"fk_{table}_version_id_world_versions"),
            ),
            sa.PrimaryKeyConstraint("version_id", "id", name=op.f(f"pk_{table}")),
        )
    op.create_table(
        "restriction_events",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("restriction_id", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("why", sa.Text(), nullable=True),
        sa.Column("case_id", sa.String(length=128), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_restriction_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_restriction_events_idempotency_key")),
        sa.UniqueConstraint("restriction_id", "revision", name="uq_restriction_events_revision"),
    )
    op.create_index(
        "ix_restriction_events_restriction_id", "restriction_events", ["restriction_id"]
    )
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_table(
        "outbox_cursors",
        sa.Column("consumer", sa.String(length=128), nullable=False),
        sa.Column("position", BIG_ID, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_outbox_cursors")),
    )


def downgrade() -> None:
    op.drop_table("outbox_cursors")
    op.drop_table("outbox")
    op.drop_index("ix_restriction_events_restriction_id", table_name="restriction_events")
    op.drop_table("restriction_events")
    op.drop_table("world_regions")
    op.drop_table("world_services")
    op.drop_table("world_nodes")
    op.drop_table("world_versions")
