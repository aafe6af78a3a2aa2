"""brightline.bundle: a bundle's ledger proof and freshness note, checked without a server.

Logs are built in memory (RFC 9162 trees over MemoryHashStore) with real public forms, so
that every way a proof can lie is tried: another entry, another index, a path that does
not lead to the root, a checkpoint by another key, a smaller log, a fork of the same
size, a fork that grew.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brightline.bundle import (
    BUNDLE_ISSUED,
    Bundle,
    LedgerProof,
    LogState,
    build_bundle,
    decode_header,
    encode_header,
    log_key_only,
    open_current,
    sign_current,
    verify_logged,
)
from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import (
    Checkpoint,
    LedgerEntry,
    MemoryHashStore,
    NoteSigner,
    TileAppender,
    TiledTree,
    generate_key,
    leaf_hash,
    sign_checkpoint,
)
from brightline.policy import Snapshot, snapshot_document
from brightline.world import load_world

EXAMPLE = Path(__file__).parents[1] / "examples" / "world"
SIGNER = generate_key("test.example/log")
VERIFIER = SIGNER.verifier()
POLICY = log_key_only(VERIFIER)
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def make_bundle(serial: int) -> Bundle:
    snapshot = Snapshot(load_world(EXAMPLE), [])
    document = snapshot_document(snapshot, at=T0, world_version=1)
    return build_bundle(snapshot, document, serial=serial, issued_at=T0, signer=SIGNER)


def issued_entry(bundle: Bundle, *, digest: str | None = None) -> bytes:
    return LedgerEntry.seal(
        event_type=BUNDLE_ISSUED,
        time="2026-06-01T00:00:00Z",
        record={"serial": bundle.serial},
        disclosed={"version": bundle.version, "digest": digest or bundle.digest},
    ).public_bytes()


def filler(i: int) -> bytes:
    return LedgerEntry.seal(
        event_type="case.opened", time="2026-06-01T00:00:00Z", record={"i": i}
    ).public_bytes()


class Log:
    """A log in memory, signing checkpoints with ``signer``."""

    def __init__(self, signer: NoteSigner = SIGNER) -> None:
        self.store = MemoryHashStore()
        self.appender = TileAppender()
        self.entries: list[bytes] = []
        self.signer = signer

    def append(self, *entries: bytes) -> int:
        self.store.write_tiles(self.appender.append(leaf_hash(e) for e in entries))
        self.entries.extend(entries)
        return len(self.entries) - 1

    @property
    def size(self) -> int:
        return len(self.entries)

    def state(self) -> LogState:
        return LogState(self.size, TiledTree(self.store).root(self.size))

    def checkpoint(self) -> str:
        root = TiledTree(self.store).root(self.size)
        return sign_checkpoint(Checkpoint(self.signer.name, self.size, root), self.signer)

    def prove(self, index: int, *, since: int | None = None) -> LedgerProof:
        tree = TiledTree(self.store)
        consistency = None
        if since is not None and 0 < since < self.size:
            consistency = tree.consistency_proof(since, self.size)
        return LedgerProof(
            index,
            self.entries[index],
            tree.inclusion_proof(index, self.size),
            self.checkpoint(),
            consistency,
        )


def logged(bundle: Bundle, before: int = 5, after: int = 3) -> tuple[Log, int]:
    log = Log()
    log.append(*(filler(i) for i in range(before)))
    index = log.append(issued_entry(bundle))
    log.append(*(filler(100 + i) for i in range(after)))
    return log, index


def test_a_logged_bundle_verifies_and_yields_its_checkpoint() -> None:
    bundle = make_bundle(1)
    log, index = logged(bundle)
    checkpoint = verify_logged(bundle, log.prove(index), checkpoint_policy=POLICY, held=None)
    assert (checkpoint.size, checkpoint.root_hash) == (log.size, log.state().root)


def test_the_proof_survives_its_json_form() -> None:
    bundle = make_bundle(1)
    log, index = logged(bundle)
    proof = LedgerProof.from_json(log.prove(index, since=2).to_json())
    assert proof == log.prove(index, since=2)
    verify_logged(bundle, proof, checkpoint_policy=POLICY, held=None)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"index": "1", "entry": "{}", "proof": [], "checkpoint": ""},
        {"index": 1, "entry": "{}", "proof": ["zz"], "checkpoint": ""},
        {"index": 1, "entry": "{}", "proof": ["00"], "checkpoint": ""},
        {"index": 1, "entry": "{}", "checkpoint": ""},
        {"index": True, "entry": "{}", "proof": [], "checkpoint": ""},
    ],
)
def test_a_malformed_proof_is_refused(data: object) -> None:
    with pytest.raises(InvalidInputError):
        LedgerProof.from_json(data)


def test_an_entry_naming_another_bundle_is_refused() -> None:
    bundle, other = make_bundle(1), make_bundle(2)
    log, index = logged(other)  # the log holds the other bundle only
    with pytest.raises(LedgerIntegrityError, match="does not log bundle"):
        verify_logged(bundle, log.prove(index), checkpoint_policy=POLICY, held=None)


def test_an_entry_with_another_digest_is_refused() -> None:
    bundle = make_bundle(1)
    log = Log()
    index = log.append(issued_entry(bundle, digest="0" * 64))
    with pytest.raises(LedgerIntegrityError, match="does not log bundle"):
        verify_logged(bundle, log.prove(index), checkpoint_policy=POLICY, held=None)


def test_an_entry_of_another_type_is_refused() -> None:
    bundle = make_bundle(1)
    log = Log()
    entry = LedgerEntry.seal(
        event_type="case.opened",
        time="2026-06-01T00:00:00Z",
        record={},
        disclosed={"version": bundle.version, "digest": bundle.digest},
    ).public_bytes()
    index = log.append(entry)
    with pytest.raises(LedgerIntegrityError, match="does not log bundle"):
        verify_logged(bundle, log.prove(index), checkpoint_policy=POLICY, held=None)


def test_the_right_entry_at_the_wrong_index_is_refused() -> None:
    bundle = make_bundle(1)
    log, index = logged(bundle)
    proof = log.prove(index)
    moved = LedgerProof(index + 1, proof.entry, proof.proof, proof.checkpoint)
    with pytest.raises(LedgerIntegrityError, match="inclusion proof"):
        verify_logged(bundle, moved, checkpoint_policy=POLICY, held=None)


def test_a_path_that_does_not_lead_to_the_root_is_refused() -> None:
    bundle = make_bundle(1)
    log, index = logged(bundle)
    proof = log.prove(index)
    bent = (bytes(32), *proof.proof[1:])
    with pytest.raises(LedgerIntegrityError, match="inclusion proof"):
        verify_logged(
            bundle,
            LedgerProof(index, proof.entry, bent, proof.checkpoint),
            checkpoint_policy=POLICY,
            held=None,
        )


def test_a_checkpoint_of_another_log_key_is_refused() -> None:
    bundle = make_bundle(1)
    log = Log(generate_key("test.example/log"))  # same name, another key
    index = log.append(issued_entry(bundle))
    with pytest.raises(LedgerIntegrityError, match="not signed"):
        verify_logged(bundle, log.prove(index), checkpoint_policy=POLICY, held=None)


def test_the_checkpoint_policy_decides_which_checkpoints_count() -> None:
    """The one hook a witness quorum plugs into: whatever it refuses is refused."""
    bundle = make_bundle(1)
    log, index = logged(bundle)

    def quorum_not_met(note: str) -> Checkpoint:
        raise LedgerIntegrityError("1 of 2 witnesses cosigned; 2 needed")

    with pytest.raises(LedgerIntegrityError, match="witnesses"):
        verify_logged(bundle, log.prove(index), checkpoint_policy=quorum_not_met, held=None)


def test_a_log_smaller_than_the_one_held_is_refused() -> None:
    bundle = make_bundle(1)
    log, index = logged(bundle, after=0)
    proof = log.prove(index)
    log.append(filler(7), filler(8))
    held = log.state()  # the client saw the log two entries longer
    with pytest.raises(LedgerIntegrityError, match="cannot shrink"):
        verify_logged(bundle, proof, checkpoint_policy=POLICY, held=held)


def test_another_log_of_the_held_size_is_refused() -> None:
    bundle = make_bundle(1)
    log, index = logged(bundle)
    fork = Log()
    fork.append(*log.entries[:-1], filler(999))
    with pytest.raises(LedgerIntegrityError, match="split view"):
        verify_logged(bundle, log.prove(index), checkpoint_policy=POLICY, held=fork.state())


def test_a_log_that_grew_is_accepted_only_with_a_consistency_proof() -> None:
    older = make_bundle(1)
    log, _ = logged(older)
    held = log.state()
    bundle = make_bundle(2)
    index = log.append(issued_entry(bundle))
    with pytest.raises(LedgerIntegrityError, match="no consistency proof"):
        verify_logged(bundle, log.prove(index), checkpoint_policy=POLICY, held=held)
    checkpoint = verify_logged(
        bundle, log.prove(index, since=held.size), checkpoint_policy=POLICY, held=held
    )
    assert checkpoint.size == held.size + 1


def test_a_log_that_rewrote_what_was_held_is_refused() -> None:
    older = make_bundle(1)
    log, _ = logged(older)
    held = log.state()
    bundle = make_bundle(2)
    fork = Log()  # the same size, then the new bundle, but history edited before it
    fork.append(filler(-1), *log.entries[1:])
    index = fork.append(issued_entry(bundle))
    with pytest.raises(LedgerIntegrityError, match="history was rewritten"):
        verify_logged(
            bundle, fork.prove(index, since=held.size), checkpoint_policy=POLICY, held=held
        )


# -- freshness ------------------------------------------------------------------------------


def test_a_freshness_note_round_trips_through_a_header() -> None:
    bundle = make_bundle(7)
    at = T0 + timedelta(minutes=5, microseconds=12)
    note = sign_current(bundle, at=at, signer=SIGNER)
    current = open_current(decode_header(encode_header(note)), VERIFIER)
    assert (current.version, current.serial, current.at) == (bundle.version, 7, at)


def test_a_freshness_note_by_another_key_or_of_another_kind_is_refused() -> None:
    bundle = make_bundle(7)
    other = generate_key("test.example/log")
    with pytest.raises(LedgerIntegrityError):
        open_current(sign_current(bundle, at=T0, signer=other), VERIFIER)
    # A bundle's own note or a checkpoint, signed by the right key, is not a freshness note.
    with pytest.raises(InvalidInputError):
        open_current(bundle.note, VERIFIER)
    with pytest.raises(InvalidInputError):
        open_current(_checkpoint_note(), VERIFIER)
    with pytest.raises(InvalidInputError):
        decode_header("not base64!")


def _checkpoint_note() -> str:
    log = Log()
    log.append(filler(1))
    return log.checkpoint()
