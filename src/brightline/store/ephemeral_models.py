"""Tables of serving state that every replica of the server shares: console sessions and
rate-limit counters.

Unlike the history (:mod:`brightline.store.models`), these rows are updated and deleted:
they are the servers' working memory, never logged in the ledger nor audited. No row
holds a credential: a session row holds the SHA-256 of its session id (the cookie) and
what re-checking its principal needs (the API key's id, never the key).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from brightline.store.models import Base, UtcDateTime


class ConsoleSessionRow(Base):
    __tablename__ = "console_sessions"
    __table_args__ = (
        Index("ix_console_sessions_owner", "owner"),
        Index("ix_console_sessions_seen_at", "seen_at"),
    )

    #: SHA-256 of the session id (hex): the cookie cannot be read back from the table.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(256))
    #: The principal's name case-folded: the per-principal cap counts by it.
    owner: Mapped[str] = mapped_column(String(256))
    #: The credential's name (``key:<id>`` or ``oidc:<alias>``).
    credential: Mapped[str] = mapped_column(String(128))
    #: The API key's id, checked for revocation on every request; None for OIDC.
    key_id: Mapped[str | None] = mapped_column(String(32))
    #: JSON list of the roles the credential carries (the store's grants are read anew).
    roles: Mapped[str] = mapped_column(Text)
    #: When the credential expires (an OIDC token's ``exp``); None for an API key.
    until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: JSON list of ``[kind, message]`` shown once on the next page.
    flash: Mapped[str] = mapped_column(Text)


class RateCountRow(Base):
    """Requests one credential made in one minute (a fixed window, counted atomically)."""

    __tablename__ = "rate_counts"

    credential: Mapped[str] = mapped_column(String(256), primary_key=True)
    #: Minutes since the epoch.
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
