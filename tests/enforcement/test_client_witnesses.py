"""The enforcement client relies on a ledger checkpoint only when the quorum of the
witnesses it is given cosigned it."""

from __future__ import annotations

from pathlib import Path

import pytest

from brightline.enforcement.client import Client
from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import (
    Checkpoint,
    add_signatures,
    generate_cosigner,
    generate_key,
    leaf_hash,
    sign_checkpoint,
)

LOG = generate_key("test.brightline/ledger")
W1, W2 = generate_cosigner("w1.example/witness"), generate_cosigner("w2.example/witness")
CHECKPOINT = Checkpoint(LOG.name, 7, leaf_hash(b"root"))
NOTE = sign_checkpoint(CHECKPOINT, LOG)
BODY = CHECKPOINT.body()


def client(tmp_path: Path, **witnesses: object) -> Client:
    return Client(
        "http://127.0.0.1:9",
        api_key="unused",
        verifier=str(LOG.verifier()),
        cache_dir=tmp_path,
        **witnesses,  # type: ignore[arg-type]
    )


def test_a_checkpoint_needs_the_quorum_of_cosignatures(tmp_path: Path) -> None:
    both = client(tmp_path, witnesses=[str(W1.verifier()), W2.verifier()])
    one = add_signatures(NOTE, [W1.sign(BODY, timestamp=1)])
    with pytest.raises(LedgerIntegrityError, match="1 valid witness cosignature, 2 needed"):
        both.open_checkpoint(one)
    two = add_signatures(one, [W2.sign(BODY, timestamp=2)])
    assert both.open_checkpoint(two) == CHECKPOINT
    either = client(tmp_path, witnesses=[W1.verifier(), W2.verifier()], witness_quorum=1)
    assert either.open_checkpoint(one) == CHECKPOINT
    with pytest.raises(LedgerIntegrityError, match="0 valid"):
        either.open_checkpoint(NOTE)


def test_without_witnesses_the_log_s_signature_suffices_and_is_still_required(
    tmp_path: Path,
) -> None:
    plain = client(tmp_path)
    assert plain.open_checkpoint(NOTE) == CHECKPOINT
    forged = sign_checkpoint(CHECKPOINT, generate_key(LOG.name))
    with pytest.raises(LedgerIntegrityError):
        plain.open_checkpoint(add_signatures(forged, [W1.sign(BODY, timestamp=1)]))


def test_an_impossible_quorum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="quorum"):
        client(tmp_path, witnesses=[W1.verifier()], witness_quorum=2)
    with pytest.raises(InvalidInputError, match="quorum"):
        client(tmp_path, witness_quorum=1)
