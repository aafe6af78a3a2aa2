"""API keys: created, listed and revoked from the CLI; stored hashed; resolved per request.

A key reads ``bl_<id>_<secret>``: the id is public (it names the key in lists and
logs), the secret is 256 random bits shown once and stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select

from brightline.cases.roles import Role
from brightline.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from brightline.store import Store
from brightline.store.serving_models import ApiKeyRevocationRow, ApiKeyRow

#: Roles beyond the review roles: ``admin`` manages the world and restrictions'
#: paperwork; ``enforcement-point`` may only ask for decisions and bundles and report
#: decision logs.
ADMIN: Final = "admin"
ENFORCEMENT_POINT: Final = "enforcement-point"
ROLES: Final = frozenset({*(r.value for r in Role), ADMIN, ENFORCEMENT_POINT})
_PREFIX: Final = "bl_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and with which roles."""

    name: str
    roles: frozenset[str]
    credential: str

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: str
    principal: str
    roles: tuple[str, ...]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(sorted(set(roles)))
    unknown = [r for r in chosen if r not in ROLES]
    if not chosen or unknown:
        raise InvalidInputError(
            Problem(
                "roles",
                f"unknown role(s) {', '.join(unknown)}; roles are: {', '.join(sorted(ROLES))}"
                if unknown
                else "give at least one role",
            )
        )
    return chosen


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    store: Store,
    *,
    principal: str,
    roles: Iterable[str],
    created_by: str,
    now: datetime | None = None,
) -> tuple[ApiKeyInfo, str]:
    """Create a key; returns its description and the key itself, which is never shown again."""
    if not principal.strip():
        raise InvalidInputError(Problem("principal", "must not be empty"))
    chosen = check_roles(roles)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    at = now or datetime.now(UTC)
    with store.write() as session:
        session.add(
            ApiKeyRow(
                id=key_id,
                principal=principal,
                roles=json.dumps(list(chosen)),
                secret_hash=_hash(secret),
                created_at=at,
                created_by=created_by,
            )
        )
    info = ApiKeyInfo(key_id, principal, chosen, at, created_by, None)
    return info, f"{_PREFIX}{key_id}_{secret}"


def list_keys(store: Store) -> list[ApiKeyInfo]:
    with store.read() as session:
        revoked = {r.key_id: r.revoked_at for r in session.scalars(select(ApiKeyRevocationRow))}
        return [
            ApiKeyInfo(
                row.id,
                row.principal,
                tuple(json.loads(row.roles)),
                row.created_at,
                row.created_by,
                revoked.get(row.id),
            )
            for row in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
        ]


def revoke_key(store: Store, key_id: str, *, by: str, now: datetime | None = None) -> None:
    with store.write() as session:
        if session.get(ApiKeyRow, key_id) is None:
            raise NotFoundError(f"no API key {key_id!r}")
        if session.get(ApiKeyRevocationRow, key_id) is not None:
            raise ConflictError(f"API key {key_id!r} is already revoked")
        session.add(
            ApiKeyRevocationRow(key_id=key_id, revoked_at=now or datetime.now(UTC), revoked_by=by)
        )


def resolve_key(store: Store, presented: str) -> Principal | None:
    """The principal of a presented key, or None if it is malformed, unknown or revoked."""
    if not presented.startswith(_PREFIX):
        return None
    key_id, sep, secret = presented[len(_PREFIX) :].partition("_")
    if not sep or not key_id or not secret or len(key_id) > 32:
        return None
    with store.read() as session:
        row = session.get(ApiKeyRow, key_id)
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
            return None
        if session.get(ApiKeyRevocationRow, key_id) is not None:
            return None
        return Principal(row.principal, frozenset(json.loads(row.roles)), f"key:{key_id}")


def has_keys(store: Store) -> bool:
    with store.read() as session:
        return session.scalars(select(ApiKeyRow.id).limit(1)).first() is not None
