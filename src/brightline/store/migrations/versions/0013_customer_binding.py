"""The customer role's binding: the node a ``customer`` grant binds its principal to.

The downgrade drops the column: customer grants then bind to nothing, and a customer
sees nothing (it fails closed).

Revision ID: 0013_customer_binding
Revises: 0012_public_reports
Create Date: 2027-01-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_customer_binding"
down_revision = "0012_public_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("role_grant_events") as batch:
        batch.add_column(sa.Column("node", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("role_grant_events") as batch:
        batch.drop_column("node")
