"""The ledger's use cases: logging the outbox, checkpoints, proofs, disclosure, verification.

Every state change writes an outbox event in its own transaction (see
``brightline.store.outbox``). :func:`sync_ledger` turns pending events into ledger
entries — exactly once and in order — in one transaction that inserts the entries,
widens the hash tiles, advances the ledger's outbox cursor and, when the log's key is
available, stores a new signed checkpoint. A process killed at any point leaves either
all of that or none of it, and the next sync picks up where the last one committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from brightline.config import Settings
from brightline.disclosure import (
    Facts,
    Granularity,
    public_fields,
    public_time,
    published,
    reference,
)
from brightline.errors import (
    ConflictError,
    InvalidInputError,
    LedgerIntegrityError,
    NotFoundError,
    Problem,
)
from brightline.generalization import CustomerIndex, SectorClasses
from brightline.ledger import (
    Checkpoint,
    LedgerEntry,
    NoteSigner,
    NoteVerifier,
    TileAppender,
    TileDirSource,
    TiledTree,
    audit_tiles,
    export_tiles,
    generate_key,
    leaf_hash,
    open_checkpoint,
    read_signer,
    read_verifier,
    sign_checkpoint,
    verify_consistency,
    verify_tile_dir,
    write_key_files,
)
from brightline.ledger.verify import EMPTY_ROOT
from brightline.service.lifecycle import derive
from brightline.service.witnessing import witness_latest
from brightline.store import (
    Store,
    advance_consumer,
    consumer_position,
    events_for,
    latest_world,
    open_store,
    outbox_entry,
    outbox_head,
    read_outbox,
    read_outbox_of_type,
    restriction_ranks,
    world_by_version,
)
from brightline.store.ledger import (
    NewLedgerEntry,
    SqlTileStore,
    StoredCheckpoint,
    add_checkpoint,
    checkpoints,
    entry_at,
    insert_entries,
    iter_public,
    latest_checkpoint,
    ledger_size,
)
from brightline.store.outbox import OutboxEntry
from brightline.store.secrets import make_private_dir
from brightline.world import World

CONSUMER: Final = "ledger"
DEFAULT_ORIGIN: Final = "brightline.local/ledger"
_BATCH: Final = 1_000


@dataclass(frozen=True, slots=True)
class LedgerKeys:
    private: Path
    public: Path

    @classmethod
    def of(cls, settings: Settings) -> LedgerKeys:
        directory = settings.data_dir / "ledger"
        return cls(directory / "log.key", directory / "log.pub")

    def signer(self) -> NoteSigner | None:
        return read_signer(self.private) if self.private.is_file() else None

    def verifier(self) -> NoteVerifier:
        if not self.public.is_file():
            raise NotFoundError(
                f"no ledger verifier key at {self.public}; run `brightline ledger keygen`"
            )
        return read_verifier(self.public)


def keygen(settings: Settings, *, name: str = DEFAULT_ORIGIN) -> tuple[LedgerKeys, NoteVerifier]:
    """Create the log's Ed25519 key (private file mode 0600); refuses to overwrite one."""
    keys = LedgerKeys.of(settings)
    make_private_dir(keys.private.parent)
    signer = generate_key(name)
    write_key_files(signer, private_path=keys.private, public_path=keys.public)
    return keys, signer.verifier()


def ensure_key(settings: Settings) -> NoteVerifier:
    """The log's verifier, generating the key on first use (as ``brightline serve`` does)."""
    keys = LedgerKeys.of(settings)
    if keys.private.is_file():
        return keys.verifier()
    return keygen(settings)[1]


# --- what goes in -----------------------------------------------------------------------


def private_record(event: OutboxEntry) -> dict[str, Any]:
    """The record an entry commits to: its outbox event's payload and the event's id.
    Rebuilt from the outbox, which is never changed. Events written before
    ``brightline.disclosure`` carried a ``public`` key, which their records never held."""
    record = {k: v for k, v in _payload(event).items() if k != "public"}
    record["outbox_event"] = event.id
    return record


def _payload(event: OutboxEntry) -> dict[str, Any]:
    payload = event.data()
    return payload if isinstance(payload, dict) else {"value": payload}


def _entry_for(event: OutboxEntry, known: _Known) -> LedgerEntry:
    """The entry logging ``event``; its time and public part come from
    ``brightline.disclosure`` alone (this is its only caller), which refuses an event type
    it does not list. The private record keeps the exact time (``at``)."""
    fields = public_fields(event.event_type)  # refuse an unknown type before reading more
    payload = _payload(event)
    facts = known.facts(event.event_type, payload) if fields else known.nothing
    return LedgerEntry.seal(
        event_type=event.event_type,
        time=public_time(event.created_at, known.granularity.time),
        record=private_record(event),
        disclosed=published(event.event_type, payload, facts),
    )


def granularity_of(settings: Settings) -> Granularity:
    """The deployment's :class:`~brightline.disclosure.Granularity`, from its settings."""
    return Granularity(
        k=settings.transparency_k,
        time=settings.ledger_time_granularity,
        customer_names=settings.ledger_publishes_customer_names,
        sectors=SectorClasses.extended(
            public=settings.ledger_public_sectors, private=settings.ledger_private_sectors
        ),
    )


_Version = int | str | None


class _Known:
    """The disclosure facts of restriction events, read from the store at most once per
    world version and restriction during one sync (which holds the write lock, so nothing
    it reads changes under it)."""

    def __init__(self, session: Session, *, granularity: Granularity) -> None:
        self._session = session
        self.granularity = granularity
        self.nothing = Facts(granularity=granularity)
        self._worlds: dict[_Version, tuple[World, CustomerIndex] | None] = {}
        self._ranks: dict[str, int] | None = None
        self._proposed_against: dict[str, _Version] | None = None

    def facts(self, event_type: str, payload: Mapping[str, Any]) -> Facts:
        if event_type.partition(".")[0] != "restriction":
            return self.nothing
        restriction_id = str(payload.get("restriction", ""))
        body = None
        if payload.get("restriction_body") is None:
            body = _body_in_effect(self._session, restriction_id, payload.get("revision"))
        world = self._world(self._pinned_version(restriction_id, payload))
        rank = self._rank(restriction_id)
        return Facts(
            world=None if world is None else world[0],
            index=None if world is None else world[1],
            restriction=body if isinstance(body, Mapping) else None,
            reference=None if rank is None else reference(rank),
            granularity=self.granularity,
        )

    def _rank(self, restriction_id: str) -> int | None:
        if self._ranks is None:
            self._ranks = restriction_ranks(self._session)
        return self._ranks.get(restriction_id)

    def _pinned_version(self, restriction_id: str, payload: Mapping[str, Any]) -> _Version:
        """The world the restriction's proposal was made against: every entry of one
        restriction is generalized against the same directory, so that two of them
        cannot be intersected into fewer than k customers. An event whose proposal is not
        in the outbox (written before the outbox) uses its own."""
        if self._proposed_against is None:
            self._proposed_against = {}
            for event in read_outbox_of_type(self._session, "restriction.proposed"):
                data = _payload(event)
                self._proposed_against.setdefault(
                    str(data.get("restriction", "")), data.get("world_version", "latest")
                )
        own: _Version = payload.get("world_version", "latest")
        return self._proposed_against.get(restriction_id, own)

    def _world(self, version: _Version) -> tuple[World, CustomerIndex] | None:
        """The world of ``version`` (None if the change was made before any import); for
        events written before writers recorded it, the latest world, as the sync used
        then."""
        if version is None:
            return None
        if version not in self._worlds:
            if version == "latest":
                stored = latest_world(self._session)
            elif isinstance(version, int) and not isinstance(version, bool):
                stored = world_by_version(self._session, version)
                if stored is None:
                    raise LedgerIntegrityError(f"world version {version} is not in the store")
            else:
                raise LedgerIntegrityError(f"{version!r} is not a world version")
            self._worlds[version] = (
                None if stored is None else (stored.world, CustomerIndex.of(stored.world.directory))
            )
        return self._worlds[version]


def _body_in_effect(session: Session, restriction_id: str, revision: Any) -> Any:
    """The body a restriction has once its event ``revision`` happened (the promoted one
    after a promotion is approved, the previous one after it is rejected), whatever
    happened later: a sync that lags behind later events must seal what was true then.

    An event without a revision (a guard approval) gets the latest body proposed, as of
    the sync: a guard approval seals the proposal it guards unless a later one was made
    before the sync ran.
    """
    events = events_for(session, restriction_id)
    if isinstance(revision, int) and not isinstance(revision, bool):
        upto = [e for e in events if e.revision <= revision]
        if upto:
            try:
                return derive(upto).body
            except ConflictError:
                pass  # an inconsistent history: fall back to the latest body
    bodies = [e.body for e in events if e.body is not None]
    return bodies[-1] if bodies else None


@dataclass(frozen=True, slots=True)
class SyncResult:
    appended: int
    size: int
    root: bytes
    checkpoint: str | None


def sync_ledger(
    store: Store,
    *,
    signer: NoteSigner | None,
    now: datetime | None = None,
    granularity: Granularity | None = None,
) -> SyncResult:
    """Log every pending outbox event, in order, exactly once; sign a checkpoint if keyed.

    Each entry publishes what ``brightline.disclosure`` allows for its type, at
    ``granularity`` (pass :func:`granularity_of` the deployment's settings; the default
    is k = 5, days, no customer names); an event of a type it does not list stops the
    sync with LedgerIntegrityError, logging nothing.
    """
    at = now or datetime.now(UTC)
    with store.write() as session:
        position = consumer_position(session, CONSUMER)
        size = ledger_size(session)
        tiles = SqlTileStore(session)
        appender = TileAppender.resume(tiles, size)
        known = _Known(session, granularity=granularity or Granularity())
        appended = 0
        while events := read_outbox(session, after=position, limit=_BATCH):
            entries = [_entry_for(e, known) for e in events]  # in order
            rows = [
                NewLedgerEntry(outbox_id=e.id, public=entry.public_bytes(), salt=entry.salt)
                for e, entry in zip(events, entries, strict=True)
            ]
            insert_entries(session, size + appended, rows)
            tiles.write_tiles(appender.append(leaf_hash(r.public) for r in rows))
            appended += len(rows)
            position = events[-1].id
        if appended:
            advance_consumer(session, CONSUMER, position, at=at)
        size += appended
        root = appender.root()
        note = None
        latest = latest_checkpoint(session)
        if signer is not None and size > 0 and (latest is None or latest.size != size):
            note = sign_checkpoint(Checkpoint(signer.name, size, root), signer)
            add_checkpoint(session, size=size, root=root, note=note, at=at)
        return SyncResult(appended, size, root, note)


def pending(store: Store) -> bool:
    """Whether the outbox holds events the ledger has not logged (a cheap read)."""
    with store.read() as session:
        return outbox_head(session) > consumer_position(session, CONSUMER)


def sync(settings: Settings, store: Store) -> SyncResult:
    """Sync with the deployment's key, if it has one; then, the append committed, submit
    the latest checkpoint to the settings' witnesses (each bounded by its timeout; one
    that fails is logged and tried again next time)."""
    result = sync_ledger(
        store, signer=LedgerKeys.of(settings).signer(), granularity=granularity_of(settings)
    )
    if settings.ledger_witnesses:
        witness_latest(settings, store)
    return result


@contextmanager
def recording(settings: Settings) -> Iterator[Store]:
    """Open the store for a state change and log it once the change has committed.

    If the process dies between the two, the change is still in the outbox and the
    next sync logs it: the ledger lags, it never misses or repeats an event.
    """
    with open_store(settings) as store:
        yield store
        sync(settings, store)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerStatus:
    size: int
    root: bytes
    checkpoint: StoredCheckpoint | None


def ledger_status(store: Store) -> LedgerStatus:
    with store.read() as session:
        size = ledger_size(session)
        root = TiledTree(SqlTileStore(session)).root(size) if size else EMPTY_ROOT
        return LedgerStatus(size, root, latest_checkpoint(session))


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    root: bytes
    checkpoint: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "size": self.size,
            "leaf_hash": self.leaf_hash.hex(),
            "proof": [h.hex() for h in self.proof],
            "root": self.root.hex(),
            "checkpoint": self.checkpoint,
        }


def prove_inclusion(store: Store, index: int, *, size: int | None = None) -> InclusionProof:
    """An inclusion proof for entry ``index`` in the tree of ``size`` entries
    (default: the latest checkpoint's size, or the whole log if none is signed)."""
    with store.read() as session:
        stored = ledger_size(session)
        latest = latest_checkpoint(session)
        if size is None:
            size = latest.size if latest is not None else stored
        if not 0 <= index < size <= stored:
            raise NotFoundError(
                f"entry {index} is not in a tree of size {size} (the log holds {stored})"
            )
        tree = TiledTree(SqlTileStore(session))
        entry = entry_at(session, index)
        note = latest.note if latest is not None and latest.size == size else None
        return InclusionProof(
            index,
            size,
            leaf_hash(entry.public),
            tree.inclusion_proof(index, size),
            tree.root(size),
            note,
        )


@dataclass(frozen=True, slots=True)
class Disclosure:
    index: int
    event_type: str
    public: dict[str, Any]
    record: dict[str, Any]
    salt: str
    proof: InclusionProof

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "event_type": self.event_type,
            "public": self.public,
            "record": self.record,
            "salt": self.salt,
            "inclusion": self.proof.to_json(),
        }


def disclose(store: Store, index: int) -> Disclosure:
    """What an auditor needs to check one entry: its record, salt, public form and proof."""
    with store.read() as session:
        if index < 0 or index >= ledger_size(session):
            raise NotFoundError(f"no ledger entry {index}")
        entry = entry_at(session, index)
        event = outbox_entry(session, entry.outbox_id)
        if event is None:
            raise LedgerIntegrityError(
                f"entry {index} records outbox event {entry.outbox_id}, which is gone"
            )
    proof = prove_inclusion(store, index, size=None if index < _signed_size(store) else index + 1)
    public = json.loads(entry.public)
    return Disclosure(
        index, str(public.get("type")), public, private_record(event), entry.salt.hex(), proof
    )


def _signed_size(store: Store) -> int:
    with store.read() as session:
        latest = latest_checkpoint(session)
        return latest.size if latest is not None else ledger_size(session)


def consistency(store: Store, old_size: int, new_size: int) -> tuple[bytes, ...]:
    with store.read() as session:
        return TiledTree(SqlTileStore(session)).consistency_proof(old_size, new_size)


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyReport:
    source: str
    size: int
    root: bytes
    checkpoints_checked: int
    notes: tuple[str, ...]


def verify_store(store: Store, verifier: NoteVerifier, *, older: str | None = None) -> VerifyReport:
    """Recompute the tree from the stored entries; check it against the tiles, the latest
    signed checkpoint, every earlier stored checkpoint and, if given, an older checkpoint
    kept by the caller. Raises LedgerIntegrityError (TamperedLogError naming the first bad
    index) on any difference."""
    notes: list[str] = []
    with store.read() as session:
        stored = checkpoints(session)
        if not stored:
            raise LedgerIntegrityError("the ledger has no signed checkpoint to verify against")
        latest = open_checkpoint(stored[-1].note, verifier)
        # Missing, extra or changed entries all show up here, as the first bad index.
        audit_tiles(
            SqlTileStore(session),
            size=latest.size,
            leaf_hashes=_contiguous_leaf_hashes(iter_public(session)),
            root=latest.root_hash,
        )
        notes.append(f"{latest.size} entries recomputed; root matches the latest checkpoint")
        tree = TiledTree(SqlTileStore(session))
        for earlier in stored[:-1]:
            _check_consistent(tree, open_checkpoint(earlier.note, verifier), latest)
        if older is not None:
            _check_consistent(tree, open_checkpoint(older, verifier), latest)
            notes.append("consistent with the given older checkpoint")
        return VerifyReport("store", latest.size, latest.root_hash, len(stored), tuple(notes))


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
    return VerifyReport(str(directory), checkpoint.size, checkpoint.root_hash, 1, tuple(notes))


def export_tiles_dir(store: Store, directory: Path, verifier: NoteVerifier) -> Checkpoint:
    """Write the log up to its latest checkpoint as C2SP tlog-tiles."""
    with store.read() as session:
        latest = latest_checkpoint(session)
        if latest is None:
            raise NotFoundError("the ledger has no signed checkpoint yet")
        return export_tiles(
            directory,
            source=SqlTileStore(session),
            entries=(public for _, public in iter_public(session)),
            signed_checkpoint=latest.note,
            verifier=verifier,
        )
