"""API keys made before keys were logged get their outbox events, so the ledger logs them.

Creating a key now writes an ``apikey.created`` outbox event and revoking one an
``apikey.revoked`` event (``brightline.service.records``), and the store audit of
``brightline ledger verify`` requires every key and revocation to have its event. Keys
made before that have none; this revision appends, for every key no ``apikey.created`` or
``principal.bootstrapped`` event names, its ``apikey.created`` event (keys in the order
they were created), then for every revocation no ``apikey.revoked`` event names, its
``apikey.revoked`` event. Each payload and time is what the writer would have written
then (the key's id, principal, roles, creator and time; never its secret or the secret's
hash), so the event's time is the key's, earlier than the events logged before it; the
next ledger sync logs them, after everything already logged. Nothing stored changes.

The downgrade removes nothing: outbox events are never deleted (the ledger may have
logged them), and the older code ignores them.

Revision ID: 0008_api_key_events
Revises: 0007_ledger_logs
Create Date: 2026-12-20
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from brightline.policy import format_time
from brightline.store.models import UtcDateTime
from brightline.store.outbox import canonical_json

revision = "0008_api_key_events"
down_revision = "0007_ledger_logs"
branch_labels = None
depends_on = None

# The tables as this revision reads and writes them (not the models, which may move on).
_KEYS = sa.table(
    "api_keys",
    sa.column("id", sa.String()),
    sa.column("principal", sa.String()),
    sa.column("roles", sa.Text()),
    sa.column("created_at", UtcDateTime()),
    sa.column("created_by", sa.String()),
)
_REVOCATIONS = sa.table(
    "api_key_revocations",
    sa.column("key_id", sa.String()),
    sa.column("revoked_at", UtcDateTime()),
    sa.column("revoked_by", sa.String()),
)
_OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.Integer()),
    sa.column("event_type", sa.String()),
    sa.column("payload", sa.Text()),
    sa.column("created_at", UtcDateTime()),
)


def _keys_named(connection: sa.Connection, *event_types: str) -> set[str]:
    """The key ids the payloads of the outbox events of ``event_types`` name."""
    rows = connection.execute(
        sa.select(_OUTBOX.c.payload).where(_OUTBOX.c.event_type.in_(event_types))
    )
    named = set()
    for (payload,) in rows:
        data = json.loads(payload)
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            named.add(data["key"])
    return named


def _event(event_type: str, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"event_type": event_type, "payload": canonical_json(payload), "created_at": at}


def upgrade() -> None:
    connection = op.get_bind()
    logged = _keys_named(connection, "apikey.created", "principal.bootstrapped")
    events = []
    keys = connection.execute(
        sa.select(_KEYS).order_by(_KEYS.c.created_at, _KEYS.c.id)  # as they were created
    )
    for key_id, principal, roles, created_at, created_by in keys:
        if key_id not in logged:
            payload = {
                "key": key_id,
                "principal": principal,
                "roles": json.loads(roles),
                "actor": created_by,
                "at": format_time(created_at),
            }
            events.append(_event("apikey.created", payload, created_at))
    revoked = _keys_named(connection, "apikey.revoked")
    revocations = connection.execute(
        sa.select(_REVOCATIONS).order_by(_REVOCATIONS.c.revoked_at, _REVOCATIONS.c.key_id)
    )
    for key_id, revoked_at, revoked_by in revocations:
        if key_id not in revoked:
            payload = {"key": key_id, "actor": revoked_by, "at": format_time(revoked_at)}
            events.append(_event("apikey.revoked", payload, revoked_at))
    for event in events:  # one at a time: ids in this order on every database
        connection.execute(sa.insert(_OUTBOX).values(**event))


def downgrade() -> None:
    """Nothing: outbox events are never deleted."""
