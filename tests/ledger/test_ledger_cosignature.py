"""Witness cosignatures (C2SP tlog-cosignature v1, Ed25519): a real public witness's
cosignature, round trips, tamper rejection and quorums."""

from __future__ import annotations

import base64

import pytest

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    WitnessQuorum,
    add_signatures,
    cosignatures,
    generate_cosigner,
    generate_key,
    leaf_hash,
    note_signatures,
    sign_checkpoint,
)

# A checkpoint of the staging CT log "arche2025h1" as published, cosigned by the public
# witness remora.n621.de among others (its verifier key is also a test vector of
# transparency-dev/formats' note package). The log's own signature is an RFC 6962 STH
# signature (type 0x05), which a cosignature verifier must ignore.
REAL_TEXT = (
    "arche2025h1.staging.ct.transparency.dev\n"
    "1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
)
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
REMORA_LINE = (
    "— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobW"
    "X9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n"
)
REAL_NOTE = (
    REAL_TEXT
    + "\n"
    + "— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6ho"
    "GREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    + "— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/"
    "iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n" + REMORA_LINE
)
REMORA_TIME = 1779573024

ORIGIN = "brightline.example/ledger"
LOG = generate_key(ORIGIN)
CHECKPOINT = Checkpoint(ORIGIN, 42, leaf_hash(b"root"))
NOTE = sign_checkpoint(CHECKPOINT, LOG)


@pytest.fixture(scope="module")
def witnesses() -> tuple[CosignatureSigner, CosignatureSigner]:
    return generate_cosigner("w1.example/witness"), generate_cosigner("w2.example/witness")


def test_a_public_witness_cosignature_verifies() -> None:
    remora = CosignatureVerifier.parse(REMORA_VKEY)
    assert remora.key_id.hex() == "da77ade7"  # SHA-256(name || 0x0A || 0x04 || key)[:4]
    assert str(remora) == REMORA_VKEY
    found = cosignatures(REAL_NOTE, [remora])
    assert [(c.witness, c.timestamp) for c in found] == [(remora, REMORA_TIME)]


def test_a_public_witness_cosignature_on_another_checkpoint_does_not_verify() -> None:
    remora = CosignatureVerifier.parse(REMORA_VKEY)
    other = REAL_TEXT.replace("1432088532", "1432088533")
    assert cosignatures(other + "\n" + REMORA_LINE, [remora]) == ()
    # Its timestamp is signed too: moving it breaks the signature.
    blob = bytearray(base64.b64decode(REMORA_LINE.split()[2]))
    blob[11] ^= 1
    moved = f"— remora.n621.de {base64.b64encode(bytes(blob)).decode()}\n"
    assert cosignatures(REAL_TEXT + "\n" + moved, [remora]) == ()


def test_cosignature_round_trip_covers_every_line_and_the_time(
    witnesses: tuple[CosignatureSigner, CosignatureSigner],
) -> None:
    w1, _ = witnesses
    text = CHECKPOINT.body() + "extension line\n"
    line = w1.sign(text, timestamp=1_700_000_000)
    assert line.startswith("— w1.example/witness ")
    assert line.endswith("\n")
    blob = base64.b64decode(line.split()[2])
    assert len(blob) == 4 + 8 + 64
    assert blob[:4] == w1.key_id
    assert int.from_bytes(blob[4:12], "big") == 1_700_000_000
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, CHECKPOINT.root_hash, ("extension line",)), LOG)
    cosigned = add_signatures(note, [line])
    assert [c.timestamp for c in cosignatures(cosigned, [w1.verifier()])] == [1_700_000_000]
    tampered = cosigned.replace("extension line", "extension lime")
    assert cosignatures(tampered, [w1.verifier()]) == ()


def test_the_signed_message_is_the_c2sp_one(
    witnesses: tuple[CosignatureSigner, CosignatureSigner],
) -> None:
    w1, _ = witnesses
    line = w1.sign(CHECKPOINT.body(), timestamp=7)
    signature = base64.b64decode(line.split()[2])[12:]
    message = f"cosignature/v1\ntime 7\n{CHECKPOINT.body()}".encode()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(w1.verifier().public_key).verify(signature, message)


def test_keys_round_trip_and_differ_from_a_log_key_of_the_same_seed(
    witnesses: tuple[CosignatureSigner, CosignatureSigner],
) -> None:
    w1, _ = witnesses
    again = CosignatureSigner.parse(w1.to_secret_string())
    assert again.verifier() == w1.verifier()
    assert w1.seed.hex() not in repr(w1)
    assert "<hidden>" in repr(w1)
    vkey = str(w1.verifier())
    assert vkey.split("+")[2].startswith("B")  # base64 of 0x04 ...
    assert CosignatureVerifier.parse(vkey) == w1.verifier()
    # A note key (type 0x01) is not a cosigner key: its id and its message differ.
    with pytest.raises(InvalidInputError, match="0x04"):
        CosignatureVerifier.parse(str(LOG.verifier()))


@pytest.mark.parametrize(
    "text",
    [
        "w1+da77ade7",
        "w1+zzzzzzzz+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw",
        "remora.n621.de+da77ade7+not base64!",
        "with space+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    ],
)
def test_malformed_witness_keys_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        CosignatureVerifier.parse(text)


def test_lines_by_other_keys_or_of_the_wrong_length_are_ignored(
    witnesses: tuple[CosignatureSigner, CosignatureSigner],
) -> None:
    w1, w2 = witnesses
    by_w2 = w2.sign(CHECKPOINT.body(), timestamp=5)
    renamed = by_w2.replace("w2.example/witness", "w1.example/witness")
    short = f"— w1.example/witness {base64.b64encode(w1.key_id + bytes(40)).decode()}\n"
    note = add_signatures(NOTE, [renamed, short])
    assert cosignatures(note, [w1.verifier()]) == ()


def test_a_timestamp_past_2_63_is_refused(
    witnesses: tuple[CosignatureSigner, CosignatureSigner],
) -> None:
    w1, _ = witnesses
    with pytest.raises(InvalidInputError):
        w1.sign(CHECKPOINT.body(), timestamp=2**63)


def test_quorum_counts_each_witness_once(
    witnesses: tuple[CosignatureSigner, CosignatureSigner],
) -> None:
    w1, w2 = witnesses
    both = WitnessQuorum.of([str(w1.verifier()), w2.verifier()])
    assert both.quorum == 2
    one_line = w1.sign(CHECKPOINT.body(), timestamp=10)
    twice = add_signatures(NOTE, [one_line, w1.sign(CHECKPOINT.body(), timestamp=11)])
    with pytest.raises(LedgerIntegrityError) as caught:
        both.check(twice)
    message = str(caught.value)
    assert "1 valid witness cosignature" in message
    assert "2 needed" in message
    assert "w2.example/witness" in message  # the one missing is named
    cosigned = add_signatures(twice, [w2.sign(CHECKPOINT.body(), timestamp=12)])
    assert {c.witness.name for c in both.check(cosigned)} == {
        "w1.example/witness",
        "w2.example/witness",
    }
    assert len(WitnessQuorum.of([w1.verifier(), w2.verifier()], quorum=1).check(twice)) == 1


def test_no_witnesses_means_no_check_and_bad_quorums_are_refused(
    witnesses: tuple[CosignatureSigner, CosignatureSigner],
) -> None:
    w1, w2 = witnesses
    assert WitnessQuorum.none().check(NOTE) == ()
    assert not WitnessQuorum.none()
    for quorum in (0, 3, -1):
        with pytest.raises(InvalidInputError, match="quorum"):
            WitnessQuorum.of([w1.verifier(), w2.verifier()], quorum=quorum)
    with pytest.raises(InvalidInputError, match="quorum"):
        WitnessQuorum.of([], quorum=1)
    with pytest.raises(InvalidInputError, match="twice"):
        WitnessQuorum.of([w1.verifier(), w1.verifier()])


def test_add_signatures_keeps_the_note_valid_and_refuses_junk(
    witnesses: tuple[CosignatureSigner, CosignatureSigner],
) -> None:
    w1, _ = witnesses
    line = w1.sign(CHECKPOINT.body(), timestamp=3)
    cosigned = add_signatures(NOTE, [line])
    text, signatures = note_signatures(cosigned)
    assert text == CHECKPOINT.body()
    assert [s.name for s in signatures] == [ORIGIN, "w1.example/witness"]
    assert add_signatures(cosigned, [line]) == cosigned  # a line already there is not repeated
    for junk in ("no dash\n", "— w1 notbase64!\n", "— w1 AAAA", "— w1 AAAAAAAA\n— w2 AAAAAAAA\n"):
        with pytest.raises(InvalidInputError):
            add_signatures(NOTE, [junk])
