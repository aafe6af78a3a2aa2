"""Witness cosignatures of checkpoints (C2SP tlog-cosignature), kept beside them.

A new, insert-only table ``ledger_cosignatures``: one row per checkpoint and witness key,
holding the signature line the witness returned. Nothing already stored changes: a
checkpoint's note stays as the log signed it, and the published note is that note with
its cosignature lines appended.

Revision ID: 0006_ledger_cosignatures
Revises: 0005_seal_secrets
Create Date: 2026-12-16
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_ledger_cosignatures"
down_revision = "0005_seal_secrets"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ledger_cosignatures",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("checkpoint", BIG_ID, nullable=False),
        sa.Column("witness", sa.Text(), nullable=False),
        sa.Column("key_id", sa.LargeBinary(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_cosignatures")),
        sa.ForeignKeyConstraint(
            ["checkpoint"],
            ["ledger_checkpoints.id"],
            name=op.f("fk_ledger_cosignatures_checkpoint_ledger_checkpoints"),
        ),
        sa.UniqueConstraint(
            "checkpoint", "witness", "key_id", name="uq_ledger_cosignatures_witness"
        ),
    )


def downgrade() -> None:
    op.drop_table("ledger_cosignatures")
