"""A store with a long, consistent history, written in bulk, for the store-audit benchmark.

Writing a million changes through the services would take hours, so the rows are
inserted directly, in batches; but every outbox payload is what the writers write (the
same ``brightline.service.records`` functions derive it from the rows), every ledger
entry is sealed the way the sync seals it (``private_record``, ``brightline.disclosure``)
and the log is signed: the audit cannot tell this history from one written by people.

The mix, per ten entries: two restrictions proposed and approved (every tenth also
lifted, in the place of a signal), one case opened, reviewed, found and closed, and
two signals; one world import first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from brightline.cases import CaseEvent, CaseMove
from brightline.disclosure import Facts, Granularity, public_fields, public_time, published
from brightline.ledger import (
    Checkpoint,
    LedgerEntry,
    NoteSigner,
    TileAppender,
    leaf_hash,
    sign_checkpoint,
)
from brightline.service.ledger import CONSUMER, private_record
from brightline.service.records import (
    case_record,
    restriction_record,
    signal_record,
    world_record,
)
from brightline.service.world_diff import diff_worlds
from brightline.store import (
    Store,
    StoredEvent,
    add_world_version,
    advance_consumer,
    world_digest,
)
from brightline.store.case_models import CaseEventRow, CaseRow, SignalRow
from brightline.store.cases import StoredSignal
from brightline.store.history import StoredWorldVersion
from brightline.store.ledger import NewLedgerEntry, SqlTileStore, add_checkpoint, insert_entries
from brightline.store.models import OutboxEvent, RestrictionEvent
from brightline.store.outbox import OutboxEntry, OutboxRecord, canonical_json
from brightline.world import load_world

EXAMPLE = Path(__file__).parents[1] / "examples" / "world"
START = datetime(2025, 1, 1, tzinfo=UTC)
_BATCH = 20_000


@dataclass(slots=True)
class _Batch:
    """Rows of every table for one transaction, and the outbox records in order."""

    restriction_events: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    case_events: list[dict[str, Any]]
    signals: list[dict[str, Any]]
    outbox: list[tuple[OutboxRecord, dict[str, Any] | None, str | None]]

    @classmethod
    def empty(cls) -> _Batch:
        return cls([], [], [], [], [])


def _body(n: int) -> dict[str, Any]:
    return {
        "id": f"r-{n}",
        "scope": "unit-9900",
        "actions": ["ai.speech:transcribe", "storage.*:*"],
        "regions": ["westeurope"],
        "exempt": [],
        "mode": "enforce",
        "reason": {"policy": "mass-surveillance"},
    }


class _Writer:
    def __init__(self, version: int) -> None:
        self.version = version
        self.seq = 0
        self.case_seq = 0
        self.outbox_id = 1  # the world import's
        self.restrictions = 0
        self.cases = 0
        self.signals = 0
        self.entries = 1

    def _time(self) -> datetime:
        return START + timedelta(seconds=self.entries)

    def _restriction(self, batch: _Batch, n: int, kind: str, revision: int, body: Any) -> None:
        self.seq += 1
        at = self._time()
        event = StoredEvent(
            self.seq,
            f"r-{n}",
            revision,
            kind,
            f"person-{revision}",
            at,
            None,
            None,
            body,
            None,
            "0" * 64,
        )
        batch.restriction_events.append(
            {
                "seq": event.seq,
                "restriction_id": event.restriction_id,
                "revision": revision,
                "kind": kind,
                "actor": event.actor,
                "at": at,
                "why": None,
                "case_id": None,
                "body": None if body is None else canonical_json(body),
                "idempotency_key": None,
                "request_digest": event.request_digest,
            }
        )
        record = restriction_record(event, world_version=self.version)
        batch.outbox.append((record, _body(n), f"R-{n}"))
        self.entries += 1

    def _case_event(self, batch: _Batch, case: str, revision: int, move: CaseMove) -> None:
        self.case_seq += 1
        at = self._time()
        event = CaseEvent(self.case_seq, case, revision, move, "investigator", at, {"n": revision})
        record = case_record(event, world_version=self.version)
        batch.outbox.append((record, None, None))
        batch.case_events.append(
            {
                "seq": event.seq,
                "case_id": case,
                "revision": revision,
                "kind": move.value,
                "actor": event.actor,
                "at": at,
                "data": canonical_json(dict(event.data)),
                "outbox_id": self.outbox_id + len(batch.outbox),
            }
        )
        self.entries += 1

    def _signal(self, batch: _Batch) -> None:
        self.signals += 1
        at = self._time()
        signal = StoredSignal(
            self.signals,
            at,
            "anonymous",
            ("unit-9900",),
            ("mass-surveillance",),
            "a report",
            (),
            None,
        )
        batch.signals.append(
            {
                "id": signal.id,
                "received_at": at,
                "source_kind": signal.source_kind,
                "nodes": canonical_json(list(signal.nodes)),
                "policies": canonical_json(list(signal.policies)),
                "summary": signal.summary,
                "references": "[]",
                "alert_id": None,
                "recorded_by": "casey",
            }
        )
        batch.outbox.append((signal_record(signal, world_version=self.version), None, None))
        self.entries += 1

    def unit(self, batch: _Batch) -> None:
        """Ten entries."""
        for _ in range(2):
            self.restrictions += 1
            n = self.restrictions
            self._restriction(batch, n, "proposed", 1, _body(n))
            self._restriction(batch, n, "approved", 2, None)
        self.cases += 1
        case = f"C-{self.cases}"
        batch.cases.append(
            {"id": case, "number": self.cases, "opened_at": self._time(), "opened_by": "inv"}
        )
        moves = (CaseMove.OPENED, CaseMove.REVIEW_STARTED, CaseMove.FINDING_RECORDED)
        for revision, move in enumerate((*moves, CaseMove.CLOSED), start=1):
            self._case_event(batch, case, revision, move)
        if self.cases % 10 == 0:  # a lift, in the place of a signal
            self._restriction(batch, self.restrictions, "lift-proposed", 3, None)
            self._restriction(batch, self.restrictions, "lift-approved", 4, None)
        else:
            self._signal(batch)
            self._signal(batch)


def _sealed(
    records: Sequence[tuple[OutboxRecord, dict[str, Any] | None, str | None]],
    first_id: int,
    granularity: Granularity,
) -> Iterator[tuple[dict[str, Any], NewLedgerEntry]]:
    for offset, (record, body, ref) in enumerate(records):
        outbox_id = first_id + offset
        payload = canonical_json(record.payload)
        event = OutboxEntry(outbox_id, record.event_type, payload, record.at)
        disclosed = {}
        if public_fields(record.event_type):
            facts = Facts(restriction=body, reference=ref, granularity=granularity)
            disclosed = published(record.event_type, json.loads(payload), facts)
        entry = LedgerEntry.seal(
            event_type=record.event_type,
            time=public_time(record.at, granularity.time),
            record=private_record(event),
            disclosed=disclosed,
        )
        row = {
            "id": outbox_id,
            "event_type": record.event_type,
            "payload": payload,
            "created_at": record.at,
        }
        yield row, NewLedgerEntry(outbox_id, entry.public_bytes(), entry.salt)


def write_history(store: Store, entries: int, signer: NoteSigner) -> int:
    """Write about ``entries`` ledger entries of consistent history; the log's size."""
    granularity = Granularity()
    world = load_world(EXAMPLE)
    appender = TileAppender()
    with store.write() as session:
        version = add_world_version(session, world, actor="setup", source="bench", at=START)
        stored = StoredWorldVersion(version, START, "setup", "bench", world_digest(world))
        record = world_record(stored, counts=diff_worlds(None, world).counts())
        _append(session, appender, [(record, None, None)], 1, granularity)
    writer = _Writer(version)
    while writer.entries < entries:
        batch = _Batch.empty()
        while len(batch.outbox) < _BATCH and writer.entries < entries:
            writer.unit(batch)
        with store.write() as session:
            connection = session.connection()
            for model, rows in (
                (RestrictionEvent, batch.restriction_events),
                (CaseRow, batch.cases),
                (CaseEventRow, batch.case_events),
                (SignalRow, batch.signals),
            ):
                if rows:
                    connection.execute(insert(model.__table__), rows)  # type: ignore[arg-type]
            _append(session, appender, batch.outbox, writer.outbox_id + 1, granularity)
        writer.outbox_id += len(batch.outbox)
    size = writer.outbox_id
    with store.write() as session:
        root = appender.root()
        note = sign_checkpoint(Checkpoint(signer.name, size, root), signer)
        add_checkpoint(session, size=size, root=root, note=note, at=START)
        advance_consumer(session, CONSUMER, size, at=START)
    return size


def _append(
    session: Session,
    appender: TileAppender,
    records: Sequence[tuple[OutboxRecord, dict[str, Any] | None, str | None]],
    first_id: int,
    granularity: Granularity,
) -> None:
    rows, entries = zip(*_sealed(records, first_id, granularity), strict=True)
    session.connection().execute(insert(OutboxEvent.__table__), list(rows))  # type: ignore[arg-type]
    insert_entries(session, first_id - 1, list(entries))
    SqlTileStore(session).write_tiles(appender.append(leaf_hash(e.public) for e in entries))
