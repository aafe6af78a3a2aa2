"""Change notification: on PostgreSQL, a commit that adds to the outbox or the ledger's
checkpoints notifies the channel ``brightline_changes``
(:mod:`brightline.store.changes`), so that servers learn of it at once instead of at
their next poll, whichever process made the change.

One ``AFTER INSERT … FOR EACH STATEMENT`` trigger per table calls ``pg_notify`` with
the table's name. The notification is sent when the transaction commits and not at all
if it rolls back; notifications of one transaction with the same payload are delivered
once. SQLite has no notifications: nothing changes there (its servers poll).

Revision ID: 0011_change_notify
Revises: 0010_console_sessions
Create Date: 2027-01-12
"""

from __future__ import annotations

from alembic import op

revision = "0011_change_notify"
down_revision = "0010_console_sessions"
branch_labels = None
depends_on = None

# Spelt out rather than imported: a migration keeps what it did when the code moves on.
_CHANNEL = "brightline_changes"
_TABLES = ("outbox", "ledger_checkpoints")
_FUNCTION = "brightline_notify_change"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{_CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_change AFTER INSERT ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
