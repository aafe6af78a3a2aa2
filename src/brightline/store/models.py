"""The tables. Rows are only ever inserted: history is never updated or deleted.

Two exceptions: ``outbox_cursors``, a consumer's reading position, which is bookkeeping
about the outbox, not part of the history it records; and the ``to_version`` of a world
row, set once when a later import replaces the row (:class:`_WorldRange`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Named constraints so that migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    SQLite has no time zones: values are stored as naive UTC and given ``UTC`` back.
    Naive datetimes are refused on the way in, so no local time slips into history.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class WorldVersion(Base):
    """One import of the world: the full directory and catalog as of ``created_at``."""

    __tablename__ = "world_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    #: JSON list of the units the catalog declares for every service, in catalog order;
    #: NULL when it declares none.
    units: Mapped[str | None] = mapped_column(Text)


class _WorldRange:
    """A row of a world table holds for a range of versions: from ``from_version`` up to,
    not including, ``to_version`` (NULL while it is in the newest version). An import
    closes the rows that changed (sets their ``to_version``, the one update a world row
    ever gets) and inserts their new form; unchanged rows are not written again.

    ``position`` orders a version's rows as its files did. Positions are sparse (a row
    keeps its position while rows are added or removed around it), unique within a
    version, and compared only within one version (``brightline.store.world_ranges``).
    """

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    from_version: Mapped[int] = mapped_column(
        BigId, ForeignKey("world_versions.id"), primary_key=True
    )
    to_version: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("world_versions.id"), index=True
    )
    position: Mapped[int] = mapped_column(BigInteger, index=True)


class WorldNode(_WorldRange, Base):
    __tablename__ = "world_nodes"

    parent: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(Text)
    #: Canonical JSON (sorted keys) of the node's attributes.
    attrs: Mapped[str] = mapped_column(Text)


class WorldService(_WorldRange, Base):
    __tablename__ = "world_services"

    #: JSON list, in catalog order.
    operations: Mapped[str] = mapped_column(Text)
    #: JSON list, sorted.
    tags: Mapped[str] = mapped_column(Text)
    #: JSON list of the service's own units, in catalog order; NULL when it declares none.
    units: Mapped[str | None] = mapped_column(Text)


class WorldRegion(_WorldRange, Base):
    __tablename__ = "world_regions"

    country: Mapped[str] = mapped_column(String(2))


class RestrictionEvent(Base):
    """One step in a restriction's life. The state is derived from these rows alone.

    ``(restriction_id, revision)`` is unique and revisions count 1, 2, 3… per
    restriction: two writers that both read revision *n* cannot both append *n + 1*.
    """

    __tablename__ = "restriction_events"
    __table_args__ = (
        UniqueConstraint("restriction_id", "revision", name="uq_restriction_events_revision"),
        Index("ix_restriction_events_restriction_id", "restriction_id"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    restriction_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    why: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(String(128))
    #: Canonical JSON of the restriction, on events that set it (proposal, promotion).
    body: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    #: SHA-256 of the request that produced the event, to tell a retry from a key reused.
    request_digest: Mapped[str] = mapped_column(String(64))


class OutboxEvent(Base):
    """An event for the ledger, written in the same transaction as the change it records.

    Ids are allocated while every writer holds the store's write lock, so they grow
    in commit order and a consumer can safely read ``id > position``.
    """

    __tablename__ = "outbox"
    #: The newest event of a type (the bundle in force: ``bundle.issued``) without a scan.
    __table_args__ = (Index("ix_outbox_event_type_id", "event_type", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(64))
    #: Canonical JSON: sorted keys, no spaces, UTF-8.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutboxCursor(Base):
    """How far a consumer has read the outbox; the outbox itself is never touched."""

    __tablename__ = "outbox_cursors"

    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
