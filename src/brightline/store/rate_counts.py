"""Rate-limit counters shared by every server on the database: requests per credential
per minute (:class:`~brightline.store.ephemeral_models.RateCountRow`), counted with one
atomic upsert so that concurrent servers never count past a cap between them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from brightline.store.ephemeral_models import RateCountRow


def count_in(session: Session, credential: str, minute: int) -> int:
    """Requests counted for ``credential`` in ``minute`` (0 if none)."""
    value = session.scalar(
        select(RateCountRow.count).where(
            RateCountRow.credential == credential, RateCountRow.minute == minute
        )
    )
    return int(value or 0)


def count_one(session: Session, credential: str, minute: int, *, cap: int) -> int | None:
    """Count one request of ``credential`` in ``minute`` unless ``cap`` are counted
    already; the new count, or None when the cap was reached (nothing counted). Atomic:
    two servers counting at once never pass the cap. Counts of earlier minutes than the
    one before are deleted when a minute's first request is counted."""
    if cap < 1:
        return None
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(RateCountRow)
        .values(credential=credential, minute=minute, count=1)
        .on_conflict_do_update(
            index_elements=[RateCountRow.credential, RateCountRow.minute],
            set_={"count": RateCountRow.count + 1},
            where=RateCountRow.count < cap,
        )
        .returning(RateCountRow.count)
    )
    count = session.execute(statement).scalar()
    if count == 1:
        session.execute(
            delete(RateCountRow).where(
                RateCountRow.credential == credential, RateCountRow.minute < minute - 1
            )
        )
    return None if count is None else int(count)
