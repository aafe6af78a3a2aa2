"""Bundles opened once per process: clients given the same bytes share the opened
bundle, and nothing else is shared — other bytes, another key or a failure are opened
(and refused) afresh."""

from __future__ import annotations

import json
import threading

import pytest

from brightline.bundle import Bundle
from brightline.enforcement.opened import open_received
from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import NoteSigner, generate_key


def test_the_same_bytes_opened_at_once_by_many_clients_give_one_bundle(
    signed: tuple[Bundle, NoteSigner],
) -> None:
    bundle, signer = signed
    content = json.dumps(bundle.document()).encode()
    opened: list[Bundle] = []
    start = threading.Barrier(16)

    def receive() -> None:
        # Bytes equal to, not the same object as, what the others received.
        received = bytes(bytearray(content))
        start.wait()
        opened.append(open_received(received, signer.verifier(), where="bundle")[1])

    threads = [threading.Thread(target=receive) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 16
    assert all(b is opened[0] for b in opened)
    assert opened[0].version == bundle.version
    assert opened[0].serial == bundle.serial


def test_bytes_opened_with_one_key_are_checked_again_with_another(
    signed: tuple[Bundle, NoteSigner],
) -> None:
    bundle, signer = signed
    content = json.dumps(bundle.document()).encode()
    open_received(content, signer.verifier(), where="bundle")
    other = generate_key("brightline.test/ledger")
    with pytest.raises(LedgerIntegrityError):
        open_received(content, other.verifier(), where="bundle")


def test_a_changed_payload_is_refused_though_the_genuine_bundle_was_opened(
    signed: tuple[Bundle, NoteSigner],
) -> None:
    bundle, signer = signed
    genuine = bundle.document()
    open_received(json.dumps(genuine).encode(), signer.verifier(), where="bundle")
    forged = {**genuine, "payload": {**genuine["payload"], "serial": bundle.serial + 1}}
    content = json.dumps(forged).encode()
    for _ in range(2):  # a failure is not kept: each receiver is refused on its own
        with pytest.raises(LedgerIntegrityError, match="does not match its signature"):
            open_received(content, signer.verifier(), where="bundle")


def test_malformed_bytes_are_refused_each_time(signed: tuple[Bundle, NoteSigner]) -> None:
    _, signer = signed
    for _ in range(2):
        with pytest.raises(json.JSONDecodeError):
            open_received(b'{"note": ', signer.verifier(), where="bundle")
    with pytest.raises(InvalidInputError, match="not a Brightline bundle"):
        open_received(b"[]", signer.verifier(), where="bundle")
