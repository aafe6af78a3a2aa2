"""Verifying the ledger: a log against its checkpoints, an exported tiles directory, and
the chain of logs a store holds after seals (each log's entry 0 continuing the log before
it, :mod:`brightline.ledger.chain`); and exporting a log as tiles.

Every failure is a LedgerIntegrityError (a TamperedLogError naming the first bad index
where entries or hashes differ); once a store holds more than one log, the message names
the log: ``log 1 (brightline.local/ledger): …``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from brightline.errors import InvalidInputError, LedgerIntegrityError, NotFoundError, Problem
from brightline.ledger import (
    CONTINUED,
    Checkpoint,
    Continuation,
    NoteVerifier,
    TamperedLogError,
    TileDirSource,
    TiledTree,
    audit_tiles,
    export_tiles,
    leaf_hash,
    open_checkpoint,
    parse_public_form,
    read_entries,
    verify_consistency,
    verify_continuation,
    verify_tile_dir,
)
from brightline.store import Store
from brightline.store.ledger import (
    SqlTileStore,
    StoredLog,
    checkpoints,
    entry_at,
    iter_public,
    latest_checkpoint,
    ledger_log,
    ledger_logs,
    ledger_size,
)


@contextmanager
def _naming(what: str) -> Iterator[None]:
    """Prefix the message of a LedgerIntegrityError raised inside with ``what``."""
    try:
        yield
    except TamperedLogError as exc:
        raise TamperedLogError(f"{what}: {exc}", first_bad_index=exc.first_bad_index) from exc
    except LedgerIntegrityError as exc:
        raise LedgerIntegrityError(f"{what}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class VerifyReport:
    source: str
    size: int
    root: bytes
    checkpoints_checked: int
    notes: tuple[str, ...]
    origin: str = ""


def verify_store(
    store: Store, verifier: NoteVerifier, *, older: str | None = None, log: int | None = None
) -> VerifyReport:
    """Recompute a log's tree (default: the current log's) from the stored entries; check
    it against the tiles, the latest signed checkpoint, every earlier stored checkpoint
    and, if given, an older checkpoint kept by the caller. Raises LedgerIntegrityError
    (TamperedLogError naming the first bad index) on any difference; when the store holds
    more than one log, the message names the log."""
    with store.read() as session:
        which = ledger_log(session, log)
        if len(ledger_logs(session)) == 1:
            return _verify_log(session, which.number, verifier, older=older)
        with _naming(f"log {which.number} ({which.origin})"):
            return _verify_log(session, which.number, verifier, older=older)


def _verify_log(
    session: Session, log: int, verifier: NoteVerifier, *, older: str | None
) -> VerifyReport:
    notes: list[str] = []
    stored = checkpoints(session, log=log)
    if not stored:
        raise LedgerIntegrityError("the ledger has no signed checkpoint to verify against")
    latest = open_checkpoint(stored[-1].note, verifier)
    # Missing, extra or changed entries all show up here, as the first bad index.
    audit_tiles(
        SqlTileStore(session, log=log),
        size=latest.size,
        leaf_hashes=_contiguous_leaf_hashes(iter_public(session, log=log)),
        root=latest.root_hash,
    )
    notes.append(f"{latest.size} entries recomputed; root matches the latest checkpoint")
    tree = TiledTree(SqlTileStore(session, log=log))
    for earlier in stored[:-1]:
        _check_consistent(tree, open_checkpoint(earlier.note, verifier), latest)
    if older is not None:
        _check_consistent(tree, open_checkpoint(older, verifier), latest)
        notes.append("consistent with the given older checkpoint")
    return VerifyReport(
        "store", latest.size, latest.root_hash, len(stored), tuple(notes), latest.origin
    )


def _contiguous_leaf_hashes(rows: Iterator[tuple[int, bytes]]) -> Iterator[bytes]:
    """Leaf hashes in seq order, stopping at the first gap (a removed row)."""
    for expected, (seq, public) in enumerate(rows):
        if seq != expected:
            return
        yield leaf_hash(public)


def _check_consistent(tree: TiledTree, older: Checkpoint, latest: Checkpoint) -> None:
    if older.size > latest.size:
        raise LedgerIntegrityError(
            f"a checkpoint of size {older.size} is newer than the latest ({latest.size})"
        )
    if older.size == 0:
        return
    proof = tree.consistency_proof(older.size, latest.size)
    if not verify_consistency(older.size, latest.size, proof, older.root_hash, latest.root_hash):
        raise LedgerIntegrityError(
            f"the log of size {latest.size} is not an extension of the checkpoint of size "
            f"{older.size}: history was rewritten"
        )


def verify_tiles(
    directory: Path, verifier: NoteVerifier, *, older: str | None = None
) -> VerifyReport:
    """Verify an exported tiles directory on its own, as an outside auditor would."""
    if not directory.is_dir():
        raise InvalidInputError(Problem(str(directory), "not a directory"))
    checkpoint = verify_tile_dir(directory, verifier)
    notes = [f"{checkpoint.size} entries recomputed from the entry bundles; tiles and root match"]
    if older is not None:
        _check_consistent(
            TiledTree(TileDirSource(directory)), open_checkpoint(older, verifier), checkpoint
        )
        notes.append("consistent with the given older checkpoint")
    return VerifyReport(
        str(directory), checkpoint.size, checkpoint.root_hash, 1, tuple(notes), checkpoint.origin
    )


def export_tiles_dir(
    store: Store, directory: Path, verifier: NoteVerifier, *, log: int | None = None
) -> Checkpoint:
    """Write a log (default: the current one) up to its latest checkpoint as C2SP
    tlog-tiles; ``verifier`` is that log's key."""
    with store.read() as session:
        log = ledger_log(session, log).number
        latest = latest_checkpoint(session, log=log)
        if latest is None:
            raise NotFoundError(f"ledger log {log} has no signed checkpoint yet")
        return export_tiles(
            directory,
            source=SqlTileStore(session, log=log),
            entries=(public for _, public in iter_public(session, log=log)),
            signed_checkpoint=latest.note,
            verifier=verifier,
        )


# --- the chain of logs ---------------------------------------------------------------------


def _keys_by_name(verifiers: Sequence[NoteVerifier]) -> dict[str, NoteVerifier]:
    """Sealed logs' keys by name (a log's key is named after its origin); a later key of
    the same name replaces an earlier one."""
    return {v.name: v for v in verifiers}


def _key_for(keys: Mapping[str, NoteVerifier], origin: str | None, what: str) -> NoteVerifier:
    key = keys.get(origin or "")
    if key is None:
        raise NotFoundError(
            f"no verifier key for {what}: give its log.pub with --previous-verifier (a "
            "deployment keeps it in $BRIGHTLINE_DATA_DIR/ledger/logs/<n>/log.pub)"
        )
    return key


def _origin_of(note: str | None) -> str | None:
    return None if note is None else note.split("\n", 1)[0]


def _starts_with_continued(entry: bytes | None) -> bool:
    if entry is None:
        return False
    try:
        return bool(parse_public_form(entry)["type"] == CONTINUED)
    except InvalidInputError:
        return False


def verify_chain(
    store: Store,
    verifier: NoteVerifier,
    *,
    sealed: Sequence[NoteVerifier],
    older: str | None = None,
) -> tuple[VerifyReport, ...]:
    """Verify the current log with ``verifier`` (as :func:`verify_store`), then walk back
    through every log the store sealed, newest first, and return one report per log.

    For each sealed log: the next log's entry 0 continues it (its final checkpoint is the
    note that entry commits to, signed with the sealed log's key, found by name among
    ``sealed``, and names the same origin, size and root); its entries reproduce that
    checkpoint and every earlier one of it; it holds no entry beyond it. The first log
    must not continue anything. ``older``, a checkpoint kept by the caller, is checked
    against the log of its origin. Raises LedgerIntegrityError naming the log and the
    step, NotFoundError when a sealed log's key is missing.
    """
    keys = _keys_by_name(sealed)
    kept = _origin_of(older)
    reports: list[VerifyReport] = []
    with store.read() as session:
        logs = ledger_logs(session)
        if [log.number for log in logs] != list(range(1, len(logs) + 1)):
            raise LedgerIntegrityError(f"the store's logs are {[n.number for n in logs]}")
        newer: StoredLog | None = None
        for log in reversed(logs):
            name = f"log {log.number} ({log.origin})"
            key = verifier
            if newer is not None:
                key = _key_for(keys, log.origin, f"sealed {name}")
                with _naming(f"log {newer.number} ({newer.origin}) does not continue {name}"):
                    _check_link(session, log, newer, key)
            with _naming(name):
                report = _verify_log(
                    session, log.number, key, older=older if kept == log.origin else None
                )
                if newer is not None:
                    _check_frozen(session, log.number, report.size)
            reports.append(report)
            newer = log
        _check_kept_origin(kept, [log.origin for log in logs])
        first = _first_entry(session, logs[0].number)
        if _starts_with_continued(first):
            raise LedgerIntegrityError(
                f"log {logs[0].number} ({logs[0].origin}) continues a log the store does not hold"
            )
    return tuple(reports)


def _check_kept_origin(kept: str | None, origins: Sequence[str | None]) -> None:
    """A checkpoint kept by the caller must be of one of the logs verified."""
    if kept is not None and kept not in origins:
        raise LedgerIntegrityError(
            f"the checkpoint you kept is of {kept}, which is none of the logs verified"
        )


def _first_entry(session: Session, log: int) -> bytes | None:
    try:
        return entry_at(session, 0, log=log).public
    except NotFoundError:
        return None


def _check_link(session: Session, sealed: StoredLog, newer: StoredLog, key: NoteVerifier) -> None:
    """The newer log's entry 0 commits to the sealed log's final (latest) checkpoint."""
    final = latest_checkpoint(session, log=sealed.number)
    if final is None:
        raise LedgerIntegrityError("the sealed log has no final checkpoint")
    first = _first_entry(session, newer.number)
    if first is None:
        raise LedgerIntegrityError(f"log {newer.number} has no entry 0")
    verify_continuation(first, final.note, key)


def _check_frozen(session: Session, log: int, final_size: int) -> None:
    """A sealed log never grows: it holds exactly the entries of its final checkpoint."""
    size = ledger_size(session, log=log)
    if size != final_size:
        raise LedgerIntegrityError(
            f"it was sealed at {final_size} entries but holds {size}: entries were added "
            "after the seal"
        )


def verify_tiles_chain(
    directory: Path,
    verifier: NoteVerifier,
    *,
    previous: Sequence[Path],
    sealed: Sequence[NoteVerifier],
    older: str | None = None,
) -> tuple[VerifyReport, ...]:
    """Verify an exported log (as :func:`verify_tiles`), then, while a log's entry 0 is a
    ``ledger.continued`` entry, the log it continues: the one of the ``previous`` tiles
    directories whose ``checkpoint`` file is the note that entry commits to, with the key
    of its origin among ``sealed``. Every directory of ``previous`` must be in the chain.
    ``older`` is checked against the log of its origin. One report per log, newest first.
    """
    keys = _keys_by_name(sealed)
    kept = _origin_of(older)
    by_note: dict[bytes, Path] = {}
    for candidate in previous:
        try:
            by_note[hashlib.sha256((candidate / "checkpoint").read_bytes()).digest()] = candidate
        except OSError as exc:
            raise InvalidInputError(Problem(str(candidate), f"no checkpoint: {exc}")) from exc
    report = verify_tiles(directory, verifier, older=older if kept == verifier.name else None)
    reports, current = [report], directory
    # Entry 0 as the verified bundles hold it (read at the log's size: a partial bundle's
    # file is named by its width).
    while _starts_with_continued(first := next(read_entries(current, reports[-1].size), None)):
        assert first is not None
        continuation = Continuation.parse(first)
        earlier = by_note.pop(continuation.checkpoint_sha256, None)
        if earlier is None:
            raise LedgerIntegrityError(
                f"{current} continues {continuation.origin}, but none of the earlier tiles "
                f"directories given holds the final checkpoint its entry 0 commits to "
                f"(SHA-256 {continuation.checkpoint_sha256.hex()})"
            )
        key = _key_for(keys, continuation.origin, f"the sealed log {continuation.origin}")
        note = (earlier / "checkpoint").read_text(encoding="utf-8")
        with _naming(f"{current} does not continue {earlier}"):
            verify_continuation(first, note, key)
        with _naming(str(earlier)):
            reports.append(
                verify_tiles(earlier, key, older=older if kept == continuation.origin else None)
            )
        current = earlier
    _check_kept_origin(kept, [r.origin for r in reports])
    if by_note:
        raise InvalidInputError(
            Problem(str(next(iter(by_note.values()))), "is not a log this chain continues")
        )
    return tuple(reports)
