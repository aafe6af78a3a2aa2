"""Notifications through a real SMTP server on loopback and a real HTTP receiver.

The receiver listens on loopback, so these stores allow private webhook targets
(``webhook_allow_private_targets_unsafe``); test_webhook_targets checks the default.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from brightline.config import Settings
from brightline.service import approve_restriction, propose_restrictions
from brightline.service.notify import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NotifySettings,
    add_notification_contact,
    deliver_pending,
    enqueue_notifications,
    webhook_signature,
)
from brightline.store import Store, open_store
from brightline.store.cases import attempts_for, notifications
from cases.case_scenarios import with_people
from principals import NO_TELEMETRY

SECRET = "s3cret"
NOW = datetime(2025, 10, 1, tzinfo=UTC)
RESTRICTION = "id: r-n\nscope: unit-9900\nactions: ['storage.*:*']\n"


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """The store fixture, allowing webhooks to loopback (where the receiver listens)."""
    settings = Settings(
        database_url=SecretStr(store_url),
        data_dir=tmp_path / "data",
        webhook_allow_private_targets_unsafe=True,
    )
    with open_store(settings, migrate=False) as opened:
        yield opened


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[tuple[list[dict[str, Any]], str, list[int]]]:
    """An HTTP receiver that verifies signatures; ``failures`` makes the next N calls 503."""
    received: list[dict[str, Any]] = []
    failures = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if failures[0] > 0:
                failures[0] -= 1
                self.send_response(503)
                self.end_headers()
                return
            expected = webhook_signature(SECRET, self.headers[TIMESTAMP_HEADER], body)
            ok = self.headers[SIGNATURE_HEADER] == expected
            received.append({"ok": ok, **json.loads(body)})
            self.send_response(204 if ok else 401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/hook", failures
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_proposal_approval_and_force_reach_webhook_and_mail_with_retries(
    store: Store,
    smtp: tuple[_Mailbox, int],
    receiver: tuple[list[dict[str, Any]], str, list[int]],
) -> None:
    people = with_people(store)
    box, port = smtp
    received, url, failures = receiver
    add_notification_contact(
        store,
        actor=people["admin"],
        name="Customer security",
        channel="webhook",
        target=url,
        node="mod-freedonia",
        secret=SECRET,
        now=NOW,
    )
    add_notification_contact(
        store,
        actor=people["admin"],
        name="Watchers",
        channel="smtp",
        target="watch@provider.example",
        now=NOW,
    )
    add_notification_contact(
        store,
        actor=people["admin"],
        name="Other customer",
        channel="smtp",
        target="ops@acme.example",
        node="acme-voice",
        now=NOW,
    )
    propose_restrictions(store, RESTRICTION, name="r.yaml", actor=people["investigator"], now=NOW)
    approve_restriction(store, "r-n", actor=people["approver1"], now=NOW, settings=NO_TELEMETRY)
    assert enqueue_notifications(store, now=NOW) == 6  # proposal, approval, in force × 2
    assert enqueue_notifications(store, now=NOW) == 0  # once per event and contact

    failures[0] = 2
    sleeps: list[float] = []
    settings = NotifySettings(smtp_port=port, backoff_seconds=0.5)
    report = deliver_pending(store, settings, sleep=sleeps.append)
    assert (report.delivered, report.failed, report.attempts) == (6, 0, 8)
    assert sleeps == [0.5, 1.0]  # exponential backoff on the failing webhook

    assert [r["event"] for r in received] == ["proposal", "approval", "in-force"]
    assert all(r["ok"] and r["restriction"] == "r-n" for r in received)
    subjects = sorted(m["Subject"] for m in box.messages)
    assert subjects == [f"[brightline] {e}: r-n" for e in ("approval", "in-force", "proposal")]
    assert all(m["To"] == "watch@provider.example" for m in box.messages)
    with store.read() as session:
        first = notifications(session)[0]
        assert [(a[0], a[2], a[3]) for a in attempts_for(session, first.id)] == [
            (1, False, "HTTP 503"),
            (2, False, "HTTP 503"),
            (3, True, "HTTP 204"),
        ]


def test_unreachable_endpoints_are_recorded_and_given_up_after_max_attempts(
    store: Store,
) -> None:
    people = with_people(store)
    add_notification_contact(
        store,
        actor=people["admin"],
        name="Watchers",
        channel="smtp",
        target="watch@provider.example",
        now=NOW,
    )
    propose_restrictions(store, RESTRICTION, name="r.yaml", actor=people["investigator"], now=NOW)
    enqueue_notifications(store, now=NOW)
    settings = NotifySettings(smtp_port=_free_port(), max_attempts=3, timeout_seconds=2)
    report = deliver_pending(store, settings, sleep=lambda _: None)
    assert (report.delivered, report.failed, report.attempts) == (0, 1, 3)
    assert deliver_pending(store, settings, sleep=lambda _: None).attempts == 0
    with store.read() as session:
        [item] = notifications(session)
        assert item.attempts == 3
        assert not item.delivered
