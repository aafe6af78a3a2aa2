"""Notifications of proposals, approvals, coming into force, lifts and appeals.

Enqueueing reads the outbox as its own consumer (``notify``), so every way a
restriction changes — the case commands, ``brightline restrict``, later the API —
notifies alike; restrictions that came into force since the last run are found by
reading their state against the clock. Each (event, contact) is enqueued once.

Delivery sends each pending message by webhook (a JSON POST signed with HMAC-SHA256
over ``<timestamp>.<body>``, see :func:`webhook_signature`) or by SMTP, retrying with
exponential backoff; every attempt, failed or not, is recorded.
Messages carry the restriction (scope, actions, regions, window) and never anything
about a reporter or a case's evidence.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Final

from brightline.access import Principal
from brightline.cases import Action
from brightline.cases.evidence import check_url
from brightline.cases.model import check_text
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.policy import format_time
from brightline.service.cases import now_utc, require
from brightline.service.lifecycle import Status
from brightline.service.restrictions import load_states
from brightline.store import (
    Store,
    advance_consumer,
    consumer_position,
    latest_world,
    read_outbox,
)
from brightline.store.cases import (
    Contact,
    StoredNotification,
    add_attempt,
    add_contact,
    add_notification,
    contacts,
    notifications,
)
from brightline.world import World

CONSUMER: Final = "notify"
SIGNATURE_HEADER: Final = "X-Brightline-Signature"
TIMESTAMP_HEADER: Final = "X-Brightline-Timestamp"
#: Outbox event types that notify, and what the message calls them.
NOTIFYING: Final[Mapping[str, str]] = {
    "restriction.proposed": "proposal",
    "restriction.approved": "approval",
    "restriction.lift-approved": "lift",
    "case.appealed": "appeal",
}


@dataclass(frozen=True, slots=True)
class NotifySettings:
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    sender: str = "brightline@localhost"
    max_attempts: int = 5
    backoff_seconds: float = 2.0
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifySettings:
        try:
            return cls(
                smtp_host=env.get("BRIGHTLINE_SMTP_HOST") or "127.0.0.1",
                smtp_port=int(env.get("BRIGHTLINE_SMTP_PORT") or 25),
                sender=env.get("BRIGHTLINE_SMTP_FROM") or "brightline@localhost",
            )
        except ValueError as exc:
            raise InvalidInputError(Problem("BRIGHTLINE_SMTP_PORT", str(exc))) from exc


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp ‖ "." ‖ body); receivers recompute it."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def add_notification_contact(
    store: Store,
    *,
    actor: Principal,
    name: str,
    channel: str,
    target: str,
    node: str | None = None,
    secret: str | None = None,
    now: datetime | None = None,
) -> Contact:
    """A customer's named contact (``node``: notified about restrictions touching its
    subtree) or, without a node, an internal watcher notified about everything."""
    name = check_text(name, "name", limit=200)
    if channel == "webhook":
        check_url(target, "target")
        if not secret:
            raise InvalidInputError(Problem("--secret", "a webhook needs an HMAC secret"))
    elif channel == "smtp":
        if "@" not in target or any(c.isspace() for c in target):
            raise InvalidInputError(Problem("target", "not an e-mail address"))
    else:
        raise InvalidInputError(Problem("--channel", "webhook or smtp"))
    at = now_utc(now)
    with store.write() as session:
        require(actor, Action.MANAGE_NOTIFICATIONS)
        stored = latest_world(session)
        if node is not None and (stored is None or node not in stored.world.directory):
            raise NotFoundError(f"no node {node!r}")
        return add_contact(
            session,
            node=node,
            name=name,
            channel=channel,
            target=target,
            secret=secret,
            actor=actor.name,
            at=at,
        )


def _concerns(world: World | None, contact: Contact, nodes: list[str]) -> bool:
    if contact.node is None:
        return True
    if world is None or contact.node not in world.directory:
        return False
    d = world.directory
    return any(
        n in d and (d.is_within(n, contact.node) or d.is_within(contact.node, n)) for n in nodes
    )


def _restriction_message(event: str, body: Mapping[str, Any], at: str | None) -> dict[str, Any]:
    return {
        "event": event,
        "at": at,
        "restriction": body.get("id"),
        "scope": body.get("scope"),
        "actions": body.get("actions"),
        "regions": body.get("regions"),
        "exempt": body.get("exempt"),
        "not_before": body.get("not_before"),
        "not_after": body.get("not_after"),
        "mode": body.get("mode"),
    }


def enqueue_notifications(store: Store, *, now: datetime | None = None) -> int:
    """Enqueue messages for new outbox events and restrictions now in force; returns how many."""
    at = now_utc(now)
    added = 0
    with store.write() as session:
        stored = latest_world(session)
        world = stored.world if stored else None
        everyone = contacts(session)
        states = load_states(session)
        position = consumer_position(session, CONSUMER)
        last = position
        while batch := read_outbox(session, after=last, limit=1000):
            for entry in batch:
                event = NOTIFYING.get(entry.event_type)
                if event is None:
                    continue
                data = entry.data()
                if entry.event_type == "case.appealed":
                    message = {"event": event, "at": data.get("at"), "case": data.get("case")}
                    nodes: list[str] = []  # appeals go to internal watchers only
                else:
                    state = states.get(str(data.get("restriction")))
                    if state is None:
                        continue
                    message = _restriction_message(event, state.body, data.get("at"))
                    nodes = [str(state.body.get("scope"))]
                for contact in everyone:
                    if (contact.node is None or nodes) and _concerns(world, contact, nodes):
                        added += add_notification(
                            session,
                            key=f"outbox:{entry.id}:{contact.id}",
                            contact_id=contact.id,
                            event_type=event,
                            payload=message,
                            at=at,
                        )
            last = batch[-1].id
        if last > position:
            advance_consumer(session, CONSUMER, last, at=at)
        for rid, state in sorted(states.items()):
            if state.status(at) is not Status.IN_FORCE:
                continue
            message = _restriction_message("in-force", state.body, format_time(at))
            for contact in everyone:
                if _concerns(world, contact, [str(state.body.get("scope"))]):
                    added += add_notification(
                        session,
                        key=f"in-force:{rid}:{state.mode}:{contact.id}",
                        contact_id=contact.id,
                        event_type="in-force",
                        payload=message,
                        at=at,
                    )
    return added


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int
    failed: int
    attempts: int


def deliver_pending(
    store: Store,
    settings: NotifySettings = NotifySettings(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """Send every undelivered message with attempts left, retrying with backoff
    (``backoff_seconds`` × 2ⁿ between tries). The network is used outside any transaction;
    each attempt is then recorded in one of its own."""
    delivered = failed = tries = 0
    with store.read() as session:
        pending = [
            n
            for n in notifications(session)
            if not n.delivered and n.attempts < settings.max_attempts
        ]
    for item in pending:
        attempt = item.attempts
        ok = False
        while attempt < settings.max_attempts and not ok:
            if attempt > item.attempts:
                sleep(settings.backoff_seconds * 2 ** (attempt - item.attempts - 1))
            attempt += 1
            ok, detail = _send(item, settings)
            tries += 1
            with store.write() as session:
                add_attempt(
                    session,
                    notification_id=item.id,
                    attempt=attempt,
                    at=now_utc(clock() if clock else None),
                    delivered=ok,
                    detail=detail[:2000],
                )
        delivered += ok
        failed += not ok
    return DeliveryReport(delivered, failed, tries)


def _send(item: StoredNotification, settings: NotifySettings) -> tuple[bool, str]:
    contact = item.contact
    body = item.payload.encode()
    if contact.channel == "webhook":
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            contact.target,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Brightline-Event": item.event_type,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: webhook_signature(contact.secret or "", timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as response:
                return True, f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return False, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return False, f"cannot reach webhook: {exc}"
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = contact.target
    data = json.loads(item.payload)
    subject = data.get("restriction") or data.get("case") or ""
    message["Subject"] = f"[brightline] {item.event_type}: {subject}"
    message.set_content(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds
        ) as smtp:
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        return False, f"SMTP: {exc}"
    if refused:
        return False, f"SMTP refused: {refused}"
    return True, "SMTP accepted"


def notification_log(store: Store, *, actor: Principal) -> list[StoredNotification]:
    with store.read() as session:
        require(actor, Action.VIEW_NOTIFICATIONS)
        return notifications(session)
