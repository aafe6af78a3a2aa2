"""Numbered logs: every bundle, tile and checkpoint belongs to a log; the rows so far to log 1.

A log cannot be rewritten, so a change in what entries publish starts a new log
(``brightline ledger seal-and-restart``) and keeps the old one, frozen. This revision adds
``ledger_logs`` (number, origin) and a ``log`` column to ``ledger_bundles`` (primary key
``log, bundle``), ``ledger_tiles`` (``log, level, tile``) and ``ledger_checkpoints``. The
rows already stored become log 1, whose origin is read off its latest checkpoint (NULL
when it has none yet: its first signed checkpoint sets it). Nothing else is changed: the
bytes of every entry, hash and checkpoint stay as they were signed.

The downgrade refuses a store holding more than one log (it would have to drop one).

Revision ID: 0007_ledger_logs
Revises: 0006_ledger_cosignatures
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from brightline.errors import ConflictError

revision = "0007_ledger_logs"
down_revision = "0006_ledger_cosignatures"
branch_labels = None
depends_on = None


def _first_log_origin() -> str | None:
    """The origin line of log 1's latest checkpoint, if it has one."""
    note = (
        op.get_bind()
        .execute(sa.text("SELECT note FROM ledger_checkpoints ORDER BY id DESC LIMIT 1"))
        .scalar()
    )
    return None if note is None else str(note).split("\n", 1)[0]


def upgrade() -> None:
    op.create_table(
        "ledger_logs",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_logs")),
        sa.UniqueConstraint("origin", name=op.f("uq_ledger_logs_origin")),
    )
    op.get_bind().execute(
        sa.text("INSERT INTO ledger_logs (id, origin) VALUES (1, :origin)"),
        {"origin": _first_log_origin()},
    )
    # The server default fills the existing rows with 1; it is dropped afterwards, so
    # that no row is ever put in a log by default.
    one = sa.text("1")
    with op.batch_alter_table("ledger_bundles") as batch:
        batch.add_column(sa.Column("log", sa.Integer(), nullable=False, server_default=one))
        batch.drop_constraint("pk_ledger_bundles", type_="primary")
        batch.create_primary_key("pk_ledger_bundles", ["log", "bundle"])
    with op.batch_alter_table("ledger_tiles") as batch:
        batch.add_column(sa.Column("log", sa.Integer(), nullable=False, server_default=one))
        batch.drop_constraint("pk_ledger_tiles", type_="primary")
        batch.create_primary_key("pk_ledger_tiles", ["log", "level", "tile"])
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.add_column(sa.Column("log", sa.Integer(), nullable=False, server_default=one))
        batch.create_index("ix_ledger_checkpoints_log", ["log", "id"])
    for table in ("ledger_bundles", "ledger_tiles", "ledger_checkpoints"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("log", server_default=None)


def downgrade() -> None:
    logs = op.get_bind().execute(sa.text("SELECT count(*) FROM ledger_logs")).scalar()
    if logs and logs > 1:
        raise ConflictError(
            f"the store holds {logs} ledger logs; revision {down_revision} knows only one"
        )
    with op.batch_alter_table("ledger_checkpoints") as batch:
        batch.drop_index("ix_ledger_checkpoints_log")
        batch.drop_column("log")
    with op.batch_alter_table("ledger_tiles") as batch:
        batch.drop_constraint("pk_ledger_tiles", type_="primary")
        batch.create_primary_key("pk_ledger_tiles", ["level", "tile"])
        batch.drop_column("log")
    with op.batch_alter_table("ledger_bundles") as batch:
        batch.drop_constraint("pk_ledger_bundles", type_="primary")
        batch.create_primary_key("pk_ledger_bundles", ["bundle"])
        batch.drop_column("log")
    op.drop_table("ledger_logs")
