"""Signed checkpoints: Go sumdb/note compatibility, round trips and tamper rejection."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from brightline.errors import ConflictError, InvalidInputError, LedgerIntegrityError
from brightline.ledger.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    generate_key,
    open_checkpoint,
    open_note,
    read_signer,
    read_verifier,
    sign_checkpoint,
    sign_note,
    write_key_files,
)
from brightline.ledger.verify import leaf_hash

# The example key and note of golang.org/x/mod/sumdb/note (note_test.go).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
GO_NOTE = GO_TEXT + "\n— PeterNeumann " + GO_SIGNATURE + "\n"

ORIGIN = "brightline.example/ledger"
ROOT = leaf_hash(b"root")


@pytest.fixture
def signer() -> NoteSigner:
    return generate_key(ORIGIN)


def test_go_reference_keys_parse_and_print_identically() -> None:
    verifier = NoteVerifier.parse(GO_VKEY)
    signer = NoteSigner.parse(GO_SKEY)
    assert str(verifier) == GO_VKEY
    assert signer.to_secret_string() == GO_SKEY
    assert signer.verifier() == verifier
    assert verifier.key_id.hex() == "c74f20a3"


def test_go_reference_note_is_reproduced_byte_for_byte() -> None:
    assert sign_note(GO_TEXT, NoteSigner.parse(GO_SKEY)) == GO_NOTE
    assert open_note(GO_NOTE, NoteVerifier.parse(GO_VKEY)) == GO_TEXT


def test_go_reference_note_rejects_an_altered_text() -> None:
    with pytest.raises(LedgerIntegrityError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), NoteVerifier.parse(GO_VKEY))


def test_checkpoint_body_format() -> None:
    checkpoint = Checkpoint(ORIGIN, 42, bytes(32), ("ext one",))
    assert checkpoint.body() == (
        f"{ORIGIN}\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next one\n"
    )
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


def test_sign_and_open_round_trip(signer: NoteSigner) -> None:
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT)
    note = sign_checkpoint(checkpoint, signer)
    assert note.startswith(checkpoint.body() + "\n— " + ORIGIN + " ")
    assert open_checkpoint(note, signer.verifier()) == checkpoint


def test_other_signatures_are_ignored(signer: NoteSigner) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), signer)
    witness = generate_key("witness.example")
    cosigned = note + sign_note(Checkpoint(ORIGIN, 7, ROOT).body(), witness).split("\n\n")[1]
    assert open_checkpoint(cosigned, signer.verifier()).size == 7


@pytest.mark.parametrize(
    "tamper",
    [
        lambda n: n.replace("\n1234\n", "\n1235\n"),
        lambda n: n.replace(ORIGIN + "\n", "other.example/log\n", 1),
    ],
)
def test_a_tampered_body_is_rejected(signer: NoteSigner, tamper: Callable[[str], str]) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT), signer)
    with pytest.raises(LedgerIntegrityError):
        open_checkpoint(tamper(note), signer.verifier())


def test_a_tampered_signature_is_rejected(signer: NoteSigner) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), signer)
    body, sig_line = note.split("\n\n")
    name, encoded = sig_line.rstrip("\n").rsplit(" ", 1)
    forged = encoded[:10] + ("A" if encoded[10] != "A" else "B") + encoded[11:]
    with pytest.raises(LedgerIntegrityError):
        open_checkpoint(f"{body}\n\n{name} {forged}\n", signer.verifier())


def test_an_unknown_key_is_rejected(signer: NoteSigner) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), generate_key(ORIGIN))
    # Same name, different key: different key id, so not our signature.
    with pytest.raises(LedgerIntegrityError, match="not signed"):
        open_checkpoint(note, signer.verifier())


def test_a_mismatched_origin_is_rejected(signer: NoteSigner) -> None:
    other = generate_key("other.example/log")
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), other)
    with pytest.raises(LedgerIntegrityError, match="origin"):
        open_checkpoint(note, other.verifier())
    assert open_checkpoint(note, other.verifier(), origin=ORIGIN).size == 1


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no signature block\n",
        f"{ORIGIN}\n1\nAAAA\n\n",
        f"{ORIGIN}\n1\n\n- {ORIGIN} AAAAAAAA\n",
        f"{ORIGIN}\n1\n\n— {ORIGIN} AAAAAAAA",
        f"{ORIGIN}\n1\n\n— {ORIGIN} !!!!\n",
        f"{ORIGIN}\n1\n\n— {ORIGIN} AAAA\n",
        f"{ORIGIN}\n1\n\n— {ORIGIN}\n",
        f"{ORIGIN}\x01\n1\n\n— {ORIGIN} AAAAAAAA\n",
    ],
)
def test_malformed_notes_are_invalid_input(signer: NoteSigner, note: str) -> None:
    with pytest.raises(InvalidInputError):
        open_checkpoint(note, signer.verifier())


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n01\n" + "A" * 43 + "=\n",
        f"{ORIGIN}\n-1\n" + "A" * 43 + "=\n",
        f"{ORIGIN}\n1\nAAAA\n",
        f"{ORIGIN}\n1\n",
        "\n1\n" + "A" * 43 + "=\n",
        f"{ORIGIN}\n1\n" + "A" * 43 + "=\n\n",
        f"{ORIGIN}\n1\n" + "A" * 43 + "=",
    ],
)
def test_malformed_checkpoint_bodies_are_invalid_input(body: str) -> None:
    with pytest.raises(InvalidInputError):
        Checkpoint.parse(body)


def test_signed_but_malformed_checkpoint_is_invalid_input(signer: NoteSigner) -> None:
    note = sign_note(f"{ORIGIN}\nmany\nAAAA\n", signer)
    with pytest.raises(InvalidInputError):
        open_checkpoint(note, signer.verifier())


@pytest.mark.parametrize(
    "text",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong alg
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
    ],
)
def test_malformed_verifier_keys_are_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError):
        NoteVerifier.parse(text)


def test_key_names_must_be_valid() -> None:
    for name in ("", "a b", "a+b"):
        with pytest.raises(InvalidInputError):
            generate_key(name)


def test_signer_repr_hides_the_seed(signer: NoteSigner) -> None:
    assert signer.seed.hex() not in repr(signer)
    assert "hidden" in repr(signer)


def test_key_files(tmp_path: Path, signer: NoteSigner) -> None:
    private, public = tmp_path / "log.key", tmp_path / "log.pub"
    write_key_files(signer, private_path=private, public_path=public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert read_signer(private) == signer
    assert read_verifier(public) == signer.verifier()
    assert public.read_text().strip() == str(signer.verifier())
    with pytest.raises(ConflictError):
        write_key_files(generate_key(ORIGIN), private_path=private, public_path=public)
    assert read_signer(private) == signer
