"""The store audit's checks of one outbox event: against the row it belongs to, and
against its ledger entry. ``brightline.service.store_audit`` walks the events; each
check raises :class:`StoreDivergenceError` through :meth:`Where.diverged`, which names
the event, its ledger index and the row it matched.

Payloads and records are serialized with orjson first, for speed; where its text
differs from ``canonical_json``'s (floats, say) the exact comparison decides.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import orjson

from brightline.cases import CaseEvent
from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger import parse_public_form
from brightline.ledger.entries import commitment
from brightline.service.ledger import private_record
from brightline.store import StoredEvent
from brightline.store.cases import StoredGrant, StoredGuardApproval, StoredSignal
from brightline.store.history import LoggedEntry, StoredKey, StoredRevocation, StoredWorldVersion
from brightline.store.outbox import OutboxEntry, OutboxRecord, canonical_json

_SORTED: Final = orjson.OPT_SORT_KEYS
#: A public form as ``LedgerEntry.public_bytes`` writes it starts with its commitment.
_COMMITMENT: Final = b'{"commitment":"'


class StoreDivergenceError(LedgerIntegrityError):
    """The store and its ledger disagree. ``event`` names the first divergent event (its
    table and key, or its outbox id); ``index`` is its ledger index (None: not logged) in
    log number ``log`` (None with it)."""

    def __init__(
        self, message: str, *, event: str, index: int | None, log: int | None = None
    ) -> None:
        self.event = event
        self.index = index
        self.log = log if index is not None else None
        super().__init__(message)


class Where:
    """The outbox event being checked, its ledger entry (None: not logged yet) and the
    history row it matched (None: none yet, or a type without a table)."""

    __slots__ = ("created_at", "entry", "event_id", "event_type", "payload", "row")

    def __init__(self, row: tuple[int, str, str, datetime], entry: LoggedEntry | None) -> None:
        self.event_id, self.event_type, self.payload, self.created_at = row
        self.entry = entry
        self.row: object = None

    @property
    def index(self) -> int | None:
        return None if self.entry is None else self.entry.seq

    def outbox_entry(self) -> OutboxEntry:
        return OutboxEntry(self.event_id, self.event_type, self.payload, self.created_at)

    def diverged(self, detail: str, *, missing: str | None = None) -> StoreDivergenceError:
        """The error naming this event's row (or ``missing``, the row it lacks; else the
        outbox event itself)."""
        logged = "not yet logged" if self.entry is None else self.entry.name()
        named = missing or (
            row_name(self.row) if self.row is not None else f"outbox event {self.event_id}"
        )
        return StoreDivergenceError(
            f"store audit: outbox event {self.event_id} ({self.event_type}, {logged}): {detail}",
            event=named,
            index=self.index,
            log=None if self.entry is None else self.entry.log,
        )


def row_name(row: object) -> str:
    """How a message names a history row: its table and key."""
    if isinstance(row, StoredEvent):
        return f"restriction_events seq {row.seq} ({row.restriction_id} r{row.revision})"
    if isinstance(row, CaseEvent):
        return f"case_events seq {row.seq} ({row.case_id} r{row.revision})"
    if isinstance(row, StoredGuardApproval):
        return f"guard_approvals seq {row.seq} ({row.restriction_id})"
    if isinstance(row, StoredSignal):
        return f"signals id {row.id}"
    if isinstance(row, StoredGrant):
        return f"role_grant_events seq {row.seq}"
    if isinstance(row, StoredKey):
        return f"api_keys id {row.id}"
    if isinstance(row, StoredRevocation):
        return f"api_key_revocations key {row.key_id}"
    if isinstance(row, StoredWorldVersion):
        return f"world_versions id {row.id}"
    if isinstance(row, tuple) and row:
        return row_name(row[0])  # a case event with its outbox id
    return repr(row)


def payload_key(where: Where) -> str:
    try:
        payload = json.loads(where.payload)
    except ValueError as exc:
        raise where.diverged(f"its payload is not JSON: {exc}") from exc
    key = payload.get("key") if isinstance(payload, dict) else None
    if not isinstance(key, str):
        raise where.diverged("its payload names no API key")
    return key


def fast_json(value: Any) -> bytes | None:
    """``value`` as orjson writes it with sorted keys: ``canonical_json``'s text for the
    values records hold, a few times faster; None where orjson refuses (integers beyond
    64 bits). Callers fall back to the exact path when this text does not match."""
    try:
        return orjson.dumps(value, option=_SORTED)
    except TypeError:  # orjson.JSONEncodeError
        return None


def compare(where: Where, record: OutboxRecord) -> None:
    """The outbox event is the one its row gives: type, payload and time."""
    if record.event_type != where.event_type:
        raise where.diverged(f"its row gives an event of type {record.event_type!r}")
    text = where.payload
    fast = fast_json(record.payload)
    if fast != text.encode() and canonical_json(record.payload) != text:
        raise where.diverged(f"its row gives another payload: {_difference(record, text)}")
    if record.at != where.created_at:
        raise where.diverged(
            f"its row was written at {record.at.isoformat()}, the event at "
            f"{where.created_at.isoformat()}"
        )


def check_entry(where: Where, entry: LoggedEntry, record: OutboxRecord | None) -> None:
    """The entry's public form names the event's type and commits to its private record.

    The fast path rebuilds the record from the derived payload, which the outbox's
    equals (``private_record``: the payload and the event's id) and reads the canonical
    public form by position; anything else takes the exact path.
    """
    public = entry.public
    rebuilt = None
    if record is not None and public.startswith(_COMMITMENT) and public[79:81] == b'",':
        rebuilt = fast_json({**record.payload, "outbox_event": where.event_id})
    if rebuilt is None or not commits(public, entry.salt, rebuilt, where.event_type):
        check_entry_exactly(where, entry)


def commits(public: bytes, salt: bytes, record: bytes, event_type: str) -> bool:
    """The fast check of a public form: canonical (its commitment first, its type and
    version last), of ``event_type``, committing to ``record`` (a private record's text)
    with ``salt``. False says nothing: ``check_entry_exactly`` decides."""
    if not (public.startswith(_COMMITMENT) and public[79:81] == b'",'):
        return False
    digest = hashlib.sha256(salt + record).hexdigest().encode()
    ending = _ENDINGS.get(event_type) or _ending(event_type)
    return (
        public[15:79] == digest and public.endswith(ending) and public.count(b'"commitment"') == 1
    )


#: The end of a canonical public form of each type (``_ending``), made once per type.
_ENDINGS: dict[str, bytes] = {}


def _ending(event_type: str) -> bytes:
    ending = b',"type":"' + event_type.encode() + b'","v":1}'
    if len(_ENDINGS) < 1_000:  # types are few; a store of junk types must not fill memory
        _ENDINGS[event_type] = ending
    return ending


def check_entry_exactly(where: Where, entry: LoggedEntry) -> None:
    try:
        form = parse_public_form(entry.public)
        expected = bytes.fromhex(str(form["commitment"]))
    except (InvalidInputError, ValueError) as exc:
        raise where.diverged(f"its entry's public form does not parse: {exc}") from exc
    if form["type"] != where.event_type:
        raise where.diverged(f"its entry is of type {form['type']!r}")
    try:
        record = private_record(where.outbox_entry())
    except ValueError as exc:
        raise where.diverged(f"its payload is not JSON: {exc}") from exc
    if not hmac.compare_digest(expected, commitment(entry.salt, record)):
        raise where.diverged("its entry's commitment does not match its record")


def unlinked(where: Where, entry: LoggedEntry) -> StoreDivergenceError:
    """Entry i does not record the i-th outbox event."""
    if entry.outbox_id < where.event_id:
        return StoreDivergenceError(
            f"store audit: {entry.name()} ({public_type(entry)}) records outbox "
            f"event {entry.outbox_id}, which is not in the outbox (the next event there is "
            f"{where.event_id})",
            event=f"outbox event {entry.outbox_id}",
            index=entry.seq,
            log=entry.log,
        )
    return where.diverged(
        f"the ledger does not record it: {entry.name()} records outbox event "
        f"{entry.outbox_id} ({public_type(entry)})"
    )


def public_type(entry: LoggedEntry) -> str:
    """The entry's type, and the restriction an enforcement act names."""
    try:
        form = parse_public_form(entry.public)
    except InvalidInputError:
        return "an unreadable entry"
    public = form.get("public")
    named = public.get("restriction") if isinstance(public, Mapping) else None
    return f"{form['type']}" + ("" if named is None else f" of {named}")


def _difference(record: OutboxRecord, text: str) -> str:
    """Where the payloads differ, not what they hold: the values are private records,
    which ``ledger verify`` (any staff) must not print; ``ledger disclose`` shows them to
    auditors."""
    try:
        got = json.loads(text)
    except ValueError:
        return "the outbox holds no JSON"
    path = _first_difference(got, dict(record.payload), "")
    return f"{path!r} differs" if path else "it differs"


def _first_difference(have: Any, want: Any, path: str) -> str:
    """The first path (``a.b``) at which two JSON values differ."""
    if isinstance(have, dict) and isinstance(want, dict):
        for key in sorted(set(have) | set(want)):
            if canonical_json(have.get(key)) != canonical_json(want.get(key)):
                where = f"{path}.{key}" if path else str(key)
                return _first_difference(have.get(key), want.get(key), where)
    return path
