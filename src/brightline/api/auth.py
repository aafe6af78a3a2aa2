"""Who is calling: API keys (``Authorization: Bearer bl_…`` or ``X-API-Key``) and OIDC
bearer tokens (JWTs checked against the configured issuer, audience and JWKS, role
claims mapped to Brightline roles). Every endpoint names the roles it accepts."""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from fastapi import Request

from brightline.config import Settings
from brightline.errors import BrightlineError
from brightline.service.apikeys import ROLES, Principal, resolve_key
from brightline.store import Store

KEY_CACHE_SECONDS = 5.0
#: An https JWKS is kept this long, and fetched again early (at most once in
#: JWKS_COOLDOWN_SECONDS) when a token names a key it does not hold: a rotated key.
JWKS_CACHE_SECONDS = 300.0
JWKS_COOLDOWN_SECONDS = 30.0


class AuthenticationError(BrightlineError):
    """No credential, or one that is unknown, revoked, expired or badly signed (401)."""


class ForbiddenError(BrightlineError):
    """The credential is valid but its roles do not allow this endpoint (403)."""


class RateLimitedError(BrightlineError):
    """Too many requests from one credential (429)."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """A token bucket per credential."""

    per_minute: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, credential: str) -> None:
        now = time.monotonic()
        rate = self.per_minute / 60.0
        with self._lock:
            bucket = self._buckets.setdefault(credential, _Bucket(float(self.per_minute), now))
            bucket.tokens = min(self.per_minute, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1:
                raise RateLimitedError(f"rate limit of {self.per_minute} requests a minute reached")
            bucket.tokens -= 1


class OidcVerifier:
    """Checks bearer JWTs: signature (JWKS), issuer, audience, expiry; maps role claims."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._keys: dict[str, jwt.PyJWK] | None = None
        source = settings.oidc_jwks or ""
        self._client = (
            jwt.PyJWKClient(
                source,
                lifespan=JWKS_CACHE_SECONDS,
                cooldown_duration=JWKS_COOLDOWN_SECONDS,
                timeout=5,
            )
            if source.startswith("https://")
            else None
        )

    @property
    def enabled(self) -> bool:
        s = self._settings
        return bool(s.oidc_issuer and s.oidc_audience and s.oidc_jwks)

    def _signing_key(self, header: dict[str, Any]) -> jwt.PyJWK:
        """The JWKS key named by a token's ``kid`` (or the only key, for a token without
        one). An https JWKS goes through PyJWKClient, which raises PyJWTErrors; a JWKS
        file is read once."""
        kid = str(header.get("kid") or "")
        if self._client is not None and kid:
            return self._client.get_signing_key(kid)  # refetches for an unknown kid
        keys = (
            {key.key_id or "": key for key in self._client.get_signing_keys()}
            if self._client is not None
            else self._file_keys()
        )
        key = keys.get(kid) or (next(iter(keys.values())) if len(keys) == 1 else None)
        if key is None:
            raise AuthenticationError("the token's signing key is not in the JWKS")
        return key

    def _file_keys(self) -> dict[str, jwt.PyJWK]:
        if self._keys is None:
            data = json.loads(Path(str(self._settings.oidc_jwks)).read_text(encoding="utf-8"))
            self._keys = {k.get("kid", ""): jwt.PyJWK(k) for k in data.get("keys", [])}
        return self._keys

    def principal(self, token: str, *, nonce: str | None = None) -> Principal:
        """The token's principal; with ``nonce``, the token must carry it (an ID token
        returned to the console's sign-in, which cannot then be replayed)."""
        s = self._settings
        try:
            key = self._signing_key(jwt.get_unverified_header(token))
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "ES256", "EdDSA", "PS256"],
                audience=s.oidc_audience,
                issuer=s.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid bearer token: {exc}") from exc
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise AuthenticationError("the ID token's nonce does not match this sign-in")
        raw = claims.get(s.oidc_roles_claim) or []
        names = [raw] if isinstance(raw, str) else [str(r) for r in raw]
        roles = frozenset(s.oidc_role_map.get(n, n) for n in names) & ROLES
        return Principal(str(claims["sub"]), roles, f"oidc:{claims['sub']}")


class Authenticator:
    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._oidc = OidcVerifier(settings)
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def authenticate(self, request: Request) -> Principal:
        token = request.headers.get("x-api-key")
        if token is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and value:
                token = value.strip()
        if not token:
            raise AuthenticationError("credentials required: an API key or an OIDC bearer token")
        return self.principal_for(token)

    @property
    def oidc(self) -> OidcVerifier:
        return self._oidc

    def principal_for(self, token: str) -> Principal:
        """The principal behind an API key or an OIDC token (the console signs in with
        either, and checks it again on every request so that revocation applies)."""
        if token.startswith("bl_"):
            return self._key(token)
        if self._oidc.enabled:
            return self._oidc.principal(token)
        raise AuthenticationError("unknown or revoked API key")

    def _key(self, token: str) -> Principal:
        # Cached briefly so that gateway traffic does not hit the database per call;
        # a revocation takes effect within KEY_CACHE_SECONDS.
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(token)
        if cached is None or now - cached[0] > KEY_CACHE_SECONDS:
            principal = resolve_key(self._store, token)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[token] = (now, principal)
        else:
            principal = cached[1]
        if principal is None:
            raise AuthenticationError("unknown or revoked API key")
        return principal


def require(
    *roles: str, limited: bool = False
) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates and requires one of ``roles``; ``limited`` applies
    the per-credential rate limit (admin and case endpoints)."""
    allowed = frozenset(roles)

    # Async, so that deciding needs no hop to a thread; a key is looked up in the
    # database at most once per KEY_CACHE_SECONDS, which is the only blocking part.
    async def dependency(request: Request) -> Principal:
        state = request.app.state.brightline
        principal: Principal = state.authenticator.authenticate(request)
        if not principal.has_any(allowed):
            raise ForbiddenError(
                f"{principal.name} lacks a role for this endpoint (needs one of: "
                f"{', '.join(sorted(allowed))})"
            )
        if limited:
            state.limiter.take(principal.credential)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{'_or_'.join(sorted(r.replace('-', '_') for r in allowed))}"
    return dependency
