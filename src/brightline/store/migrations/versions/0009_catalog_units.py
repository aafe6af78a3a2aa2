"""Catalog units: the metering units a world's catalog declares are stored with it.

A catalog may declare units for every service (``units:``) and for each service (a
service's ``units:``); telemetry ingest accepts a row's unit only from those and the
common FOCUS units (``brightline.telemetry.units``). This revision adds a nullable
``units`` column to ``world_versions`` (the catalog's) and ``world_services`` (the
service's own): a JSON list in catalog order, NULL when none is declared. The versions
stored before declare none, so nothing stored changes and their digests still hold.

The downgrade refuses a store in which some world version declares units: dropping them
would change that version's world, and its digest would no longer match.

Revision ID: 0009_catalog_units
Revises: 0008_api_key_events
Create Date: 2027-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from brightline.errors import ConflictError

revision = "0009_catalog_units"
down_revision = "0008_api_key_events"
branch_labels = None
depends_on = None

_TABLES = ("world_versions", "world_services")


# Plain ALTER TABLE on both databases: a batch (copy and rename) of ``world_versions``
# on SQLite would trip the foreign keys that its nodes, services and regions hold.
def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("units", sa.Text(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES:
        declared = bind.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE units IS NOT NULL")
        ).scalar()
        if declared:
            raise ConflictError(
                f"{declared} rows of {table} declare catalog units; "
                f"revision {down_revision} cannot store them"
            )
    for table in _TABLES:
        op.drop_column(table, "units")
