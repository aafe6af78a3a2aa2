"""Console sign-in through the identity provider: OpenID Connect's authorization code
flow with PKCE (RFC 7636), a ``state`` bound to the browser by a cookie and a ``nonce``
bound to the ID token. The ID token is then checked like any OIDC bearer token (JWKS
signature, issuer, audience, expiry, role claim) and becomes the session's credential,
so the session ends when the token expires."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Final

import httpx

from brightline.api.auth import AuthenticationError
from brightline.config import Settings

STATE_COOKIE: Final = "bl_console_oidc"
PENDING_SECONDS: Final = 600
MAX_PENDING: Final = 10_000


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in on its way through the identity provider."""

    state: str
    nonce: str
    verifier: str
    next: str
    redirect_uri: str
    started: float


def configured(settings: Settings) -> bool:
    return bool(
        settings.oidc_client_id
        and settings.oidc_authorization_endpoint
        and settings.oidc_token_endpoint
        and settings.oidc_issuer
        and settings.oidc_jwks
    )


class SignIns:
    """Pending sign-ins in the server's memory, each usable once and for ten minutes."""

    def __init__(self) -> None:
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def start(self, settings: Settings, *, redirect_uri: str, next: str) -> tuple[Pending, str]:
        """A new pending sign-in and the identity provider's URL to send the browser to."""
        verifier = secrets.token_urlsafe(48)
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=verifier,
            next=next,
            redirect_uri=redirect_uri,
            started=time.monotonic(),
        )
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": settings.oidc_client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid profile",
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        with self._lock:
            now = time.monotonic()
            for key in [k for k, p in self._pending.items() if now - p.started > PENDING_SECONDS]:
                del self._pending[key]
            if len(self._pending) >= MAX_PENDING:
                raise AuthenticationError("too many sign-ins under way; try again shortly")
            self._pending[pending.state] = pending
        endpoint = str(settings.oidc_authorization_endpoint)
        separator = "&" if "?" in endpoint else "?"
        return pending, f"{endpoint}{separator}{query}"

    def finish(self, state: str, cookie: str | None) -> Pending:
        """The pending sign-in for ``state``, once, if this browser started it."""
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or time.monotonic() - pending.started > PENDING_SECONDS:
            raise AuthenticationError("this sign-in expired or was already used; start again")
        if cookie is None or not secrets.compare_digest(cookie, state):
            raise AuthenticationError("this sign-in was started in another browser")
        return pending


def redeem(settings: Settings, pending: Pending, code: str) -> str:
    """Exchange the authorization code for the ID token at the token endpoint."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "client_id": str(settings.oidc_client_id),
        "code_verifier": pending.verifier,
    }
    if settings.oidc_client_secret is not None:
        form["client_secret"] = settings.oidc_client_secret.get_secret_value()
    try:
        response = httpx.post(str(settings.oidc_token_endpoint), data=form, timeout=10)
    except httpx.HTTPError as exc:
        raise AuthenticationError(f"the identity provider could not be reached: {exc}") from exc
    if response.status_code != 200:
        raise AuthenticationError(
            f"the identity provider refused the code ({response.status_code})"
        )
    try:
        token = response.json()["id_token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthenticationError("the identity provider returned no ID token") from exc
    if not isinstance(token, str) or not token:
        raise AuthenticationError("the identity provider returned no ID token")
    return token
