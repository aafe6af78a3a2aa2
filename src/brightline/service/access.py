"""Authentication, the same for every way in: a credential (an API key ``bl_<id>_<secret>``
or an OIDC bearer token) becomes a :class:`~brightline.access.Principal` whose roles are the
credential's roles that the store also grants (:func:`brightline.access.effective_roles`).

The API, the console and the CLI all call :class:`Authenticator`; none computes roles
itself. Credentials once checked are kept in memory (an OIDC token until it expires),
so that the decision and bundle routes answer without the database, even while it is
away. When the store's grants or key revocations change (:func:`access_version`), every
kept credential is checked again in one read: a revoked key is forgotten, a changed
grant changes its principal's roles.

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
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import jwt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brightline.access import Principal, Role, effective_roles
from brightline.config import Settings
from brightline.errors import AuthenticationError, ConflictError
from brightline.service.apikeys import check_key_principal, insert_key, resolve_key
from brightline.service.records import bootstrap_record
from brightline.store import Store
from brightline.store.case_models import RoleGrantEvent
from brightline.store.cases import (
    add_grant_event,
    all_bound_nodes,
    all_grants,
    bound_node,
    grant_count,
    roles_of,
)
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
        return _access_version(session)


def _access_version(session: Session) -> tuple[int, int]:
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


@dataclass(frozen=True, slots=True)
class CheckedCredential:
    """A credential checked once, with what checking it again needs (and no secret: a
    console session keeps this, never the key or token)."""

    principal: Principal
    #: The roles the credential itself carries (the key's, or the token's claims).
    carried: frozenset[str]
    #: The API key's id (revocations name it); None for an OIDC token.
    key_id: str | None
    #: POSIX time until which it may be served from memory (an OIDC token's expiry).
    until: float


class Authenticator:
    """Credentials to principals with their effective roles, for every way in."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._oidc = OidcVerifier(settings)
        self._alias = settings.oidc_issuer_alias
        self._known: dict[str, CheckedCredential] = {}
        self._version: tuple[int, int] | None = None
        #: Moves with every re-check: a credential resolved across one is not kept, as
        #: it may have been read before the change the re-check applied.
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def oidc(self) -> OidcVerifier:
        return self._oidc

    def check_version(self) -> None:
        """Read the store's access version; if it moved, check every known credential
        again in the same read. Raises StoreUnavailableError when the database is away
        (the known credentials stay as they were)."""
        with self._store.read() as session:
            version = _access_version(session)
            with self._lock:
                if version == self._version:
                    return
                self._generation += 1
                known = dict(self._known)
            revoked = set(session.scalars(select(ApiKeyRevocationRow.key_id)))
            grants = all_grants(session)
            bound = all_bound_nodes(session)
        rechecked = {
            token: replace(
                entry,
                principal=_principal(
                    entry.principal.name,
                    entry.carried,
                    {r.value for r in grants.get(entry.principal.name.casefold(), ())},
                    entry.principal.credential,
                    bound.get(entry.principal.name.casefold()),
                ),
            )
            for token, entry in known.items()
            if entry.key_id is None or entry.key_id not in revoked
        }
        with self._lock:
            self._known = rechecked
            self._version = version

    def invalidate(self) -> None:
        """Check every known credential again at the next :meth:`check_version` (called
        after a change made in this process, which then checks at once)."""
        with self._lock:
            self._version = None
            self._generation += 1

    def known(self, token: str) -> Principal | None:
        """The principal of a credential already checked, from memory: never waits for
        the database. None if this credential has not been checked (or has expired)."""
        with self._lock:
            entry = self._known.get(token)
        if entry is None or time.time() >= entry.until:
            return None
        return entry.principal

    def principal_for(
        self, token: str, *, fresh: bool = True, nonce: str | None = None
    ) -> Principal:
        """The principal behind an API key or an OIDC token, with its effective roles.

        ``fresh`` first checks the store's access version, so that a revoked grant or key
        is refused on the very next request; the decision and bundle routes take known
        credentials from :meth:`known` instead and rely on the server's refresh loop.
        """
        if fresh:
            self.check_version()
        if nonce is None:
            principal = self.known(token)
            if principal is not None:
                return principal
        with self._lock:
            generation = self._generation
        entry = self._resolve(token, nonce=nonce)
        if nonce is None:
            with self._lock:
                if generation == self._generation:
                    if len(self._known) >= _CACHE_LIMIT:  # the oldest goes
                        del self._known[next(iter(self._known))]
                    self._known[token] = entry
        return entry.principal

    def check(self, token: str, *, nonce: str | None = None) -> CheckedCredential:
        """Check a credential against the store (and its issuer), not from memory: for
        signing in to the console, whose session keeps the result."""
        return self._resolve(token, nonce=nonce)

    def recheck(self, checked: CheckedCredential) -> Principal:
        """The principal of a credential checked before, as the store sees it now: its
        effective roles from today's grants; AuthenticationError once an API key is
        revoked or a token has expired. One read."""
        if time.time() >= checked.until:
            raise AuthenticationError("the sign-in's token has expired")
        name = checked.principal.name
        with self._store.read() as session:
            if checked.key_id is not None and (
                session.get(ApiKeyRow, checked.key_id) is None
                or session.get(ApiKeyRevocationRow, checked.key_id) is not None
            ):
                raise AuthenticationError("unknown or revoked API key")
            granted = {r.value for r in roles_of(session, name)}
            node = bound_node(session, name)
        return _principal(name, checked.carried, granted, checked.principal.credential, node)

    def _resolve(self, token: str, *, nonce: str | None) -> CheckedCredential:
        until = math.inf
        key_id = None
        if token.startswith("bl_"):
            key = resolve_key(self._store, token)
            if key is None:
                raise AuthenticationError("unknown or revoked API key")
            name, carried, credential = key
            key_id = credential.removeprefix("key:")
        elif self._oidc.enabled:
            name, carried, until = self._oidc.claims(token, nonce=nonce)
            credential = f"oidc:{self._alias}"
        else:
            raise AuthenticationError("unknown or revoked API key")
        with self._store.read() as session:
            granted = {r.value for r in roles_of(session, name)}
            node = bound_node(session, name)
        principal = _principal(name, carried, granted, credential, node)
        return CheckedCredential(principal, frozenset(carried), key_id, until)


def _principal(
    name: str, carried: Iterable[str], granted: Iterable[str], credential: str, node: str | None
) -> Principal:
    """The principal with its effective roles, and its customer binding only while it
    may use the ``customer`` role."""
    roles = effective_roles(carried, granted)
    return Principal(name, roles, credential, node if Role.CUSTOMER in roles else None)


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
