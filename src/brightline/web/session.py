"""Console sessions and CSRF tokens.

A session is a random id in an ``HttpOnly``, ``SameSite=Lax`` cookie (``Secure`` when
the console is served over TLS); the credential it was opened with stays in the
server's memory, never in the cookie, and is checked again on every request so that a
revoked key or an expired token ends the session. Each session has its own CSRF token,
which every form carries and every POST must return.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Final

from brightline.access import Principal
from brightline.errors import AccessDeniedError

COOKIE: Final = "bl_console"
#: Sign-in form token (double-submit: cookie and form field must match).
LOGIN_COOKIE: Final = "bl_console_login"
IDLE_SECONDS: Final = 60 * 60
ABSOLUTE_SECONDS: Final = 12 * 60 * 60
MAX_SESSIONS: Final = 10_000
#: Sessions one principal may hold; a new one ends its own oldest (never someone else's).
MAX_PER_PRINCIPAL: Final = 20


@dataclass
class ConsoleSession:
    id: str
    token: str = field(repr=False)
    principal: Principal
    csrf: str = field(repr=False)
    created: float
    seen: float
    flash: list[tuple[str, str]] = field(default_factory=list)

    def check_csrf(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf)

    def say(self, kind: str, message: str) -> None:
        """A message shown once on the next page (kind: ``ok`` or ``error``)."""
        self.flash.append((kind, message))

    def take_flash(self) -> list[tuple[str, str]]:
        messages, self.flash = self.flash, []
        return messages


class Sessions:
    """Sessions in this server's memory; a restart signs everyone out."""

    def __init__(self) -> None:
        self._by_id: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def open(self, token: str, principal: Principal) -> ConsoleSession:
        now = time.monotonic()
        session = ConsoleSession(
            id=secrets.token_urlsafe(32),
            token=token,
            principal=principal,
            csrf=secrets.token_urlsafe(32),
            created=now,
            seen=now,
        )
        who = principal.name.casefold()
        with self._lock:
            self._expire(now)
            own = [s for s in self._by_id.values() if s.principal.name.casefold() == who]
            if len(own) >= MAX_PER_PRINCIPAL:
                del self._by_id[min(own, key=lambda s: s.seen).id]
            elif len(self._by_id) >= MAX_SESSIONS:
                raise AccessDeniedError("too many console sessions are open; try again later")
            self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._by_id.get(session_id)
            if session is None:
                return None
            if now - session.seen > IDLE_SECONDS or now - session.created > ABSOLUTE_SECONDS:
                del self._by_id[session_id]
                return None
            session.seen = now
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)

    def _expire(self, now: float) -> None:
        stale = [
            sid
            for sid, s in self._by_id.items()
            if now - s.seen > IDLE_SECONDS or now - s.created > ABSOLUTE_SECONDS
        ]
        for sid in stale:
            del self._by_id[sid]
