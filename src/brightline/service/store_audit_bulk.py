"""The store audit's fast path: the same checks as the walk, with the records of the three
histories that make up nearly all of a store (restriction events, case events, signals)
written as text straight from the rows the driver returns.

The walk (``brightline.service.store_audit``) turns every row into a value, derives the
event's record from it (``brightline.service.records``), serializes the record and then
the private record an entry commits to: five objects and two serializations per event. Here
a row whose fields need nothing but quoting gives the outbox payload it must have, and
the private record, as two strings; everything else — a row with a field to escape, a
time or JSON value not in the form the store writes, a payload that differs, every other
history, every ledger entry that does not match at once — goes through the walk's own
check of that one event (:meth:`_Audit.check_event`), which is the reference. So the texts
written here only ever decide that an event matches where the walk's check would say the
same: each is what orjson writes of the walk's record (``fast_json``), which the walk's
``compare`` accepts; each field put in as is has been checked to need no escaping.

:func:`audit_in_bulk` returns None at the first difference of any kind, without naming
it: the caller walks again, which names it with the walk's messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime
from itertools import islice, repeat
from typing import TYPE_CHECKING, Any, Final

from brightline.cases import CaseMove, SourceKind
from brightline.errors import BrightlineError
from brightline.ledger import CONTINUED
from brightline.policy import format_time
from brightline.service.ledger import CONSUMER
from brightline.service.lifecycle import EventKind
from brightline.service.store_audit_checks import Where, commits, fast_json
from brightline.service.store_audit_ledger import ENFORCEMENT
from brightline.store import StoredEvent, consumer_position
from brightline.store import history as tables
from brightline.store.history import LoggedEntry

if TYPE_CHECKING:
    from brightline.service.store_audit import StoreAuditReport, _Audit

_WORLD: Final = "world.imported"

#: A character JSON escapes (``canonical_json`` and orjson alike): a string without one is
#: its JSON text between quotes.
_ESCAPED: Final = re.compile(r'[\x00-\x1f"\\]')
#: A time as SQLite holds it (``UtcDateTime``), the year from 1000 on; a run of them
#: joined (each 26 characters long) is checked at once.
_TIME: Final = (
    r"[1-9]\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]) (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}"
)
_STORED_TIME: Final = re.compile(_TIME)
_STORED_TIMES: Final = re.compile(f"(?:{_TIME})*")
_RESTRICTION_TYPES: Final = frozenset(f"restriction.{kind.value}" for kind in EventKind)
_CASE_TYPES: Final = frozenset(f"case.{move.value}" for move in CaseMove)
_SIGNAL: Final = "signal.received"
_PUBLIC_SOURCE: Final = {kind.value: kind.public for kind in SourceKind}
#: JSON texts kept (a column's value and what orjson writes of it parsed), at most.
_KEPT: Final = 100_000


class _DiffersError(Exception):
    """A difference (or a row the fast path cannot read): the walk names it."""


def audit_in_bulk(walk: _Audit) -> StoreAuditReport | None:
    """Run ``walk``'s checks over its session's snapshot (read already), the three large
    histories written as text; None at the first difference. ``walk``'s readers of
    those three tables must be empty: a row is given to them where its check decides."""
    try:
        return _Bulk(walk).run()
    except (_DiffersError, BrightlineError, KeyError, TypeError, ValueError):
        return None


class _Entries:
    """The ledger's entries in order, taken a run of events at a time."""

    def __init__(self, bundles: Iterator[tables.EntryBundle], logs: int) -> None:
        self._bundles = bundles
        self.logs = logs
        self.publics: list[bytes] = []
        self.salts: list[bytes] = []
        self.ids: list[int] = []
        self.seqs: list[int] = []
        self.numbers: list[int] = []

    def take(self, n: int) -> tuple[list[bytes], list[bytes], list[int], list[int], list[int]]:
        """The next ``n`` entries: public forms, salts, outbox ids, indexes and logs."""
        while len(self.ids) < n:
            self._read()
        taken = (
            self.publics[:n],
            self.salts[:n],
            self.ids[:n],
            self.seqs[:n],
            self.numbers[:n],
        )
        self._drop(n)
        return taken

    def _read(self) -> None:
        bundle = next(self._bundles, None)
        if bundle is None:
            raise _DiffersError  # fewer entries than the logs' sizes
        width = len(bundle.outbox_ids)
        self.publics += bundle.publics
        self.salts += [bundle.salts[i : i + 32] for i in range(0, width * 32, 32)]
        self.ids += bundle.outbox_ids
        self.seqs += range(bundle.first, bundle.first + width)
        self.numbers += [bundle.log] * width

    def _drop(self, n: int) -> None:
        for kept in (self.publics, self.salts, self.ids, self.seqs, self.numbers):
            del kept[:n]


class _Bulk:
    def __init__(self, walk: _Audit) -> None:
        self.walk = walk
        session = walk.session
        self.tables = {
            "restriction_events": _rows(tables.raw_restriction_events(session)),
            "case_events": _rows(tables.raw_case_events(session)),
            "signals": _rows(tables.raw_signals(session)),
        }
        self.counts = dict.fromkeys(self.tables, 0)
        self.days: set[str] = set()
        self.texts: dict[str, str | None] = {}
        self.world_text = "null"
        self.entries: _Entries

    def run(self) -> StoreAuditReport:
        """Every event of the outbox, in order, against its entry: :meth:`_Audit.run`."""
        walk = self.walk
        session = walk.session
        sizes = tables.log_sizes(session)
        size = sum(n for _, n in sizes)
        cursor = consumer_position(session, CONSUMER)
        self.entries = _Entries(tables.entry_bundles(session, sizes=sizes), len(sizes))
        count = last = 0
        if size == 0:
            self._compare_restrictions(size)
        for rows in tables.raw_outbox_rows(session):
            if rows[-1][0] <= last:
                raise _DiffersError  # keyset pages always grow
            classes = [_CLASS.get(row[1], 0) for row in rows]
            start = 0
            while start < len(rows):
                # A run of events of the three histories, all logged or none; any other
                # event alone.
                logged = count < size
                end = start + 1
                if classes[start]:
                    limit = min(len(rows), start + (size - count) if logged else len(rows))
                    while end < limit and classes[end]:
                        end += 1
                run = rows[start:end]
                entries: list[LoggedEntry | None] = [None] * len(run)
                if logged:
                    entries = self._take(run)
                elif run[0][0] <= cursor:
                    raise _DiffersError  # not logged, but the cursor is past it
                self._run(run, classes[start:end], entries)
                count += len(run)
                last = run[-1][0]
                if count == size:
                    if cursor < last:
                        raise _DiffersError
                    self._compare_restrictions(size)
                start = end
        if count < size or cursor > last:
            raise _DiffersError
        return self._report(size, count - size)

    def _report(self, size: int, pending: int) -> StoreAuditReport:
        for rest in self.tables.values():
            if next(rest, None) is not None:
                raise _DiffersError  # a row without its event
        self.walk._check_left_over(size)
        report = self.walk._report(size, pending)
        return replace(report, rows={**report.rows, **self.counts})

    def _take(self, run: Sequence[tuple[Any, ...]]) -> list[LoggedEntry | None]:
        """The next entries, one for each event of ``run``."""
        publics, salts, ids, seqs, numbers = self.entries.take(len(run))
        if ids != [row[0] for row in run]:
            raise _DiffersError  # an entry does not record its event
        types = [row[1] for row in run]
        if 0 in seqs or CONTINUED in types:
            for seq, log, event_type in zip(seqs, numbers, types, strict=True):
                if (seq == 0 and log > 1) != (event_type == CONTINUED):
                    raise _DiffersError  # a log after the first starts with its seal's
        logs = repeat(self.entries.logs, len(run))
        return list(map(LoggedEntry, seqs, ids, publics, salts, numbers, logs))

    def _run(
        self,
        run: Sequence[tuple[Any, ...]],
        classes: list[int],
        entries: list[LoggedEntry | None],
    ) -> None:
        """Check a run of outbox events with their entries (None: not logged): the three
        histories' as text, any other's (alone) by the walk."""
        if not classes[0]:
            (row,) = run
            self._check(row, entries[0], None)
            if row[1] == _WORLD:
                version = self.walk.world_version
                self.world_text = "null" if version is None else str(version)
            return
        for kind, build in ((1, self._restrictions), (2, self._cases), (3, self._signals)):
            mine = [i for i, c in enumerate(classes) if c == kind]
            if mine:
                build([run[i] for i in mine], [entries[i] for i in mine])

    # -- the walk's check, for one event ---------------------------------------------------

    def _check(
        self,
        row: tuple[Any, ...],
        entry: LoggedEntry | None,
        given: tuple[str, Any] | None,
    ) -> None:
        """The walk's check of the event ``row``, given the row of its table taken for
        it (if any)."""
        event_id, event_type, payload, created = row
        if given is not None:
            name, value = given
            getattr(self.walk, name).give(value)
        where = Where((event_id, event_type, payload, tables.stored_time(created)), entry)
        self.walk.check_event(where)

    def _compare_restrictions(self, size: int) -> None:
        if self.walk.restrictions.compare(size, self.walk.now) is not None:
            raise _DiffersError

    def _matches(
        self,
        run: list[tuple[Any, ...]],
        entries: list[LoggedEntry | None],
        texts: list[tuple[str, str] | None],
    ) -> list[bool]:
        """Which events of ``run`` are their texts: the payload, and the private record
        that their entry (if any) commits to."""
        found = []
        for row, entry, text in zip(run, entries, texts, strict=True):
            found.append(
                text is not None
                and text[0] == row[2]
                and (entry is None or commits(entry.public, entry.salt, text[1].encode(), row[1]))
            )
        return found

    def _rows(self, name: str, n: int) -> list[tuple[Any, ...]]:
        rows = list(islice(self.tables[name], n))
        if len(rows) < n:
            raise _DiffersError  # an event without its row
        self.counts[name] += n
        return rows

    # -- each large history, as text -------------------------------------------------------

    def _restrictions(self, run: list[tuple[Any, ...]], entries: list[LoggedEntry | None]) -> None:
        raws = self._rows("restriction_events", len(run))
        events = [tables.restriction_event(raw) for raw in raws]
        times = self._times([raw[5] for raw in raws], [e.at for e in events])
        plain = _plain_each([r[1] for r in raws], [r[3] for r in raws], [r[4] for r in raws])
        loose = _plain_each([r[6] for r in raws], [r[7] for r in raws], nullable=True)
        ints = _ints([r[0] for r in raws], [r[2] for r in raws])
        world = self.world_text
        texts = [
            _restriction_text(row, raw, event, time, world)
            if time is not None and p and q and i
            else None
            for row, raw, event, time, p, q, i in zip(
                run, raws, events, times, plain, loose, ints, strict=True
            )
        ]
        restrictions = self.walk.restrictions
        for row, entry, event, found in zip(
            run, entries, events, self._matches(run, entries, texts), strict=True
        ):
            if not found:
                self._check(row, entry, ("restriction_events", event))
                continue
            if restrictions.replay(event) is not None:
                raise _DiffersError
            if (
                entry is not None
                and row[1] in ENFORCEMENT
                and restrictions.act(event, entry) is not None
            ):
                raise _DiffersError

    def _cases(self, run: list[tuple[Any, ...]], entries: list[LoggedEntry | None]) -> None:
        raws = self._rows("case_events", len(run))
        times = self._times([raw[5] for raw in raws], None)
        plain = _plain_each([r[1] for r in raws], [r[3] for r in raws], [r[4] for r in raws])
        ints = _ints([r[2] for r in raws])
        texts_of = self._json
        world = self.world_text
        texts = [
            _case_text(row, raw, time, texts_of(raw[6], dict), world)
            if time is not None and p and i
            else None
            for row, raw, time, p, i in zip(run, raws, times, plain, ints, strict=True)
        ]
        revisions = self.walk.case_revisions
        for row, entry, raw, found in zip(
            run, entries, raws, self._matches(run, entries, texts), strict=True
        ):
            case, revision = raw[1], raw[2]
            if found and revision == revisions.get(case, 0) + 1:
                revisions[case] = revision
            else:
                self._check(row, entry, ("case_events", tables.case_event(raw)))

    def _signals(self, run: list[tuple[Any, ...]], entries: list[LoggedEntry | None]) -> None:
        raws = self._rows("signals", len(run))
        times = self._times([raw[1] for raw in raws], None)
        alerts = _plain_each([r[7] for r in raws], nullable=True)
        ints = _ints([r[0] for r in raws])
        texts_of = self._json
        world = self.world_text
        texts = [
            _signal_text(row, raw, time, texts_of(raw[3], list), texts_of(raw[4], list), world)
            if time is not None and a and i
            else None
            for row, raw, time, a, i in zip(run, raws, times, alerts, ints, strict=True)
        ]
        for row, entry, raw, found in zip(
            run, entries, raws, self._matches(run, entries, texts), strict=True
        ):
            if not found:
                self._check(row, entry, ("signals", tables.signal(raw)))

    def _times(self, stored: list[Any], parsed: list[datetime] | None) -> list[str | None]:
        """``format_time`` of stored times: SQLite's texts cut and joined where they have
        the form the store writes (each day checked once), else formatted."""
        if (
            set(map(type, stored)) == {str}
            and set(map(len, stored)) == {26}
            and _STORED_TIMES.fullmatch("".join(stored))
        ):
            days = {text[:10] for text in stored} - self.days
            try:
                for day in days:
                    date.fromisoformat(day)
            except ValueError:  # no such day: the walk decides
                return [self._time(text, None) for text in stored]
            self.days |= days
            return [
                f"{text[:10]}T{text[11:19]}Z"
                if text.endswith(".000000")
                else f"{text[:10]}T{text[11:26]}Z"
                for text in stored
            ]
        if parsed is None:
            return [self._time(value, None) for value in stored]
        return [self._time(value, at) for value, at in zip(stored, parsed, strict=True)]

    def _time(self, stored: Any, parsed: datetime | None) -> str | None:
        if type(stored) is str:
            if len(stored) != 26 or not _STORED_TIME.fullmatch(stored):
                return None
            try:
                date.fromisoformat(stored[:10])
            except ValueError:
                return None
            if stored.endswith(".000000"):
                return f"{stored[:10]}T{stored[11:19]}Z"
            return f"{stored[:10]}T{stored[11:26]}Z"
        try:
            return format_time(parsed or tables.stored_time(stored))
        except BrightlineError:
            return None

    def _json(self, text: Any, kind: type) -> str | None:
        """What orjson writes of a JSON column's value parsed, where it is a ``kind``."""
        if type(text) is not str:
            return None
        texts = self.texts
        if text in texts:
            return texts[text]
        try:
            value = tables.stored_json(text, "a history row")
        except BrightlineError:
            return None
        written = fast_json(value) if type(value) is kind else None
        found = None if written is None else written.decode()
        if len(texts) >= _KEPT:
            texts.clear()
        texts[text] = found
        return found


def _restriction_text(
    row: tuple[Any, ...], raw: tuple[Any, ...], event: StoredEvent, time: str, world: str
) -> tuple[str, str] | None:
    """``restriction_record``'s payload and private record, as orjson writes them."""
    seq, rid, revision, kind, actor, at, why, case = raw[:8]
    if at != row[3] or row[1][12:] != kind:
        return None
    body = event.body
    if body is None:
        tail = ""
    else:
        text = fast_json(body) if type(body) is dict else None
        if text is None:
            return None
        tail = f',"restriction_body":{text.decode()}'
    case_text = "null" if case is None else f'"{case}"'
    why_text = "null" if why is None else f'"{why}"'
    head = f'{{"actor":"{actor}","at":"{time}","case":{case_text},"event":{seq},"kind":"{kind}",'
    rest = (
        f'"restriction":"{rid}"{tail},"revision":{revision},"why":{why_text},'
        f'"world_version":{world}}}'
    )
    return head + rest, f'{head}"outbox_event":{row[0]},{rest}'


def _case_text(
    row: tuple[Any, ...], raw: tuple[Any, ...], time: str, data: str | None, world: str
) -> tuple[str, str] | None:
    """``case_record``'s payload and private record, as orjson writes them."""
    _, case, revision, kind, actor, at, _, outbox_id = raw
    if data is None or at != row[3] or outbox_id != row[0] or row[1][5:] != kind:
        return None
    head = f'{{"actor":"{actor}","at":"{time}","case":"{case}","data":{data},"kind":"{kind}",'
    rest = f'"revision":{revision},"world_version":{world}}}'
    return head + rest, f'{head}"outbox_event":{row[0]},{rest}'


def _signal_text(
    row: tuple[Any, ...],
    raw: tuple[Any, ...],
    time: str,
    nodes: str | None,
    policies: str | None,
    world: str,
) -> tuple[str, str] | None:
    """``signal_record``'s payload and private record, as orjson writes them."""
    id_, at, source, _, _, _, _, alert = raw
    public = _PUBLIC_SOURCE.get(source)
    if nodes is None or policies is None or public is None or at != row[3]:
        return None
    alert_text = "null" if alert is None else f'"{alert}"'
    head = f'{{"alert":{alert_text},"at":"{time}","nodes":{nodes},'
    rest = f'"policies":{policies},"signal":"S-{id_}","source":"{public}","world_version":{world}}}'
    return head + rest, f'{head}"outbox_event":{row[0]},{rest}'


def _plain_each(*columns: list[Any], nullable: bool = False) -> list[bool]:
    """For each row, whether its values of ``columns`` are strings that JSON writes
    between quotes as they are (or None, if ``nullable``)."""
    values = [v for column in columns for v in column if not (nullable and v is None)]
    if set(map(type, values)) <= {str} and not _ESCAPED.search("".join(values)):
        return [True] * len(columns[0])
    return [
        all((nullable and v is None) or (type(v) is str and not _ESCAPED.search(v)) for v in row)
        for row in zip(*columns, strict=True)
    ]


def _ints(*columns: list[Any]) -> list[bool]:
    """For each row, whether its values of ``columns`` are integers (not booleans)."""
    if all(set(map(type, column)) <= {int} for column in columns):
        return [True] * len(columns[0])
    return [all(type(v) is int for v in row) for row in zip(*columns, strict=True)]


def _rows(batches: Iterator[Sequence[tuple[Any, ...]]]) -> Iterator[tuple[Any, ...]]:
    for rows in batches:
        yield from rows


#: Each large history's event types, by number (0: any other).
_CLASS: Final = {
    **dict.fromkeys(_RESTRICTION_TYPES, 1),
    **dict.fromkeys(_CASE_TYPES, 2),
    _SIGNAL: 3,
}
