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

from brightline.cases import CaseState, apply_case_event
from brightline.config import Settings
from brightline.disclosure import Facts, public_fields, published
from brightline.errors import (
    ConflictError,
    LedgerIntegrityError,
    NotFoundError,
)
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
from brightline.policy import format_time
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
    world_by_version,
)
from brightline.store.cases import case_events
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
from brightline.store.outbox import OutboxEntry
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
    """The entry logging ``event``; its public part comes from ``brightline.disclosure``
    alone (this is its only caller), which refuses an event type it does not list."""
    public_fields(event.event_type)  # refuse an unknown type before reading anything for it
    payload = _payload(event)
    return LedgerEntry.seal(
        event_type=event.event_type,
        time=format_time(event.created_at) or "",
        record=private_record(event),
        disclosed=published(event.event_type, payload, known.facts(event.event_type, payload)),
    )


class _Known:
    """The disclosure facts of events as of when they happened, read from the store at
    most once per world version and case during one sync (which holds the write lock, so
    nothing it reads changes under it)."""

    def __init__(self, session: Session, *, customer_names: bool) -> None:
        self._session = session
        self._customer_names = customer_names
        self._worlds: dict[int | str, World | None] = {}
        self._cases: dict[str, list[CaseState]] = {}

    def facts(self, event_type: str, payload: Mapping[str, Any]) -> Facts:
        family = event_type.partition(".")[0]
        restriction = None
        case_policies: tuple[str, ...] = ()
        case_nodes: tuple[str, ...] = ()
        if family == "restriction" and payload.get("restriction_body") is None:
            restriction = _body_in_effect(
                self._session, str(payload.get("restriction", "")), payload.get("revision")
            )
        elif family == "case":
            case = self._case(str(payload.get("case")), payload.get("revision"))
            case_policies, case_nodes = case.policies, case.nodes
        return Facts(
            world=self._world(payload),
            restriction=restriction if isinstance(restriction, Mapping) else None,
            case_policies=case_policies,
            case_nodes=case_nodes,
            customer_names=self._customer_names,
        )

    def _world(self, payload: Mapping[str, Any]) -> World | None:
        """The world the change was made against, which its writer recorded (None if it
        was made before any import); for events written before writers recorded it, the
        latest world, as the sync used then."""
        version = payload.get("world_version", "latest")
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
            self._worlds[version] = stored.world if stored is not None else None
        return self._worlds[version]

    def _case(self, case_id: str, revision: Any) -> CaseState:
        """The case once its event ``revision`` happened."""
        if case_id not in self._cases:
            states: list[CaseState] = []
            for event in case_events(self._session, case_id):
                if event.revision != len(states) + 1:
                    raise LedgerIntegrityError(f"case {case_id} skips to revision {event.revision}")
                states.append(apply_case_event(states[-1] if states else None, event))
            self._cases[case_id] = states
        states = self._cases[case_id]
        if not isinstance(revision, int) or not 1 <= revision <= len(states):
            raise LedgerIntegrityError(f"case {case_id} has no event of revision {revision!r}")
        return states[revision - 1]


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
    customer_names: bool = False,
) -> SyncResult:
    """Log every pending outbox event, in order, exactly once, in the current log; sign a
    checkpoint if keyed.

    Each entry publishes what ``brightline.disclosure`` allows for its type; an event of
    a type it does not list stops the sync with LedgerIntegrityError, logging nothing.
    ``customer_names`` publishes the name of a restriction's customer (the root of its
    scope) in its public form; pass ``Settings.ledger_publishes_customer_names``. A
    ``signer`` not named after the current log's origin is refused (LedgerIntegrityError):
    a checkpoint it signed would not verify as that log's.
    """
    with store.write() as session:
        return sync_log(
            session, signer=signer, at=now or datetime.now(UTC), customer_names=customer_names
        )


def sync_log(
    session: Session, *, signer: NoteSigner | None, at: datetime, customer_names: bool
) -> SyncResult:
    """:func:`sync_ledger` inside the caller's write transaction (a seal logs the pending
    events in the log it seals, then starts the next one, in one transaction)."""
    log = current_log(session)
    if signer is not None and log.origin not in (None, signer.name):
        raise LedgerIntegrityError(
            f"the ledger key is {signer.name}'s but the current log is {log.origin} (log "
            f"{log.number}): a checkpoint signed with it would not be that log's (a process "
            "started before the log was sealed, such as `brightline serve`, must be restarted)"
        )
    position = consumer_position(session, CONSUMER)
    size = ledger_size(session, log=log.number)
    tiles = SqlTileStore(session, log=log.number)
    appender = TileAppender.resume(tiles, size)
    known = _Known(session, customer_names=customer_names)
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
    if appended:
        advance_consumer(session, CONSUMER, position, at=at)
    size += appended
    root = appender.root()
    note = None
    latest = latest_checkpoint(session, log=log.number)
    if signer is not None and size > 0 and (latest is None or latest.size != size):
        note = sign_checkpoint(Checkpoint(signer.name, size, root), signer)
        add_checkpoint(session, size=size, root=root, note=note, at=at, log=log.number)
        if log.origin is None:
            name_log(session, log.number, signer.name)
    return SyncResult(appended, size, root, note)


def pending(store: Store) -> bool:
    """Whether the outbox holds events the ledger has not logged (a cheap read)."""
    with store.read() as session:
        return outbox_head(session) > consumer_position(session, CONSUMER)


def settle_key_files(settings: Settings, store: Store) -> None:
    """Finish moving the key files of a seal that committed but died before it moved
    them (:func:`~brightline.service.ledger_keys.settle_keys`); a no-op otherwise."""
    if LedgerKeys.staged(settings).private.parent.is_dir():
        with store.read() as session:
            settle_keys(settings, ledger_logs(session))


def sync(settings: Settings, store: Store) -> SyncResult:
    """Sync with the deployment's key, if it has one (first finishing the move of the
    key files that a seal interrupted by a crash left half done)."""
    settle_key_files(settings, store)
    return sync_ledger(
        store,
        signer=LedgerKeys.of(settings).signer(),
        customer_names=settings.ledger_publishes_customer_names,
    )


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
