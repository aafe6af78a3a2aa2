"""Console sessions, kept in the database so that every server on it knows them: sign
in through one server, act through another, and a restart signs no one out.

A session is named by a random id (the cookie); the store keeps only its SHA-256, and of
the credential only what re-checking it needs (:class:`CheckedCredential`: the principal,
the roles the credential carries, the API key's id, an OIDC token's expiry), never the
key or token. Every request checks it again against the store
(:meth:`Authenticator.recheck`): a revoked key or an expired token ends the session, a
changed grant changes its roles. The CSRF token is derived from the session id (an
HMAC), so it needs no storage and is no use without the cookie.

Sessions end after IDLE_SECONDS unseen or ABSOLUTE_SECONDS after sign-in; a principal
holds at most MAX_PER_PRINCIPAL (a new one ends its own least recently seen, never
someone else's), and the store at most MAX_SESSIONS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from brightline.access import Principal
from brightline.errors import AccessDeniedError, AuthenticationError
from brightline.service.access import Authenticator, CheckedCredential
from brightline.store import Store
from brightline.store.console_sessions import (
    StoredSession,
    add_flash,
    count_sessions,
    delete_session,
    delete_stale_sessions,
    insert_session,
    session_by_hash,
    sessions_of,
    touch_session,
)

IDLE_SECONDS: Final = 60 * 60
ABSOLUTE_SECONDS: Final = 12 * 60 * 60
MAX_SESSIONS: Final = 10_000
MAX_PER_PRINCIPAL: Final = 20
#: A session's last-seen time is written at most this often (idle expiry is an hour).
SEEN_EVERY_SECONDS: Final = 60
_CSRF: Final = b"brightline-console-csrf/1"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The session's CSRF token: an HMAC of a constant keyed by the session id."""
    digest = hmac.new(session_id.encode(), _CSRF, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class ConsoleSession:
    """A session as one request sees it: its principal as checked for this request and
    the flash messages this request took."""

    id: str = field(repr=False)
    principal: Principal
    flash: list[tuple[str, str]] = field(default_factory=list)

    @property
    def csrf(self) -> str:
        return csrf_token(self.id)

    def check_csrf(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf)

    def take_flash(self) -> list[tuple[str, str]]:
        messages, self.flash = self.flash, []
        return messages


class ConsoleSessions:
    """Console sessions in the store (thread-safe: every call is its own transaction)."""

    def __init__(self, store: Store, authenticator: Authenticator) -> None:
        self._store = store
        self._authenticator = authenticator

    def open(self, checked: CheckedCredential, *, now: datetime | None = None) -> ConsoleSession:
        """A new session for a credential just checked. AccessDeniedError when the
        store holds MAX_SESSIONS."""
        at = now or datetime.now(UTC)
        session_id = secrets.token_urlsafe(32)
        name = checked.principal.name
        stored = StoredSession(
            id_hash=_hash(session_id),
            principal=name,
            credential=checked.principal.credential,
            key_id=checked.key_id,
            roles=checked.carried,
            until=None if math.isinf(checked.until) else datetime.fromtimestamp(checked.until, UTC),
            created_at=at,
            seen_at=at,
            flash=(),
        )
        with self._store.write_ephemeral() as session:
            delete_stale_sessions(
                session,
                seen_before=at - timedelta(seconds=IDLE_SECONDS),
                created_before=at - timedelta(seconds=ABSOLUTE_SECONDS),
            )
            own = sessions_of(session, name)
            if len(own) >= MAX_PER_PRINCIPAL:
                for oldest in own[: len(own) - MAX_PER_PRINCIPAL + 1]:
                    delete_session(session, oldest.id_hash)
            elif count_sessions(session) >= MAX_SESSIONS:
                raise AccessDeniedError("too many console sessions are open; try again later")
            insert_session(session, stored)
        return ConsoleSession(session_id, checked.principal)

    def get(
        self, session_id: str | None, *, take_flash: bool, now: datetime | None = None
    ) -> ConsoleSession | None:
        """The session of a cookie with its principal checked again (None if there is
        no such session, or it expired: it is then deleted). AuthenticationError when its
        credential no longer holds (revoked, expired): the session is deleted. With
        ``take_flash``, its flash messages move to the returned session (shown once)."""
        if not session_id:
            return None
        at = now or datetime.now(UTC)
        id_hash = _hash(session_id)
        with self._store.read() as session:
            stored = session_by_hash(session, id_hash)
        if stored is None:
            return None
        idle = (at - stored.seen_at).total_seconds()
        if idle > IDLE_SECONDS or (at - stored.created_at).total_seconds() > ABSOLUTE_SECONDS:
            self.close(session_id)
            return None
        try:
            principal = self._authenticator.recheck(_checked(stored))
        except AuthenticationError:
            self.close(session_id)
            raise
        flash = stored.flash if take_flash else ()
        if flash or idle > SEEN_EVERY_SECONDS:
            with self._store.write_ephemeral() as session:
                touch_session(session, id_hash, seen_at=at, flash=() if flash else None)
        return ConsoleSession(session_id, principal, list(flash))

    def say(self, console_session: ConsoleSession, kind: str, message: str) -> None:
        """A message shown once on the session's next page (kind: ``ok`` or ``error``)."""
        with self._store.write_ephemeral() as session:
            add_flash(session, _hash(console_session.id), kind, message)

    def close(self, session_id: str | None) -> None:
        if not session_id:
            return
        with self._store.write_ephemeral() as session:
            delete_session(session, _hash(session_id))


def _checked(stored: StoredSession) -> CheckedCredential:
    return CheckedCredential(
        principal=Principal(stored.principal, frozenset(), stored.credential),
        carried=stored.roles,
        key_id=stored.key_id,
        until=math.inf if stored.until is None else stored.until.timestamp(),
    )
