"""World rows as version ranges: an import writes only the rows that changed.

Before, ``world_nodes``, ``world_services`` and ``world_regions`` held every row of
every world version (``version_id``, dense ``position`` 0, 1, 2… in file order). Now a
row holds for the versions ``from_version`` up to, not including, ``to_version`` (NULL
while it is in the newest version), and ``position`` is sparse: a row keeps it while
rows are added or removed around it (``brightline.store.world_ranges``).

The upgrade walks the stored versions oldest first and gives each row of each version to
the range that holds it: a row identical to the previous version's row of the same id,
position included, extends that row's range; any other row starts a new one. Position
``p`` becomes ``p * GAP``, which leaves room to insert rows between them later. Every
version therefore loads exactly as before, in the same order, and its digest still
holds. The downgrade expands each range back into one row per version, numbering each
version's rows 0, 1, 2… by position.

Revision ID: 0012_world_ranges
Revises: 0011_change_notify
Create Date: 2027-01-19
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014_world_ranges"
down_revision = "0013_customer_binding"
branch_labels = None
depends_on = None

# Spelt out rather than imported: a migration keeps what it did when the code moves on.
_GAP = 1 << 16
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 10_000
_CONTENT: dict[str, tuple[sa.Column[Any], ...]] = {
    "world_nodes": (
        sa.Column("parent", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("attrs", sa.Text(), nullable=False),
    ),
    "world_services": (
        sa.Column("operations", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("units", sa.Text(), nullable=True),
    ),
    "world_regions": (sa.Column("country", sa.String(length=2), nullable=False),),
}


def _content(table: str) -> list[str]:
    return [c.name for c in _CONTENT[table]]


def _copies(table: str) -> list[sa.Column[Any]]:
    return [sa.Column(c.name, c.type, nullable=c.nullable) for c in _CONTENT[table]]


def _set_aside(table: str, old_key: Sequence[str]) -> str:
    """Rename ``table`` (and, on PostgreSQL, its named constraints) out of the way."""
    aside = f"{table}_before_{revision[:4]}"
    if op.get_bind().dialect.name == "postgresql":
        names = [f"pk_{table}", *(f"fk_{table}_{column}_world_versions" for column in old_key)]
        for name in names:
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {name} TO {name}_before")
    op.rename_table(table, aside)
    return aside


def _insert(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    statement = sa.text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    op.get_bind().execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])


def upgrade() -> None:
    bind = op.get_bind()
    versions = [v for (v,) in bind.execute(sa.text("SELECT id FROM world_versions ORDER BY id"))]
    for table in _CONTENT:
        aside = _set_aside(table, ["version_id"])
        op.create_table(
            table,
            sa.Column("id", sa.String(length=128), nullable=False),
            sa.Column("from_version", _BIG_ID, nullable=False),
            sa.Column("to_version", _BIG_ID, nullable=True),
            sa.Column("position", sa.BigInteger(), nullable=False),
            *_copies(table),
            sa.ForeignKeyConstraint(
                ["from_version"],
                ["world_versions.id"],
                name=f"fk_{table}_from_version_world_versions",
            ),
            sa.ForeignKeyConstraint(
                ["to_version"], ["world_versions.id"], name=f"fk_{table}_to_version_world_versions"
            ),
            sa.PrimaryKeyConstraint("id", "from_version", name=f"pk_{table}"),
        )
        op.create_index(f"ix_{table}_to_version", table, ["to_version"])
        op.create_index(f"ix_{table}_position", table, ["position"])
        _ranges_from_versions(table, aside, versions)
        op.drop_table(aside)


def _ranges_from_versions(table: str, aside: str, versions: list[int]) -> None:
    content = _content(table)
    columns = ["id", "from_version", "to_version", "position", *content]
    # id -> (from_version, (position, *content)) of the ranges still open
    open_rows: dict[str, tuple[int, tuple[Any, ...]]] = {}
    closed: list[tuple[Any, ...]] = []
    for version in versions:
        now_open: dict[str, tuple[int, tuple[Any, ...]]] = {}
        for row in _rows_of(aside, version, content):
            row_id, values = row[0], (row[1] * _GAP, *row[2:])
            before = open_rows.pop(row_id, None)
            if before is not None and before[1] == values:
                now_open[row_id] = before
            else:
                if before is not None:
                    closed.append((row_id, before[0], version, *before[1]))
                now_open[row_id] = (version, values)
        closed.extend(
            (row_id, start, version, *values) for row_id, (start, values) in open_rows.items()
        )
        open_rows = now_open
        if len(closed) >= _BATCH:
            _insert(table, columns, closed)
            closed = []
    closed.extend((row_id, start, None, *values) for row_id, (start, values) in open_rows.items())
    _insert(table, columns, closed)


def _rows_of(table: str, version: int, content: list[str]) -> Iterator[tuple[Any, ...]]:
    query = sa.text(
        f"SELECT id, position, {', '.join(content)} FROM {table} "
        "WHERE version_id = :v ORDER BY position"
    )
    for row in op.get_bind().execute(query, {"v": version}):
        yield tuple(row)


def downgrade() -> None:
    for table in _CONTENT:
        aside = _set_aside(table, ["from_version", "to_version"])
        op.drop_index(f"ix_{table}_to_version", table_name=aside)
        op.drop_index(f"ix_{table}_position", table_name=aside)
        op.create_table(
            table,
            sa.Column("version_id", _BIG_ID, nullable=False),
            sa.Column("id", sa.String(length=128), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            *_copies(table),
            sa.ForeignKeyConstraint(
                ["version_id"], ["world_versions.id"], name=f"fk_{table}_version_id_world_versions"
            ),
            sa.PrimaryKeyConstraint("version_id", "id", name=f"pk_{table}"),
        )
        content = ", ".join(_content(table))
        values = ", ".join(f"r.{c}" for c in _content(table))
        op.execute(
            f"INSERT INTO {table} (version_id, id, position, {content}) "
            f"SELECT v.id, r.id, "
            f"ROW_NUMBER() OVER (PARTITION BY v.id ORDER BY r.position) - 1, {values} "
            f"FROM world_versions v JOIN {aside} r ON r.from_version <= v.id "
            f"AND (r.to_version IS NULL OR r.to_version > v.id)"
        )
        op.drop_table(aside)
