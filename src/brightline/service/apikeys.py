"""API keys: created, listed and revoked from the CLI; stored hashed; resolved per request.

Creating and revoking a key writes an outbox event (``apikey.created``, ``apikey.revoked``:
``brightline.service.records``), so the ledger logs who may act; never the secret.

A key reads ``bl_<id>_<secret>``: the id is public (it names the key in lists and
logs), the secret is 256 random bits shown once and stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from brightline.access import KEY_PRINCIPAL, Action, Principal, Role, authorize
from brightline.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from brightline.service.records import key_created_record, key_revoked_record
from brightline.store import Store
from brightline.store.history import StoredKey, StoredRevocation
from brightline.store.outbox import append_record
from brightline.store.serving_models import ApiKeyRevocationRow, ApiKeyRow

_PREFIX: Final = "bl_"


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: str
    principal: str
    roles: tuple[str, ...]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(sorted({str(r) for r in roles}))
    known = sorted(r.value for r in Role)
    unknown = [r for r in chosen if r not in known]
    if not chosen or unknown:
        raise InvalidInputError(
            Problem(
                "roles",
                f"unknown role(s) {', '.join(unknown)}; roles are: {', '.join(known)}"
                if unknown
                else "give at least one role",
            )
        )
    return chosen


def check_key_principal(name: str) -> str:
    """Key principals cannot contain ``:``, which only OIDC principals (``oidc:…``) carry."""
    if not re.fullmatch(KEY_PRINCIPAL, name):
        raise InvalidInputError(
            Problem(
                "principal",
                f"{name!r} is not a key principal name (1–128 of A-Z a-z 0-9 . _ @ + -)",
            )
        )
    return name


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def insert_key(
    session: Session,
    *,
    principal: str,
    roles: Iterable[str],
    created_by: str,
    at: datetime,
) -> tuple[StoredKey, str]:
    """Store a new key in ``session``; returns it as stored and the key itself. The
    caller writes its outbox event (``apikey.created``, or the bootstrap's)."""
    chosen = check_roles(roles)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
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
    session.flush()
    return StoredKey(key_id, principal, chosen, at, created_by), f"{_PREFIX}{key_id}_{secret}"


def create_key(
    store: Store,
    *,
    principal: str,
    roles: Iterable[str],
    actor: Principal,
    now: datetime | None = None,
) -> tuple[ApiKeyInfo, str]:
    """Create a key (admins only); returns its description and the key itself, which is
    never shown again. The key's roles limit what it may do; the principal still needs
    the store's grants for each (``brightline principal grant``)."""
    authorize(actor, Action.CREATE_KEY)
    check_key_principal(principal)
    chosen = check_roles(roles)
    at = now or datetime.now(UTC)
    with store.write() as session:
        stored, key = insert_key(
            session, principal=principal, roles=chosen, created_by=actor.name, at=at
        )
        append_record(session, key_created_record(stored))
    return ApiKeyInfo(stored.id, principal, chosen, at, actor.name, None), key


def list_keys(store: Store, *, actor: Principal) -> list[ApiKeyInfo]:
    authorize(actor, Action.LIST_KEYS)
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


def revoke_key(store: Store, key_id: str, *, actor: Principal, now: datetime | None = None) -> None:
    """Revoke a key (admins only); it is refused from the next request on."""
    authorize(actor, Action.REVOKE_KEY)
    with store.write() as session:
        if session.get(ApiKeyRow, key_id) is None:
            raise NotFoundError(f"no API key {key_id!r}")
        if session.get(ApiKeyRevocationRow, key_id) is not None:
            raise ConflictError(f"API key {key_id!r} is already revoked")
        revocation = StoredRevocation(key_id, now or datetime.now(UTC), actor.name)
        session.add(
            ApiKeyRevocationRow(
                key_id=key_id, revoked_at=revocation.revoked_at, revoked_by=actor.name
            )
        )
        session.flush()
        append_record(session, key_revoked_record(revocation))


def resolve_key(store: Store, presented: str) -> tuple[str, frozenset[str], str] | None:
    """The principal name, the key's roles and the credential name (``key:<id>``) of a
    presented key, or None if it is malformed, unknown or revoked."""
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
        return row.principal, frozenset(json.loads(row.roles)), f"key:{key_id}"


def has_keys(store: Store) -> bool:
    with store.read() as session:
        return session.scalars(select(ApiKeyRow.id).limit(1)).first() is not None
