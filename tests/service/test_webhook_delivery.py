"""Webhook delivery: to the address checked, never through a redirect, public only by default.

A real HTTP server on loopback stands in for receivers; names are resolved by a small
fake resolver (``*.invalid`` never resolves in real DNS, RFC 6761), so a request that
arrives proves the connection went to the address the fake gave and was checked.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from brightline.access import Role
from brightline.config import Settings
from brightline.errors import InvalidInputError
from brightline.service import propose_restrictions
from brightline.service.notify import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NotifySettings,
    add_notification_contact,
    deliver_pending,
    enqueue_notifications,
    webhook_signature,
)
from brightline.service.webhook import IPAddress
from brightline.store import Store, open_store
from brightline.store.cases import add_contact, attempts_for, contacts, notifications
from cases.case_scenarios import with_people
from principals import principal

#: Acting principals of these tests, which are about sealing and delivery, not access
#: (the store's own principals come from ``with_people``).
ADMIN = principal("admin", Role.ADMIN, Role.CASE_ADMIN)
ALICE = principal("alice", Role.INVESTIGATOR)

SECRET = "s3cret"
NOW = datetime(2025, 10, 1, tzinfo=UTC)
RESTRICTION = "id: r-w\nscope: unit-9900\nactions: ['storage.*:*']\n"
ONE_TRY = NotifySettings(max_attempts=1, timeout_seconds=5)


@dataclass
class Receiver:
    """Records every request; answers 204, or a redirect to ``redirect_to`` when set."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    redirect_to: str | None = None

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    """Two receivers on loopback (the second as a redirect's destination)."""
    started = []
    for _ in range(2):
        receiver = Receiver()

        class Handler(http.server.BaseHTTPRequestHandler):
            target = receiver

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self.target.requests.append(
                    {"method": self.command, "headers": dict(self.headers), "body": body}
                )
                if self.target.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", self.target.redirect_to)
                else:
                    self.send_response(204)
                self.end_headers()

            do_POST = do_GET = _record  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        receiver.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((receiver, server, thread))
    try:
        yield [r for r, _, _ in started]
    finally:
        for _, server, thread in started:
            server.shutdown()
            server.server_close()
            thread.join()


def _store(store_url: str, data_dir: Path, *, unsafe: bool) -> Store:
    settings = Settings(
        database_url=SecretStr(store_url),
        data_dir=data_dir,
        webhook_allow_private_targets_unsafe=unsafe,
    )
    return open_store(settings, migrate=False)


@pytest.fixture
def unsafe_store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """A store whose settings let webhooks reach loopback, where the receivers listen."""
    with _store(store_url, tmp_path / "data", unsafe=True) as store:
        with_people(store)
        yield store


@pytest.fixture
def default_store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    with _store(store_url, tmp_path / "data", unsafe=False) as store:
        with_people(store)
        yield store


class FakeDns:
    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        return [ipaddress.ip_address(self.answers[host])]


def _propose_and_enqueue(store: Store) -> None:
    propose_restrictions(store, RESTRICTION, name="r.yaml", actor=ALICE, now=NOW)
    assert enqueue_notifications(store, now=NOW) == 1


def _add_webhook(store: Store, target: str) -> None:
    add_notification_contact(
        store,
        actor=ADMIN,
        name="Customer security",
        channel="webhook",
        target=target,
        node="mod-freedonia",
        secret=SECRET,
        now=NOW,
    )


def _details(store: Store) -> list[tuple[bool, str]]:
    with store.read() as session:
        [item] = notifications(session)
        return [(a[2], a[3]) for a in attempts_for(session, item.id)]


def test_a_redirect_is_a_failed_delivery_and_is_not_followed(
    unsafe_store: Store, receivers: list[Receiver]
) -> None:
    first, elsewhere = receivers
    first.redirect_to = elsewhere.url(path="/stolen")
    _add_webhook(unsafe_store, first.url())
    _propose_and_enqueue(unsafe_store)

    report = deliver_pending(unsafe_store, ONE_TRY, sleep=lambda _: None)

    assert (report.delivered, report.failed) == (0, 1)
    assert _details(unsafe_store) == [(False, "HTTP 302 (redirects are not followed)")]
    assert len(first.requests) == 1
    assert elsewhere.requests == []  # neither the body nor the signature went anywhere else


def test_delivery_connects_to_the_address_it_checked_and_names_the_host(
    unsafe_store: Store, receivers: list[Receiver]
) -> None:
    receiver = receivers[0]
    dns = FakeDns({"hooks.invalid": "127.0.0.1"})
    _add_webhook(unsafe_store, receiver.url(host="hooks.invalid"))
    _propose_and_enqueue(unsafe_store)

    report = deliver_pending(unsafe_store, ONE_TRY, sleep=lambda _: None, resolve=dns)

    assert (report.delivered, report.failed) == (1, 0)
    assert dns.asked == ["hooks.invalid"]  # looked up once; the connection used that answer
    [request] = receiver.requests
    assert request["method"] == "POST"
    assert request["headers"]["Host"] == f"hooks.invalid:{receiver.port}"
    headers = request["headers"]
    assert headers[SIGNATURE_HEADER] == webhook_signature(
        SECRET, headers[TIMESTAMP_HEADER], request["body"]
    )
    assert json.loads(request["body"])["restriction"] == "r-w"


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("hooks.invalid", "hooks.invalid resolves to 127.0.0.1, which is a loopback address"),
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ],
)
def test_a_target_that_reaches_loopback_at_delivery_is_refused_there(
    default_store: Store, receivers: list[Receiver], host: str, says: str
) -> None:
    """A contact stored when its name resolved to a public address (or before the checks
    existed) whose target now reaches loopback: DNS rebinding."""
    receiver = receivers[0]
    with default_store.write() as session:
        add_contact(
            session,
            node="mod-freedonia",
            name="Customer security",
            channel="webhook",
            target=receiver.url(host=host),
            secret=SECRET,
            actor="admin",
            at=NOW,
            secrets=default_store.secrets,
        )
    _propose_and_enqueue(default_store)

    dns = FakeDns({"hooks.invalid": "127.0.0.1"})
    report = deliver_pending(default_store, ONE_TRY, sleep=lambda _: None, resolve=dns)

    assert (report.delivered, report.failed) == (0, 1)
    [(delivered, detail)] = _details(default_store)
    assert not delivered
    assert detail.startswith(f"refused: {says}")
    assert receiver.requests == []


def test_a_loopback_webhook_is_refused_when_the_contact_is_added(
    default_store: Store, receivers: list[Receiver]
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _add_webhook(default_store, receivers[0].url())
    [problem] = caught.value.problems
    assert problem.where == "target"
    assert "127.0.0.1 is a loopback address" in problem.message
    assert "BRIGHTLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS_UNSAFE" in problem.message
    with default_store.read() as session:
        assert contacts(session) == []


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_delivery_names_the_host_and_checks_its_certificate(
    unsafe_store: Store, tmp_path: Path
) -> None:
    """TLS to the checked address, with the name in SNI; a certificate that no trusted
    authority signed (here: self-signed) fails the delivery."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path, "hooks.invalid"))
    names: list[str | None] = []

    def remember(_socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = remember
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, pytest.raises((ssl.SSLError, OSError)):
            context.wrap_socket(connection, server_side=True).recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        _add_webhook(unsafe_store, f"https://hooks.invalid:{port}/hook")
        _propose_and_enqueue(unsafe_store)
        dns = FakeDns({"hooks.invalid": "127.0.0.1"})
        report = deliver_pending(unsafe_store, ONE_TRY, sleep=lambda _: None, resolve=dns)
    finally:
        thread.join(timeout=10)
        listener.close()
    assert (report.delivered, report.failed) == (0, 1)
    [(_, detail)] = _details(unsafe_store)
    assert detail.startswith("cannot reach webhook at 127.0.0.1")
    assert "CERTIFICATE_VERIFY_FAILED" in detail
    assert names == ["hooks.invalid"]
