"""The witness's judgement of an ``add-checkpoint`` request (C2SP tlog-witness), pure: the
request format, and every status the spec gives for every way a request can be wrong."""

from __future__ import annotations

import base64

import pytest

from brightline.errors import InvalidInputError
from brightline.ledger import (
    Checkpoint,
    MemoryHashStore,
    NoteSigner,
    TileAppender,
    TiledTree,
    generate_key,
    leaf_hash,
    sign_checkpoint,
)
from brightline.ledger.verify import EMPTY_ROOT
from brightline.ledger.witness import (
    AddCheckpoint,
    WitnessedLog,
    WitnessStatus,
    judge_submission,
    parse_tree_size,
)

ORIGIN = "brightline.example/ledger"
LOG = generate_key(ORIGIN)
OTHER = generate_key(ORIGIN)  # same name, another key: not the log's
LOGS = {ORIGIN: (LOG.verifier(),)}


def _tree(size: int, salt: bytes = b"") -> TiledTree:
    store, appender = MemoryHashStore(), TileAppender()
    store.write_tiles(
        appender.append(leaf_hash(salt + bytes([i % 256, i // 256])) for i in range(size))
    )
    return TiledTree(store)


TREE = _tree(40)


def _note(size: int, *, tree: TiledTree = TREE, signer: NoteSigner = LOG) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), signer)


def _request(old: int, size: int, *, signer: NoteSigner = LOG) -> bytes:
    proof = TREE.consistency_proof(old, size) if 0 < old <= size else ()
    return AddCheckpoint(old, proof, _note(size, signer=signer)).encode()


def _state(size: int, tree: TiledTree = TREE) -> dict[str, WitnessedLog]:
    return {ORIGIN: WitnessedLog(ORIGIN, size, tree.root(size))}


def test_request_body_is_the_spec_s_format() -> None:
    proof = TREE.consistency_proof(20, 30)
    body = AddCheckpoint(20, proof, _note(30)).encode().decode()
    lines = body.split("\n")
    assert lines[0] == "old 20"
    assert lines[1 : 1 + len(proof)] == [base64.b64encode(h).decode() for h in proof]
    assert lines[1 + len(proof)] == ""
    assert body.endswith(_note(30))
    assert AddCheckpoint.parse(body.encode()) == AddCheckpoint(20, proof, _note(30))
    assert AddCheckpoint(0, (), _note(30)).encode().startswith(b"old 0\n\n" + ORIGIN.encode())


@pytest.mark.parametrize(
    "body",
    [
        b"old 01\n\n",
        b"old -1\n\n",
        b"old 5\n",
        b"new 5\n\nx",
        b"old 5\nnot base64!\n\nx",
        b"old 5\n" + base64.b64encode(bytes(31)) + b"\n\nx",
        b"old 5\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\nx",
        b"\xff\xfe",
    ],
)
def test_malformed_requests_do_not_parse(body: bytes) -> None:
    with pytest.raises(InvalidInputError):
        AddCheckpoint.parse(body)


def test_first_checkpoint_is_accepted_with_old_size_zero() -> None:
    verdict = judge_submission(_request(0, 10), logs=LOGS, state={})
    assert verdict.status is WitnessStatus.OK
    assert verdict.accepted == WitnessedLog(ORIGIN, 10, TREE.root(10))
    assert verdict.text == Checkpoint(ORIGIN, 10, TREE.root(10)).body()


def test_a_consistent_extension_is_accepted() -> None:
    verdict = judge_submission(_request(10, 30), logs=LOGS, state=_state(10))
    assert verdict.status is WitnessStatus.OK
    assert verdict.accepted == WitnessedLog(ORIGIN, 30, TREE.root(30))


def test_the_same_checkpoint_again_is_cosigned_again() -> None:
    verdict = judge_submission(_request(30, 30), logs=LOGS, state=_state(30))
    assert verdict.status is WitnessStatus.OK


def test_unknown_origin_is_404() -> None:
    note = sign_checkpoint(
        Checkpoint("another.example/log", 3, TREE.root(3)), generate_key("another.example/log")
    )
    verdict = judge_submission(AddCheckpoint(0, (), note).encode(), logs=LOGS, state={})
    assert verdict.status is WitnessStatus.NOT_FOUND


def test_a_checkpoint_not_signed_by_the_log_key_is_403() -> None:
    verdict = judge_submission(_request(0, 10, signer=OTHER), logs=LOGS, state={})
    assert verdict.status is WitnessStatus.FORBIDDEN
    root_10, root_11 = (base64.b64encode(TREE.root(n)).decode() for n in (10, 11))
    forged = _note(10).replace(root_10, root_11)
    verdict = judge_submission(AddCheckpoint(0, (), forged).encode(), logs=LOGS, state={})
    assert verdict.status is WitnessStatus.FORBIDDEN


def test_old_size_above_the_checkpoint_is_400() -> None:
    body = AddCheckpoint(30, (), _note(10)).encode()
    assert judge_submission(body, logs=LOGS, state=_state(30)).status is WitnessStatus.BAD_REQUEST


def test_a_smaller_checkpoint_is_refused() -> None:
    # Honest about the old size: 400 (old > size); pretending: 409 with the known size.
    assert (
        judge_submission(
            AddCheckpoint(30, (), _note(10)).encode(), logs=LOGS, state=_state(30)
        ).status
        is WitnessStatus.BAD_REQUEST
    )
    verdict = judge_submission(_request(5, 10), logs=LOGS, state=_state(30))
    assert (verdict.status, verdict.known_size) == (WitnessStatus.CONFLICT, 30)


def test_old_size_other_than_the_witness_s_is_409_with_its_size() -> None:
    verdict = judge_submission(_request(10, 30), logs=LOGS, state=_state(20))
    assert verdict.status is WitnessStatus.CONFLICT
    assert verdict.known_size == 20
    unknown = judge_submission(_request(10, 30), logs=LOGS, state={})
    assert (unknown.status, unknown.known_size) == (WitnessStatus.CONFLICT, 0)


def test_a_bad_consistency_proof_is_422() -> None:
    proof = list(TREE.consistency_proof(10, 30))
    proof[0] = leaf_hash(b"junk")
    body = AddCheckpoint(10, tuple(proof), _note(30)).encode()
    assert judge_submission(body, logs=LOGS, state=_state(10)).status is WitnessStatus.UNPROCESSABLE


def test_a_fork_is_422_and_a_split_view_at_the_same_size_is_409() -> None:
    fork = _tree(40, salt=b"fork")
    # The witness saw the real tree at 10; a forked tree at 30 cannot be proven to extend it.
    body = AddCheckpoint(10, fork.consistency_proof(10, 30), _note(30, tree=fork)).encode()
    assert judge_submission(body, logs=LOGS, state=_state(10)).status is WitnessStatus.UNPROCESSABLE
    # The same size with another root: a split view.
    verdict = judge_submission(
        AddCheckpoint(30, (), _note(30, tree=fork)).encode(), logs=LOGS, state=_state(30)
    )
    assert verdict.status is WitnessStatus.CONFLICT
    assert verdict.known_size is None  # not an old-size mismatch: retrying cannot help


def test_a_proof_with_old_size_zero_is_400_and_an_empty_tree_needs_the_empty_root() -> None:
    body = AddCheckpoint(0, TREE.consistency_proof(5, 10), _note(10)).encode()
    assert judge_submission(body, logs=LOGS, state={}).status is WitnessStatus.BAD_REQUEST
    empty = sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT), LOG)
    assert (
        judge_submission(AddCheckpoint(0, (), empty).encode(), logs=LOGS, state={}).status
        is WitnessStatus.OK
    )
    wrong = sign_checkpoint(Checkpoint(ORIGIN, 0, TREE.root(3)), LOG)
    assert (
        judge_submission(AddCheckpoint(0, (), wrong).encode(), logs=LOGS, state={}).status
        is WitnessStatus.UNPROCESSABLE
    )


def test_a_malformed_body_is_400() -> None:
    assert judge_submission(b"old 1\n", logs=LOGS, state={}).status is WitnessStatus.BAD_REQUEST


def test_size_responses_parse() -> None:
    assert parse_tree_size("20852014\n") == 20852014
    for bad in ("20852014", "-1\n", "01\n", "x\n"):
        with pytest.raises(InvalidInputError):
            parse_tree_size(bad)
