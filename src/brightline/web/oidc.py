"""Console sign-in through the identity provider: OpenID Connect's authorization code
flow with PKCE (RFC 7636), a ``state`` bound to the browser by a cookie and a ``nonce``
bound to the ID token. The ID token is then checked like any OIDC bearer token (JWKS
signature, issuer, audience, expiry, role claim) and becomes the session's credential,
so the session ends when the token expires."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Final

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from brightline.config import Settings
from brightline.errors import AuthenticationError

STATE_COOKIE: Final = "bl_console_oidc"
PENDING_SECONDS: Final = 600
#: Used states remembered (oldest forgotten first; the provider's codes are single-use too).
MAX_USED: Final = 100_000
_AAD: Final = b"brightline-console-oidc/1"


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
    """Sign-ins on their way through the identity provider.

    The server keeps nothing until the browser comes back: the state, nonce and PKCE
    verifier travel in a cookie encrypted and authenticated (AES-GCM) with a key derived
    from ``secret``, so that no one can fill the server's memory by starting sign-ins.
    Every server of a deployment derives the same key from the same secret (the ledger
    key's seed, which they all hold), so a sign-in started through one server finishes
    through another; without a secret the key is this process's own. The states already
    used are remembered, for ten minutes, by the server that saw them: a callback cannot
    be replayed there, and the identity provider's codes are single-use everywhere."""

    def __init__(self, secret: bytes | None = None) -> None:
        key = (
            AESGCM.generate_key(bit_length=256)
            if secret is None
            else HKDF(algorithm=SHA256(), length=32, salt=None, info=_AAD).derive(secret)
        )
        self._cipher = AESGCM(key)
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self, settings: Settings, *, redirect_uri: str, next: str) -> tuple[str, str]:
        """The cookie to set, and the identity provider's URL to send the browser to."""
        verifier = secrets.token_urlsafe(48)
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=verifier,
            next=next,
            redirect_uri=redirect_uri,
            started=time.time(),
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
        iv = secrets.token_bytes(12)
        sealed = self._cipher.encrypt(iv, json.dumps(dataclasses.asdict(pending)).encode(), _AAD)
        cookie = base64.urlsafe_b64encode(iv + sealed).decode()
        endpoint = str(settings.oidc_authorization_endpoint)
        separator = "&" if "?" in endpoint else "?"
        return cookie, f"{endpoint}{separator}{query}"

    def finish(self, state: str, cookie: str | None) -> Pending:
        """The sign-in this browser started, for ``state``, usable once."""
        try:
            raw = base64.urlsafe_b64decode((cookie or "").encode())
            pending = Pending(**json.loads(self._cipher.decrypt(raw[:12], raw[12:], _AAD)))
        except (InvalidTag, ValueError, TypeError) as exc:
            raise AuthenticationError("this sign-in was started in another browser") from exc
        if not secrets.compare_digest(pending.state, state):
            raise AuthenticationError("this sign-in was started in another browser")
        now = time.time()
        with self._lock:
            for key in [k for k, at in self._used.items() if now - at > PENDING_SECONDS]:
                del self._used[key]
            if state in self._used or now - pending.started > PENDING_SECONDS:
                raise AuthenticationError("this sign-in expired or was already used; start again")
            if len(self._used) >= MAX_USED:
                self._used.pop(next(iter(self._used)))
            self._used[state] = now
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
