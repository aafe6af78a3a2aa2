"""A log's first entry continuing a sealed log: each step of the check names what fails."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from brightline.errors import LedgerIntegrityError
from brightline.ledger import (
    CONTINUED,
    Checkpoint,
    Continuation,
    LedgerEntry,
    generate_key,
    note_sha256,
    sign_checkpoint,
    verify_continuation,
)

OLD = generate_key("example.org/log")
NEW = generate_key("example.org/log/2")
FINAL = sign_checkpoint(Checkpoint(OLD.name, 7, hashlib.sha256(b"root").digest()), OLD)


def entry(public: dict[str, Any], event_type: str = CONTINUED) -> bytes:
    return LedgerEntry.seal(
        event_type=event_type, time="2026-12-15T00:00:00Z", record={}, disclosed=public
    ).public_bytes()


def continued(**changes: Any) -> bytes:
    checkpoint = Checkpoint.parse(FINAL.split("\n\n")[0] + "\n")
    return entry({**Continuation.of(checkpoint, FINAL).public(), **changes})


def test_the_first_entry_continues_the_final_checkpoint() -> None:
    checkpoint = verify_continuation(continued(), FINAL, OLD.verifier())
    assert (checkpoint.origin, checkpoint.size) == (OLD.name, 7)
    assert Continuation.parse(continued()).checkpoint_sha256 == note_sha256(FINAL)


@pytest.mark.parametrize(
    ("first", "note", "message"),
    [
        (entry({}, "world.imported"), FINAL, "not a ledger.continued entry"),
        (continued(size="7"), FINAL, "size is not a size"),
        (continued(root="not base64"), FINAL, "malformed"),
        (continued(), FINAL.replace("— ", "— x"), "is not the one the ledger.continued entry"),
        (continued(size=8), FINAL, "ended at size 8, its final checkpoint says 7"),
        (continued(root="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), FINAL, "another root"),
    ],
)
def test_each_step_names_what_fails(first: bytes, note: str, message: str) -> None:
    with pytest.raises(LedgerIntegrityError, match=message):
        verify_continuation(first, note, OLD.verifier())


def test_the_final_checkpoint_must_be_signed_by_the_sealed_logs_own_key() -> None:
    forged = sign_checkpoint(Checkpoint(OLD.name, 7, hashlib.sha256(b"root").digest()), NEW)
    checkpoint = Checkpoint.parse(forged.split("\n\n")[0] + "\n")
    first = entry(Continuation.of(checkpoint, forged).public())
    with pytest.raises(LedgerIntegrityError, match="does not verify"):
        verify_continuation(first, forged, OLD.verifier())
    with pytest.raises(LedgerIntegrityError, match="the key given for it is"):
        verify_continuation(first, forged, NEW.verifier())
