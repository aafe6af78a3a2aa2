"""Intake: reports from people and alerts from detection become signals; principals get roles.

A report's author is stored apart from the report (``reporter_identities``), sealed
under the data directory's key (``brightline.store.secrets``), and only the case-admin
role can read it; an anonymous report has none and is a signal like any
other. The outbox event of a new signal carries no reporter, not even what kind of
source it was (an employee report is the most retaliation-sensitive fact there is).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from brightline.access import Principal, authorize_grant, unknown_node
from brightline.cases import (
    PUBLIC_REPORTER,
    Action,
    PublicReport,
    Reference,
    ReporterIdentity,
    Role,
    Signal,
    SourceKind,
    authorize,
    check_document,
    receipt_hash,
)
from brightline.config import Settings
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.service.cases import check_principal, now_utc, require
from brightline.service.records import grant_record, signal_record
from brightline.store import Store, latest_world
from brightline.store.cases import (
    StoredSignal,
    add_grant_event,
    add_signal,
    all_bound_nodes,
    all_grants,
    bound_node,
    get_signal,
    reporter_identity,
    roles_of,
    signal_by_alert,
)
from brightline.store.outbox import append_record
from brightline.store.public_reports import add_document, add_public_report

#: Who records reports from people: the intake channel, not a person.
INTAKE: Final = "intake"
#: Who records reports filed through the public channel.
PUBLIC: Final = "public"
#: Random bytes in a receipt: 256 bits, so that no guess finds one.
RECEIPT_BYTES: Final = 32


def submit_report(
    store: Store,
    signal: Signal,
    *,
    actor: Principal,
    identity: ReporterIdentity | None = None,
    now: datetime | None = None,
) -> StoredSignal:
    """Record a report from a person, as received by ``actor`` (intake staff); anyone may
    report, and ``identity`` None is anonymous.

    The nodes must exist in the stored world (an unknown node is refused, not ignored).
    """
    authorize(actor, Action.SUBMIT_REPORT)
    if signal.source_kind is SourceKind.DETECTOR:
        raise InvalidInputError(Problem("source", "detector signals come from alerts"))
    if signal.source_kind is SourceKind.PUBLIC:
        raise InvalidInputError(Problem("source", "public reports come through /report"))
    if signal.source_kind is SourceKind.ANONYMOUS and identity is not None:
        raise InvalidInputError(Problem("reporter", "an anonymous report names no reporter"))
    return _add(store, signal, identity=identity, recorded_by=INTAKE, now=now)


def file_public_report(
    store: Store,
    settings: Settings,
    report: PublicReport,
    *,
    document: bytes | None = None,
    now: datetime | None = None,
) -> str:
    """Record a report filed through the public channel, by anyone, signed in or not;
    its receipt (shown once: the store keeps its hash only).

    The policy must be one the deployment names (``service.notices``); the document, if
    any, at most 10 MiB (TooLargeError), is sealed; the contact, if any, is stored as
    the reporter's identity, which only case admins read (``show_reporter``).
    """
    from brightline.service.notices import notice_of

    known = notice_of(settings).policy_names
    if report.policy not in known:
        raise InvalidInputError(
            Problem("policy", f"{report.policy!r} is not one of: {', '.join(sorted(known))}")
        )
    if document is not None:
        check_document(len(document))
    signal = Signal(
        SourceKind.PUBLIC, (), (report.policy,), report.summary, references=report.references
    )
    identity = None
    if report.contact is not None:
        identity = ReporterIdentity(PUBLIC_REPORTER, contact=report.contact)
    receipt = secrets.token_urlsafe(RECEIPT_BYTES)

    def extra(session: Session, stored: StoredSignal) -> None:
        add_public_report(
            session, stored.id, receipt_hash=receipt_hash(receipt), subject=report.subject
        )
        if document:
            digest = hashlib.sha256(document).hexdigest()
            add_document(session, stored.id, document, sha256=digest, secrets=store.secrets)

    _add(store, signal, identity=identity, recorded_by=PUBLIC, now=now, extra=extra)
    return receipt


def signal_from_alert(
    store: Store, alert: Mapping[str, Any], *, actor: Principal, now: datetime | None = None
) -> StoredSignal:
    """Turn a detection alert (a line of ``alerts.jsonl``) into a signal, once per alert id."""
    try:
        alert_id = str(alert["id"])
        node = str(alert["node"])
        policy = str(alert["policy"])
        rules = ", ".join(str(r) for r in alert.get("rules", []))
        summary = (
            f"detection alert {alert_id} from pack {alert.get('pack')}: score "
            f"{alert.get('score')} over threshold {alert.get('threshold')} "
            f"({rules}), {alert.get('window_start')} to {alert.get('window_end')}"
            + alert_context_text(alert)
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(Problem("alert", f"not a detection alert: {exc}")) from exc
    with store.read() as session:
        require(actor, Action.OPEN_CASE)
        existing = signal_by_alert(session, alert_id)
    if existing is not None:
        return existing
    signal = Signal(
        source_kind=SourceKind.DETECTOR,
        nodes=(node,),
        policies=(policy,),
        summary=summary,
        alert_id=alert_id,
    )
    return _add(store, signal, identity=None, recorded_by=actor.name, now=now)


def alert_context_text(alert: Mapping[str, Any]) -> str:
    """Where a localized or evasion alert sits, in words: the node and its customer, the
    ancestors' and siblings' scores, the shares of the customer's values the node
    carries, and for evasion the restriction, its case and where the usage went. Scores
    and shares only (an alert holds no usage rows, and no content ever)."""
    context = alert.get("context") or {}
    if not isinstance(context, Mapping):
        raise TypeError("context is not an object")
    node, customer = str(alert["node"]), str(alert.get("customer") or "")
    parts: list[str] = []
    if customer and customer != node:
        parts.append(f"on {alert.get('node_kind') or 'node'} {node} of customer {customer}")
    ancestors = context.get("ancestors") or []
    if ancestors:
        parts.append(
            "ancestors' scores " + ", ".join(f"{a['node']} {a['score']:g}" for a in ancestors)
        )
    siblings = context.get("siblings") or []
    if siblings:
        parts.append(
            "siblings' scores " + ", ".join(f"{s['node']} {s['score']:g}" for s in siblings)
        )
    shares = context.get("shares") or {}
    if shares and customer != node:
        carried = [
            f"{rule} {name} {share:.0%}"
            for rule, values in sorted(shares.items())
            for name, share in sorted(values.items())
        ]
        parts.append("share of the customer's values: " + ", ".join(carried))
    evasion = context.get("evasion")
    if isinstance(evasion, Mapping):
        went = evasion.get("went") or {}
        parts.append(
            f"evasion of restriction {evasion.get('restriction')} (case "
            f"{evasion.get('case') or 'none'}): usage moved to {node}"
            + (f", regions {', '.join(went.get('regions', []))}" if went.get("regions") else "")
            + (f", services {', '.join(went.get('services', []))}" if went.get("services") else "")
        )
    return "; " + "; ".join(parts) if parts else ""


def signals_from_alerts(
    store: Store,
    settings: Settings,
    alert_ids: Sequence[str],
    *,
    actor: Principal,
    alerts_file: Path | None = None,
) -> list[str]:
    """The signals of detection alerts (``<data dir>/alerts.jsonl`` by default), made once
    per alert id; their refs, to open a case with or attach to one."""
    from brightline.service.detection import ALERTS_FILE

    path = alerts_file or settings.data_dir / ALERTS_FILE
    return [signal_from_alert(store, find_alert(path, a), actor=actor).ref for a in alert_ids]


def find_alert(path: Path, alert_id: str) -> Mapping[str, Any]:
    """One alert of an alerts file, by id."""
    from brightline.detection import read_alerts

    for item in read_alerts(path):
        if item.get("id") == alert_id:
            return item
    raise NotFoundError(f"no alert {alert_id!r} in {path}")


def _add(
    store: Store,
    signal: Signal,
    *,
    identity: ReporterIdentity | None,
    recorded_by: str,
    now: datetime | None,
    extra: Callable[[Session, StoredSignal], None] | None = None,
) -> StoredSignal:
    at = now_utc(now)
    with store.write() as session:
        stored_world = latest_world(session)
        if stored_world is None:
            raise NotFoundError("no world in the store yet: run `brightline world import` first")
        unknown = [n for n in signal.nodes if n not in stored_world.world.directory]
        if unknown:
            raise InvalidInputError(Problem("nodes", f"unknown nodes: {', '.join(unknown)}"))
        stored = add_signal(
            session,
            at=at,
            source_kind=signal.source_kind.value,
            nodes=signal.nodes,
            policies=signal.policies,
            summary=signal.summary,
            references=[r.to_json() for r in signal.references],
            alert_id=signal.alert_id,
            recorded_by=recorded_by,
            identity=identity,
            secrets=store.secrets,
        )
        if extra is not None:
            extra(session, stored)
        append_record(session, signal_record(stored, world_version=stored_world.version))
        return stored


def show_reporter(store: Store, signal_ref: str, *, actor: Principal) -> ReporterIdentity | None:
    """Who reported a signal (None if anonymous); case admins only."""
    from brightline.service.cases import parse_signal_ref

    with store.read() as session:
        require(actor, Action.VIEW_REPORTER)
        signal = get_signal(session, parse_signal_ref(signal_ref))
        if signal is None:
            raise NotFoundError(f"no signal {signal_ref!r}")
        return reporter_identity(session, signal.id, store.secrets)


# -- principals -----------------------------------------------------------------------------


def grant_role(
    store: Store,
    principal: str,
    role: Role,
    *,
    actor: Principal,
    node: str | None = None,
    now: datetime | None = None,
) -> frozenset[Role]:
    """Grant ``role`` (admins and case admins; see ``brightline.access.authorize_grant``).
    Recorded in the ledger. An empty store is bootstrapped first
    (``brightline.service.access.bootstrap``).

    ``customer`` is granted bound to ``node`` (a node of the current world), and only it:
    granting it again with another node moves the binding."""
    return _grant(store, principal, role, actor=actor, kind="grant", node=node, now=now)


def revoke_role(
    store: Store, principal: str, role: Role, *, actor: Principal, now: datetime | None = None
) -> frozenset[Role]:
    return _grant(store, principal, role, actor=actor, kind="revoke", node=None, now=now)


def _grant(
    store: Store,
    principal: str,
    role: Role,
    *,
    actor: Principal,
    kind: str,
    node: str | None,
    now: datetime | None,
) -> frozenset[Role]:
    check_principal(principal, "PRINCIPAL")
    action = Action.GRANT_ROLES if kind == "grant" else Action.REVOKE_ROLES
    authorize_grant(actor, action, target=principal, role=role)
    binds = kind == "grant" and role is Role.CUSTOMER
    if binds and not node:
        raise InvalidInputError(Problem("node", "a customer grant names the node it binds to"))
    if not binds and node is not None:
        raise InvalidInputError(Problem("node", f"only a customer grant binds a node, not {role}"))
    at = now_utc(now)
    with store.write() as session:
        held = roles_of(session, principal)
        if binds:
            stored = latest_world(session)
            if stored is None or node not in stored.world.directory:
                raise NotFoundError(unknown_node(str(node)))
            if bound_node(session, principal) == node:
                return held
        elif (role in held) == (kind == "grant"):
            return held
        grant = add_grant_event(
            session, principal=principal, role=role, kind=kind, actor=actor.name, at=at, node=node
        )
        append_record(session, grant_record(grant))
        return roles_of(session, principal)


@dataclass(frozen=True, slots=True)
class Holder:
    """A principal holding roles now; ``node``: the node its ``customer`` grant binds it
    to (None without one)."""

    principal: str
    roles: frozenset[Role]
    node: str | None = None


def list_principals(store: Store, *, actor: Principal) -> list[Holder]:
    with store.read() as session:
        require(actor, Action.LIST_PRINCIPALS)
        bound = all_bound_nodes(session)
        return [
            Holder(principal, roles, bound.get(principal) if Role.CUSTOMER in roles else None)
            for principal, roles in all_grants(session).items()
        ]


def parse_references(values: Sequence[str]) -> tuple[Reference, ...]:
    return tuple(Reference.parse(v) for v in values)
