"""Console session rows (:class:`~brightline.store.ephemeral_models.ConsoleSessionRow`),
shared by every server on the database. The rules (expiry, the caps, re-checking the
principal) are :mod:`brightline.service.console_sessions`'s; this module only reads and
writes rows, named by the SHA-256 of the session id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from brightline.store.ephemeral_models import ConsoleSessionRow


@dataclass(frozen=True, slots=True)
class StoredSession:
    id_hash: str
    principal: str
    credential: str
    key_id: str | None
    roles: frozenset[str]
    until: datetime | None
    created_at: datetime
    seen_at: datetime
    flash: tuple[tuple[str, str], ...]


def _stored(row: ConsoleSessionRow) -> StoredSession:
    return StoredSession(
        id_hash=row.id_hash,
        principal=row.principal,
        credential=row.credential,
        key_id=row.key_id,
        roles=frozenset(json.loads(row.roles)),
        until=row.until,
        created_at=row.created_at,
        seen_at=row.seen_at,
        flash=tuple((str(k), str(m)) for k, m in json.loads(row.flash)),
    )


def insert_session(session: Session, stored: StoredSession) -> None:
    session.add(
        ConsoleSessionRow(
            id_hash=stored.id_hash,
            principal=stored.principal,
            owner=stored.principal.casefold(),
            credential=stored.credential,
            key_id=stored.key_id,
            roles=json.dumps(sorted(stored.roles)),
            until=stored.until,
            created_at=stored.created_at,
            seen_at=stored.seen_at,
            flash=json.dumps([list(f) for f in stored.flash]),
        )
    )
    session.flush()


def session_by_hash(session: Session, id_hash: str) -> StoredSession | None:
    row = session.get(ConsoleSessionRow, id_hash)
    return None if row is None else _stored(row)


def delete_session(session: Session, id_hash: str) -> None:
    session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.id_hash == id_hash))


def delete_stale_sessions(
    session: Session, *, seen_before: datetime, created_before: datetime
) -> int:
    """Delete the sessions idle since ``seen_before`` or opened before ``created_before``."""
    result = session.execute(
        delete(ConsoleSessionRow).where(
            or_(
                ConsoleSessionRow.seen_at < seen_before,
                ConsoleSessionRow.created_at < created_before,
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def count_sessions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ConsoleSessionRow)) or 0


def sessions_of(session: Session, principal: str) -> list[StoredSession]:
    """The principal's sessions (its name compared case-folded), least recently seen first."""
    rows = session.scalars(
        select(ConsoleSessionRow)
        .where(ConsoleSessionRow.owner == principal.casefold())
        .order_by(ConsoleSessionRow.seen_at, ConsoleSessionRow.id_hash)
    )
    return [_stored(r) for r in rows]


def touch_session(
    session: Session,
    id_hash: str,
    *,
    seen_at: datetime | None = None,
    flash: tuple[tuple[str, str], ...] | None = None,
) -> None:
    """Move the session's last-seen time and/or replace its flash messages."""
    row = session.get(ConsoleSessionRow, id_hash)
    if row is None:
        return
    if seen_at is not None:
        row.seen_at = seen_at
    if flash is not None:
        row.flash = json.dumps([list(f) for f in flash])
    session.flush()


def add_flash(session: Session, id_hash: str, kind: str, message: str) -> None:
    """Append a message to the session's flash (read and written under a row lock)."""
    row = session.get(ConsoleSessionRow, id_hash, with_for_update=True)
    if row is None:
        return
    row.flash = json.dumps([*json.loads(row.flash), [kind, message]])
    session.flush()
