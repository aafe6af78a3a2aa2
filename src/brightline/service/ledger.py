"""The ledger's use cases: logging the outbox, checkpoints, proofs, disclosure.

Every state change writes an outbox event in its own transaction (see
``brightline.store.outbox``). :func:`sync_ledger` turns pending events into ledger
entries — exactly once and in order — in one transaction that inserts the entries,
widens the hash tiles, advances the ledger's outbox cursor and, when the log's key is
available, stores a new signed checkpoint. A process killed at any point leaves either
all of that or none of it, and the next sync picks up where the last one committed.

Entries go to the store's current log; earlier logs were sealed
(:mod:`.ledger_seal`) and never grow. Reading functions take ``log`` (default: the
current one). Keys are in :mod:`.ledger_keys`, verification and export in
:mod:`.ledger_verify`; the names other modules import from here are re-exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
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
    LedgerIntegrityError,
    NotFoundError,
)
from brightline.generalization import CustomerIndex, SectorClasses
from brightline.ledger import (
    Checkpoint,
    LedgerEntry,
    NoteSigner,
    TileAppender,
    TiledTree,
    leaf_hash,
    sign_checkpoint,
)
from brightline.ledger.verify import EMPTY_ROOT
from brightline.service.ledger_guard import check_after_append, check_before_append
from brightline.service.ledger_keys import DEFAULT_ORIGIN as DEFAULT_ORIGIN
from brightline.service.ledger_keys import LedgerKeys as LedgerKeys
from brightline.service.ledger_keys import ensure_key as ensure_key
from brightline.service.ledger_keys import keygen as keygen
from brightline.service.ledger_keys import settle_keys
from brightline.service.ledger_verify import VerifyReport as VerifyReport
from brightline.service.ledger_verify import export_tiles_dir as export_tiles_dir
from brightline.service.ledger_verify import verify_store as verify_store
from brightline.service.ledger_verify import verify_tiles as verify_tiles
from brightline.service.lifecycle import derive
from brightline.service.witnessing import witness_latest
from brightline.store import (
    LoadedWorlds,
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
    current_log,
    entry_at,
    insert_entries,
    latest_checkpoint,
    ledger_log,
    ledger_logs,
    ledger_size,
    name_log,
)
from brightline.store.outbox import OutboxEntry, count_outbox
from brightline.world import World

CONSUMER: Final = "ledger"
_BATCH: Final = 1_000


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

    def __init__(
        self, session: Session, *, granularity: Granularity, worlds: LoadedWorlds | None
    ) -> None:
        self._session = session
        self._loaded = worlds
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
            loaded = self._loaded
            if version == "latest":
                stored = (
                    latest_world(self._session) if loaded is None else loaded.latest(self._session)
                )
            elif isinstance(version, int) and not isinstance(version, bool):
                stored = (
                    world_by_version(self._session, version)
                    if loaded is None
                    else loaded.by_version(self._session, version)
                )
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
    worlds: LoadedWorlds | None = None,
) -> SyncResult:
    """Log every pending outbox event, in order, exactly once, in the current log; sign a
    checkpoint if keyed.

    ``worlds`` keeps the worlds the entries' facts are read from between syncs (the
    server's); without it each sync loads them afresh.

    Each entry publishes what ``brightline.disclosure`` allows for its type, at
    ``granularity`` (pass :func:`granularity_of` the deployment's settings; the default
    is k = 5, days, no customer names); an event of a type it does not list stops the
    sync with LedgerIntegrityError, logging nothing. A ``signer`` not named after the
    current log's origin is refused (LedgerIntegrityError): a checkpoint it signed would
    not verify as that log's.
    """
    with store.write() as session:
        return sync_log(
            session,
            signer=signer,
            at=now or datetime.now(UTC),
            granularity=granularity or Granularity(),
            worlds=worlds,
        )


def sync_log(
    session: Session,
    *,
    signer: NoteSigner | None,
    at: datetime,
    granularity: Granularity,
    worlds: LoadedWorlds | None = None,
) -> SyncResult:
    """:func:`sync_ledger` inside the caller's write transaction (a seal logs the pending
    events in the log it seals, then starts the next one, in one transaction).

    Refuses (TamperedLogError, nothing appended or signed) when the stored log is not an
    extension of its latest signed checkpoint: shorter, rewritten, or ending in rows that
    disagree (:mod:`.ledger_guard`)."""
    log = current_log(session)
    if signer is not None and log.origin not in (None, signer.name):
        raise LedgerIntegrityError(
            f"the ledger key is {signer.name}'s but the current log is {log.origin} (log "
            f"{log.number}): a checkpoint signed with it would not be that log's (a process "
            "started before the log was sealed, such as `brightline serve`, must be restarted)"
        )
    position = consumer_position(session, CONSUMER)
    size = ledger_size(session, log=log.number)
    latest = latest_checkpoint(session, log=log.number)
    check_before_append(session, log_number=log.number, size=size, latest=latest)
    tiles = SqlTileStore(session, log=log.number)
    appender = TileAppender.resume(tiles, size)
    known = _Known(session, granularity=granularity, worlds=worlds)
    appended = 0
    while events := read_outbox(session, after=position, limit=_BATCH):
        entries = [_entry_for(e, known) for e in events]  # in order
        rows = [
            NewLedgerEntry(outbox_id=e.id, public=entry.public_bytes(), salt=entry.salt)
            for e, entry in zip(events, entries, strict=True)
        ]
        insert_entries(session, size + appended, rows, log=log.number)
        tiles.write_tiles(appender.append(leaf_hash(r.public) for r in rows))
        appended += len(rows)
        position = events[-1].id
        if len(events) < _BATCH:
            break  # the last batch (the write lock holds off new events): no read for none
    if appended:
        advance_consumer(session, CONSUMER, position, at=at)
    size += appended
    root = appender.root()
    check_after_append(session, log_number=log.number, size=size, root=root, latest=latest)
    note = None
    if signer is not None and size > 0 and (latest is None or latest.size < size):
        note = sign_checkpoint(Checkpoint(signer.name, size, root), signer)
        add_checkpoint(session, size=size, root=root, note=note, at=at, log=log.number)
        if log.origin is None:
            name_log(session, log.number, signer.name)
    return SyncResult(appended, size, root, note)


def pending(store: Store) -> bool:
    """Whether the outbox holds events the ledger has not logged (a cheap read)."""
    with store.read() as session:
        return outbox_head(session) > consumer_position(session, CONSUMER)


def ledger_position(store: Store) -> tuple[int, int]:
    """The newest outbox event and the last one the ledger has logged (a cheap read)."""
    with store.read() as session:
        return outbox_head(session), consumer_position(session, CONSUMER)


def unlogged(store: Store) -> int:
    """How many outbox events the ledger has not logged yet (a read)."""
    with store.read() as session:
        return count_outbox(session, after=consumer_position(session, CONSUMER))


def settle_key_files(settings: Settings, store: Store) -> None:
    """Finish moving the key files of a seal that committed but died before it moved
    them (:func:`~brightline.service.ledger_keys.settle_keys`); a no-op otherwise."""
    if LedgerKeys.staged(settings).private.parent.is_dir():
        with store.read() as session:
            settle_keys(settings, ledger_logs(session))


def sync(settings: Settings, store: Store) -> SyncResult:
    """Sync with the deployment's key, if it has one (first finishing the move of the
    key files that a seal interrupted by a crash left half done); then, the append
    committed, submit the latest checkpoint to the settings' witnesses (each bounded by
    its timeout; one that fails is logged and tried again next time)."""
    settle_key_files(settings, store)
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
    """A log's size, root and latest checkpoint; ``log`` and ``origin`` say which log
    (the current one unless asked for another), ``logs`` how many the store holds."""

    size: int
    root: bytes
    checkpoint: StoredCheckpoint | None
    log: int = 1
    origin: str | None = None
    logs: int = 1


def ledger_status(store: Store, *, log: int | None = None) -> LedgerStatus:
    with store.read() as session:
        logs = ledger_logs(session)
        which = ledger_log(session, log)
        size = ledger_size(session, log=which.number)
        tiles = SqlTileStore(session, log=which.number)
        root = TiledTree(tiles).root(size) if size else EMPTY_ROOT
        return LedgerStatus(
            size,
            root,
            latest_checkpoint(session, log=which.number),
            which.number,
            which.origin,
            len(logs),
        )


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


def prove_inclusion(
    store: Store, index: int, *, size: int | None = None, log: int | None = None
) -> InclusionProof:
    """An inclusion proof for entry ``index`` of a log (default: the current one) in the
    tree of ``size`` entries (default: the latest checkpoint's size, or the whole log if
    none is signed)."""
    with store.read() as session:
        log = ledger_log(session, log).number
        stored = ledger_size(session, log=log)
        latest = latest_checkpoint(session, log=log)
        if size is None:
            size = latest.size if latest is not None else stored
        if not 0 <= index < size <= stored:
            raise NotFoundError(
                f"entry {index} is not in a tree of size {size} (the log holds {stored})"
            )
        tree = TiledTree(SqlTileStore(session, log=log))
        entry = entry_at(session, index, log=log)
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


def disclose(store: Store, index: int, *, log: int | None = None) -> Disclosure:
    """What an auditor needs to check one entry of a log (default: the current one): its
    record, salt, public form and proof."""
    with store.read() as session:
        log = ledger_log(session, log).number
        if index < 0 or index >= ledger_size(session, log=log):
            raise NotFoundError(f"no ledger entry {index} in log {log}")
        entry = entry_at(session, index, log=log)
        event = outbox_entry(session, entry.outbox_id)
        if event is None:
            raise LedgerIntegrityError(
                f"entry {index} records outbox event {entry.outbox_id}, which is gone"
            )
    signed = _signed_size(store, log)
    proof = prove_inclusion(store, index, size=None if index < signed else index + 1, log=log)
    public = json.loads(entry.public)
    return Disclosure(
        index, str(public.get("type")), public, private_record(event), entry.salt.hex(), proof
    )


def _signed_size(store: Store, log: int) -> int:
    with store.read() as session:
        latest = latest_checkpoint(session, log=log)
        return latest.size if latest is not None else ledger_size(session, log=log)


def consistency(
    store: Store, old_size: int, new_size: int, *, log: int | None = None
) -> tuple[bytes, ...]:
    with store.read() as session:
        tiles = SqlTileStore(session, log=log)
        return TiledTree(tiles).consistency_proof(old_size, new_size)
