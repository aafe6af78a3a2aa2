"""Authentication, the same for every way in: a credential (an API key ``bl_<id>_<secret>``
or an OIDC bearer token) becomes a :class:`~brightline.access.Principal` whose roles are the
credential's roles that the store also grants (:func:`brightline.access.effective_roles`).

The API, the console and the CLI all call :class:`Authenticator`; none computes roles
itself. Results are cached per credential and the cache is dropped when the store's
grants or key revocations change (:func:`access_version`), never by time alone.

Bootstrapping an empty store (no grants, no keys) is :func:`bootstrap`: the first
principal gets the ``admin`` and ``case-admin`` grants and the first key; it is recorded
in the ledger.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import jwt
from sqlalchemy import func, select

from brightline.access import Principal, Role, effective_roles
from brightline.config import Settings
from brightline.errors import AuthenticationError, ConflictError
from brightline.service.apikeys import check_key_principal, insert_key, resolve_key
from brightline.service.records import bootstrap_record
from brightline.store import Store
from brightline.store.case_models import RoleGrantEvent
from brightline.store.cases import add_grant_event, grant_count, roles_of
from brightline.store.outbox import append_record
from brightline.store.serving_models import ApiKeyRevocationRow, ApiKeyRow

#: What an OIDC subject may contain to become part of a principal name.
_SUB: Final = re.compile(r"[A-Za-z0-9._@+\-|=]{1,96}")
_ALIAS: Final = re.compile(r"[A-Za-z0-9._\-]{1,24}")
_CACHE_LIMIT: Final = 10_000
JWKS_CACHE_SECONDS: Final = 300.0
JWKS_COOLDOWN_SECONDS = 30.0


def oidc_principal(alias: str, sub: str) -> str:
    """The principal name of an OIDC subject: ``oidc:<alias>:<sub>``."""
    if not _ALIAS.fullmatch(alias):
        raise AuthenticationError(f"the OIDC issuer alias {alias!r} is not a valid name")
    if not _SUB.fullmatch(sub):
        raise AuthenticationError(
            "the token's subject cannot name a principal (1–96 of A-Z a-z 0-9 . _ @ + - | =)"
        )
    return f"oidc:{alias}:{sub}"


def access_version(store: Store) -> tuple[int, int]:
    """Changes to grants and key revocations, as a value that grows with each: a cached
    principal is good only while this stays the same."""
    with store.read() as session:
        grants = session.scalar(select(func.max(RoleGrantEvent.seq))) or 0
        revoked = session.scalar(select(func.count()).select_from(ApiKeyRevocationRow)) or 0
    return (int(grants), int(revoked))


class OidcVerifier:
    """Checks bearer JWTs: signature (JWKS), issuer, audience, expiry; maps role claims.

    An https JWKS goes through PyJWT's ``PyJWKClient``: kept for JWKS_CACHE_SECONDS and
    fetched again early (at most once in JWKS_COOLDOWN_SECONDS) when a token names a key
    it does not hold — a rotated key. A JWKS file is read once.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._file: dict[str, jwt.PyJWK] | None = None
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

    def _signing_key(self, token: str) -> jwt.PyJWK:
        """The JWKS key named by the token's ``kid`` (or the only key, for a token
        without one)."""
        kid = str(jwt.get_unverified_header(token).get("kid") or "")
        if self._client is not None and kid:
            return self._client.get_signing_key(kid)  # fetched again for an unknown kid
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
        if self._file is None:
            data = json.loads(Path(str(self._settings.oidc_jwks)).read_text(encoding="utf-8"))
            self._file = {k.get("kid", ""): jwt.PyJWK(k) for k in data.get("keys", [])}
        return self._file

    def claims(self, token: str, *, nonce: str | None = None) -> tuple[str, frozenset[str], float]:
        """The token's principal name, the role names its claims carry and its expiry (a
        POSIX time); with ``nonce``, the token must carry it (an ID token returned to the
        console's sign-in)."""
        s = self._settings
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token).key,
                algorithms=["RS256", "ES256", "EdDSA", "PS256"],
                audience=s.oidc_audience,
                issuer=s.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, OSError, ValueError) as exc:
            raise AuthenticationError(f"invalid bearer token: {exc}") from exc
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise AuthenticationError("the ID token's nonce does not match this sign-in")
        raw = claims.get(s.oidc_roles_claim) or []
        names = [raw] if isinstance(raw, str) else [str(r) for r in raw]
        roles = frozenset(s.oidc_role_map.get(n, n) for n in names)
        name = oidc_principal(s.oidc_issuer_alias, str(claims["sub"]))
        return name, roles, float(claims["exp"])


class Authenticator:
    """Credentials to principals with their effective roles, for every way in."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._oidc = OidcVerifier(settings)
        self._alias = settings.oidc_issuer_alias
        #: token -> (principal, POSIX time until which it may be served from here).
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._version: tuple[int, int] | None = None
        self._lock = threading.Lock()

    @property
    def oidc(self) -> OidcVerifier:
        return self._oidc

    def check_version(self) -> None:
        """Read the store's access version; drop every cached principal if it moved.
        Raises StoreUnavailableError when the database is away."""
        version = access_version(self._store)
        with self._lock:
            if version != self._version:
                self._cache.clear()
                self._version = version

    def invalidate(self) -> None:
        """Forget every cached principal (called after a change made in this process)."""
        with self._lock:
            self._cache.clear()
            self._version = None

    def principal_for(
        self, token: str, *, fresh: bool = True, nonce: str | None = None
    ) -> Principal:
        """The principal behind an API key or an OIDC token, with its effective roles.

        ``fresh`` first checks the store's access version, so that a revoked grant or key
        is refused on the very next request; the decision and bundle routes pass False and
        rely on the server's refresh loop (and on in-process invalidation) instead.
        """
        if fresh:
            self.check_version()
        if nonce is None:
            with self._lock:
                cached = self._cache.get(token)
            # An OIDC token is served from the cache only until it expires.
            if cached is not None and time.time() < cached[1]:
                return cached[0]
        principal, until = self._resolve(token, nonce=nonce)
        if nonce is None:
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[token] = (principal, until)
        return principal

    def _resolve(self, token: str, *, nonce: str | None) -> tuple[Principal, float]:
        until = math.inf
        if token.startswith("bl_"):
            key = resolve_key(self._store, token)
            if key is None:
                raise AuthenticationError("unknown or revoked API key")
            name, carried, credential = key
        elif self._oidc.enabled:
            name, carried, until = self._oidc.claims(token, nonce=nonce)
            credential = f"oidc:{self._alias}"
        else:
            raise AuthenticationError("unknown or revoked API key")
        with self._store.read() as session:
            granted = {r.value for r in roles_of(session, name)}
        return Principal(name, effective_roles(carried, granted), credential), until


def is_empty(store: Store) -> bool:
    """Whether the store has no principal yet: no role grant and no API key."""
    with store.read() as session:
        has_key = session.scalars(select(ApiKeyRow.id).limit(1)).first() is not None
        return not has_key and grant_count(session) == 0


def bootstrap(store: Store, *, principal: str, now: datetime | None = None) -> str:
    """Make the first principal of an empty store (no grants, no keys): grants it
    ``admin`` and ``case-admin`` and creates its key, in the ledger as
    ``principal.bootstrapped``. Returns the key (shown once). ConflictError otherwise."""
    check_key_principal(principal)
    at = (now or datetime.now(UTC)).astimezone(UTC)
    roles = (Role.ADMIN, Role.CASE_ADMIN)
    with store.write() as session:
        has_key = session.scalars(select(ApiKeyRow.id).limit(1)).first() is not None
        if grant_count(session) or has_key:
            raise ConflictError(
                "the store already has principals or keys: bootstrapping is for an empty store "
                "(ask an admin for a key: `brightline apikey create`)"
            )
        grants = [
            add_grant_event(
                session, principal=principal, role=role, kind="grant", actor=principal, at=at
            )
            for role in roles
        ]
        stored, key = insert_key(
            session, principal=principal, roles=roles, created_by=principal, at=at
        )
        append_record(session, bootstrap_record(stored, grants))
    return key
