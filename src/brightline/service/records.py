"""The outbox event each history row must have: one function per history table.

A state change writes its history row(s) and, in the same transaction, one outbox event,
which becomes a ledger entry whose commitment binds its payload (the entry's private
record). The writer builds that event from the row with the function below, and the
store audit (``brightline.service.store_audit``) builds it again from the stored row and
compares: so a row edited, or an outbox event edited, inserted or deleted, shows as a
difference. Each function is the only place that says what its table's events hold.

``world_version`` is the newest world imported before the change (None before any): the
writer reads it from the store, the audit from the ``world.imported`` events before the
event in the outbox.

Outbox events with no history table of their own: ``transparency.released`` (the event is
the release's only record) — the audit checks it against its ledger entry only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from brightline.cases import CaseEvent, SourceKind
from brightline.policy import format_time
from brightline.store import StoredEvent
from brightline.store.cases import StoredGrant, StoredGuardApproval, StoredPlan, StoredSignal
from brightline.store.history import StoredKey, StoredRevocation, StoredWorldVersion
from brightline.store.outbox import OutboxRecord

#: The types an API key's life writes (public form: type and day only).
KEY_CREATED: Final = "apikey.created"
KEY_REVOKED: Final = "apikey.revoked"
BOOTSTRAPPED: Final = "principal.bootstrapped"


def restriction_record(event: StoredEvent, *, world_version: int | None) -> OutboxRecord:
    """``restriction.<kind>`` of a restriction event; a proposal's carries its body."""
    payload: dict[str, Any] = {
        "event": event.seq,
        "restriction": event.restriction_id,
        "revision": event.revision,
        "kind": event.kind,
        "actor": event.actor,
        "at": format_time(event.at),
        "why": event.why,
        "case": event.case_id,
        "world_version": world_version,
    }
    if event.body is not None:
        payload["restriction_body"] = dict(event.body)
    return OutboxRecord(f"restriction.{event.kind}", payload, event.at)


def guard_record(
    approval: StoredGuardApproval, plan: StoredPlan, *, world_version: int | None
) -> OutboxRecord:
    """``restriction.guard-approved``, with the reasons its plan exceeded the limits."""
    payload = {
        "restriction": approval.restriction_id,
        "plan": approval.plan_id,
        "actor": approval.approver,
        "at": format_time(approval.at),
        "reasons": plan.body["blast_radius"]["reasons"],
        "world_version": world_version,
    }
    return OutboxRecord("restriction.guard-approved", payload, approval.at)


def case_record(event: CaseEvent, *, world_version: int | None) -> OutboxRecord:
    """``case.<move>`` of a case event (its ``seq`` plays no part: the writer has none yet)."""
    payload = {
        "case": event.case_id,
        "revision": event.revision,
        "kind": event.move.value,
        "actor": event.actor,
        "at": format_time(event.at),
        "data": dict(event.data),
        "world_version": world_version,
    }
    return OutboxRecord(f"case.{event.move.value}", payload, event.at)


def signal_record(signal: StoredSignal, *, world_version: int | None) -> OutboxRecord:
    """``signal.received``: never the summary, references or who reported it; the source
    only as ``person`` or ``detector``."""
    payload = {
        "signal": signal.ref,
        "source": SourceKind(signal.source_kind).public,
        "alert": signal.alert_id,
        "nodes": list(signal.nodes),
        "policies": list(signal.policies),
        "at": format_time(signal.received_at),
        "world_version": world_version,
    }
    return OutboxRecord("signal.received", payload, signal.received_at)


def grant_record(grant: StoredGrant) -> OutboxRecord:
    """``principal.role-granted`` or (sic) ``principal.role-revokeed``."""
    payload = {
        "principal": grant.principal,
        "role": grant.role,
        "actor": grant.actor,
        "at": format_time(grant.at),
    }
    if grant.node is not None:  # a customer grant's binding
        payload["node"] = grant.node
    return OutboxRecord(f"principal.role-{grant.kind}ed", payload, grant.at)


def bootstrap_record(key: StoredKey, grants: Sequence[StoredGrant]) -> OutboxRecord:
    """``principal.bootstrapped``: the store's first key and the grants made with it (one
    per role of the key, in the order granted)."""
    payload = {
        "principal": key.principal,
        "roles": [g.role for g in grants],
        "key": key.id,
        "at": format_time(key.created_at),
    }
    return OutboxRecord(BOOTSTRAPPED, payload, key.created_at)


def key_created_record(key: StoredKey) -> OutboxRecord:
    """``apikey.created``: the key's public id, never its secret or the secret's hash."""
    payload = {
        "key": key.id,
        "principal": key.principal,
        "roles": list(key.roles),
        "actor": key.created_by,
        "at": format_time(key.created_at),
    }
    return OutboxRecord(KEY_CREATED, payload, key.created_at)


def key_revoked_record(revocation: StoredRevocation) -> OutboxRecord:
    payload = {
        "key": revocation.key_id,
        "actor": revocation.revoked_by,
        "at": format_time(revocation.revoked_at),
    }
    return OutboxRecord(KEY_REVOKED, payload, revocation.revoked_at)


def world_record(version: StoredWorldVersion, *, counts: Mapping[str, int]) -> OutboxRecord:
    """``world.imported``; ``counts`` are the changes from the previous version
    (``brightline.service.world_diff``)."""
    payload = {
        "version": version.id,
        "digest": version.digest,
        "source": version.source,
        "actor": version.actor,
        "counts": dict(counts),
    }
    return OutboxRecord("world.imported", payload, version.created_at)
