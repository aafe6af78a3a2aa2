"""Console session cookies. The sessions themselves are in the database
(:mod:`brightline.service.console_sessions`), shared by every server on it: the cookie
holds a random session id, ``HttpOnly``, ``SameSite=Lax`` (``Secure`` when the console is
served over TLS); the store holds only its hash and no credential, and the session's
principal is checked again on every request, so that a revoked key or an expired token
ends it. Each session has its own CSRF token, which every form carries and every POST
must return.
"""

from __future__ import annotations

from typing import Final

from brightline.service.console_sessions import ConsoleSession, ConsoleSessions

COOKIE: Final = "bl_console"
#: Sign-in form token (double-submit: cookie and form field must match).
LOGIN_COOKIE: Final = "bl_console_login"

__all__ = ["COOKIE", "LOGIN_COOKIE", "ConsoleSession", "ConsoleSessions"]
