"""The store audit: the ledger proves the store, event by event.

The tree checks (``verify_store``) prove that the log is what its signed checkpoints say.
This audit proves that the log is the store's history: it replays every history table,
the outbox and the ledger's entries side by side, in order, and requires

1. every history row to have exactly one outbox event, equal to the one
   ``brightline.service.records`` derives from the row (type, payload, time), in the
   order the table wrote them; and every outbox event to belong to exactly one row, except
   the types with no history table (``transparency.released``: its payload is the
   release's only record; ``ledger.continued``: a seal's);
2. ledger entry *i* to record the *i*-th outbox event, for every entry, and every outbox
   event up to the ledger's cursor to have its entry, where *i* counts the entries of
   every log of the store in order (log 1, then 2, …: sealed logs are history too); entry
   0 of each log after the first records its seal's ``ledger.continued`` event, and no
   other entry does;
3. each entry's public form to name the event's type and commit to its private record
   (``brightline.service.ledger.private_record``) with the entry's salt; an enforcement
   act's form to name the restriction's reference and kind;
4. the restrictions in force derived from the ledger's public forms to equal those the
   store derives: for every restriction, the phase (active or lifted), mode, policy,
   regions and window its last enforcement entry publishes equal what
   ``brightline.disclosure`` publishes of the store's state (as of the ledger's last
   entry), so that both agree on what is in force at any time.

The first difference, in log order, raises :class:`StoreDivergenceError` naming the event
(its table and key) and its ledger index (and log). Everything is read in one snapshot,
in batches (``brightline.store.history``): memory holds one state per restriction and
case, not the history. The audit first takes its fast path (:mod:`.store_audit_bulk`:
the three large histories' records written as text straight from the rows, this walk's
own check of an event deciding everything else), in one process; where it finds a
difference, the walk runs (a large store's in two processes, each matching part of the
histories: :func:`audit_store`), and any difference sends it back to the walk in one
process, which names it. Payloads and records are serialized with orjson first, for
speed; where its text differs from ``canonical_json``'s (floats, say) the exact
comparison decides.

What it cannot see: a change forged consistently in every table — a legal step, its row
and its outbox event written as Brightline would, after the last one — is a change like
any other; the store does not authenticate its writers. Once logged, it is in the ledger
for good.
"""

from __future__ import annotations

import gc
import multiprocessing
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import chain
from multiprocessing.connection import Connection
from typing import Any, Final, Generic, TypeVar

from sqlalchemy.orm import Session

from brightline.bundle import BUNDLE_ISSUED
from brightline.cases import CaseMove
from brightline.disclosure import Granularity
from brightline.errors import BrightlineError
from brightline.ledger import CONTINUED
from brightline.service.ledger import CONSUMER
from brightline.service.lifecycle import EventKind
from brightline.service.records import (
    BOOTSTRAPPED,
    KEY_CREATED,
    KEY_REVOKED,
    bootstrap_record,
    case_record,
    grant_record,
    guard_record,
    key_created_record,
    key_revoked_record,
    restriction_record,
    signal_record,
    world_record,
)
from brightline.service.store_audit_bulk import audit_in_bulk
from brightline.service.store_audit_checks import (
    StoreDivergenceError,
    Where,
    check_entry,
    compare,
    payload_key,
    public_type,
    row_name,
    unlinked,
)
from brightline.service.store_audit_ledger import (
    ALL,
    ENFORCEMENT,
    FIRST,
    OTHERS,
    SECOND,
    LedgerSide,
    ledger_walk,
)
from brightline.service.store_audit_restrictions import (
    ActFields,
    Divergence,
    Restrictions,
)
from brightline.service.world_diff import diff_worlds
from brightline.store import (
    Store,
    StoredEvent,
    consumer_position,
    open_store,
    outbox_head,
    world_by_version,
    world_digest,
)
from brightline.store import history as tables
from brightline.store.history import LoggedEntry, StoredKey
from brightline.store.outbox import OutboxRecord
from brightline.world import World

#: Outbox event types that have no history table: the event is the only record (a
#: release's figures; a seal's ``ledger.continued``, entry 0 of the log it starts).
WITHOUT_TABLE: Final = frozenset({"transparency.released", BUNDLE_ISSUED, CONTINUED})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class StoreAuditReport:
    entries: int
    pending: int
    rows: Mapping[str, int]
    approved: int
    in_force: int

    def notes(self) -> tuple[str, ...]:
        counted = ", ".join(f"{n} {name}" for name, n in self.rows.items() if n)
        return (
            f"store audit: {self.entries} entries record the outbox in order and commit to "
            f"its records; {self.pending} events not yet logged",
            f"every history row has its one outbox event ({counted or 'no rows'})",
            f"{self.approved} restrictions approved: the ledger's public forms and the store "
            f"agree on each ({self.in_force} in force now)",
        )


#: From this many ledger entries on, two processes share the audit (below, starting the
#: second costs more than it saves).
PARALLEL_FROM: Final = 50_000


def audit_store(
    store: Store,
    *,
    granularity: Granularity | None = None,
    now: datetime | None = None,
    parallel: bool | None = None,
    bulk: bool = True,
) -> StoreAuditReport:
    """Run the audit (see the module's docstring) in one read-only snapshot.

    ``granularity`` must be the deployment's (``granularity_of(settings)``): windows are
    compared as its public forms round them. Raises :class:`StoreDivergenceError`.

    The fast path (:func:`audit_in_bulk_alone`, in this process) runs first, unless
    ``bulk`` is False; where it finds a difference, the walk below names it.

    A store of :data:`PARALLEL_FROM` entries or more (or any, with ``parallel=True``; none
    with False) is audited by two processes: this one matches restrictions, guard
    approvals and world imports (and the types without a table) with their events, while
    a forked one checks that the entries record the outbox in order
    (:mod:`.store_audit_ledger`) and matches the histories of :data:`SECOND`; each checks
    its own events' entries. Where either finds a difference, the audit walks again in
    this process alone, which names the first one: both ways raise the same error.
    """
    granularity = granularity or Granularity()
    now = now or datetime.now(UTC)
    if bulk:
        found = audit_in_bulk_alone(store, granularity=granularity, now=now)
        if found is not None:
            return found
    url = _url_for_another_process(store)
    if parallel is not False and url is not None:
        report = _audit_in_two(store, url, granularity, now, always=parallel is True)
        if report is not None:
            return report
    with store.read() as session, _without_gc():
        tables.snapshot(session)
        return _Audit(session, granularity, now).run()


def audit_in_bulk_alone(
    store: Store, *, granularity: Granularity | None = None, now: datetime | None = None
) -> StoreAuditReport | None:
    """The audit's fast path (:mod:`.store_audit_bulk`) alone, in one read-only snapshot:
    the report the walk gives, or None where the walk would raise (unnamed)."""
    with store.read() as session, _without_gc():
        tables.snapshot(session)
        walk = _Audit(session, granularity or Granularity(), now or datetime.now(UTC))
        return walk.run_in_bulk()


def audit_beside(
    store: Store,
    check: Callable[[Store], _T],
    *,
    granularity: Granularity | None = None,
    now: datetime | None = None,
    parallel: bool | None = None,
    bulk: bool = True,
) -> tuple[_T, StoreAuditReport]:
    """``check(store)`` (the tree checks, say: ``ledger verify`` runs them first) and the
    store audit, at the same time: the check in a forked process, with its own connection,
    while this one audits. The check's failure comes first, as if it had run first: where
    it fails in the other process, it runs again here, which raises its own error. Its
    result must pickle. Run one after the other where no other process can open the store
    (SQLite in memory). ``parallel`` and ``bulk`` as :func:`audit_store`'s."""
    url = _url_for_another_process(store)
    if url is None:
        return check(store), audit_store(store, granularity=granularity, now=now, parallel=parallel)
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=_check_process, args=(sending, url, store.read_only, check), daemon=True
    )
    child.start()
    sending.close()
    try:
        try:
            report = audit_store(
                store, granularity=granularity, now=now, parallel=parallel, bulk=bulk
            )
        except BrightlineError:
            if _received(receiving) is None:  # the check failed: its error comes first
                check(store)
            raise
        checked = _received(receiving)
    finally:
        child.join()
        receiving.close()
    if checked is None:  # the check failed, or its process died: here it says why
        return check(store), report
    return checked[0], report


def _check_process(
    sending: Connection, url: str, read_only: bool, check: Callable[[Store], object]
) -> None:
    """:func:`audit_beside`'s other process: ``(result,)``, or None where the check raised."""
    gc.disable()
    try:
        store = open_store(url, migrate=False, read_only=read_only)
        try:
            answer = (check(store),)
        finally:
            store.close()
        sending.send(answer)
    except Exception:  # any failure (or a result that does not pickle): the caller runs
        sending.send(None)  # the check again, which names it
    sending.close()


def _url_for_another_process(store: Store) -> str | None:
    """The store's URL, password included, unless another process cannot open the same
    database (SQLite in memory) or cannot be forked off this one."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return url.render_as_string(hide_password=False)


def _audit_in_two(
    store: Store, url: str, granularity: Granularity, now: datetime, *, always: bool
) -> StoreAuditReport | None:
    """The audit in two processes; None where a side found a difference (or where the
    store is too small to be worth it)."""
    with store.read() as session, _without_gc():
        tables.snapshot(session)
        sizes = tables.log_sizes(session)
        if not always and sum(n for _, n in sizes) < PARALLEL_FROM:
            return None
        cursor = consumer_position(session, CONSUMER)
        head = outbox_head(session)
        # fork: the child starts at once, with every module loaded; it opens its own
        # connection and never touches this process's.
        context = multiprocessing.get_context("fork")
        receiving, sending = context.Pipe(duplex=False)
        child = context.Process(
            target=_second_process,
            args=(sending, url, sizes, cursor, head, granularity, now),
            daemon=True,
        )
        child.start()
        sending.close()
        report = None
        second: _Second | None = None

        def ledger_side() -> LedgerSide | None:
            nonlocal second
            second = _received(receiving)
            return None if second is None else second[0]

        try:
            walk = _Audit(session, granularity, now, part=FIRST)
            report = walk.run_tables(sizes, cursor, ledger_side)
        except BrightlineError:  # a difference, or a bundle that does not decode:
            pass  # the walk in one process names it
        finally:
            if report is None:
                child.terminate()  # its answer no longer matters: the walk names it
            child.join()
            receiving.close()
        if report is None or second is None:
            return None
        rows = {name: n + second[1].get(name, 0) for name, n in report.rows.items()}
        return replace(report, rows=rows)


#: What the second process answers: its ledger side's findings and the rows it matched,
#: by table.
_Second = tuple[LedgerSide, Mapping[str, int]]


def _second_process(
    sending: Connection,
    url: str,
    sizes: list[tuple[int, int]],
    cursor: int,
    head: int,
    granularity: Granularity,
    now: datetime,
) -> None:
    """The second process: the ledger side (:func:`.store_audit_ledger.ledger_walk`), then
    the histories of :data:`SECOND`; its answer sent back, or None where it differs."""
    gc.disable()  # as audit_store: many short-lived objects, no cycles
    answer: _Second | None = None
    store = open_store(url, migrate=False)
    try:
        with store.read() as session:
            tables.snapshot(session)
            found = ledger_walk(session, sizes=sizes, cursor=cursor, head=head)
            if found is not None:
                walk = _Audit(session, granularity, now, part=OTHERS)
                report = walk.run_tables(sizes, cursor, lambda: found)
                if report is not None:  # world imports: both follow them, the first counts
                    rows = {k: n for k, n in report.rows.items() if k != "world_versions"}
                    answer = (found, rows)
    except BrightlineError:  # a difference (or a bundle that does not decode): the walk in
        answer = None  # one process names it
    finally:
        store.close()
    sending.send(answer)
    sending.close()


def _received(receiving: Connection) -> Any:
    """The other process's answer; None where it died (the caller's own run says why)."""
    try:
        return receiving.recv()
    except EOFError:
        return None


@contextmanager
def _without_gc() -> Iterator[None]:
    """The walk allocates millions of short-lived objects while it keeps a state per
    restriction and case; the cyclic collector's passes over those states would cost a
    third of its time. Reference counting still frees everything; nothing here cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- the event being checked ------------------------------------------------------------------


class _Rows(Generic[_T]):
    """One history table, read in order, one row at a time."""

    def __init__(self, table: str, rows: Iterator[_T]) -> None:
        self.table = table
        self._rows = rows
        self.taken = 0

    def take(self) -> _T | None:
        row = next(self._rows, None)
        if row is not None:
            self.taken += 1
        return row

    def give(self, row: _T) -> None:
        """Make ``row`` the next one taken (a reader that reads the table itself hands a
        row to the walk's checks)."""
        self._rows = chain((row,), self._rows)

    def rest(self) -> _T | None:
        return next(self._rows, None)


# -- the walk -----------------------------------------------------------------------------------


_FIRST_TABLES: Final = ("restriction_events", "guard_approvals", "world_versions")
_WORLD: Final = "world.imported"
#: The histories the fast path reads itself (the walk's readers, renamed tables aside).
_BULK_TABLES: Final = ("restriction_events", "case_events", "signals")


class _Audit:
    def __init__(
        self, session: Session, granularity: Granularity, now: datetime, *, part: str = ALL
    ) -> None:
        self.session = session
        self.part = part
        self.now = now
        self.restriction_events = _Rows("restriction_events", tables.restriction_events(session))
        self.case_events = _Rows("case_events", tables.case_events(session))
        self.signals = _Rows("signals", tables.signals(session))
        self.grants = _Rows("role_grant_events", tables.grants(session))
        self.guard = _Rows("guard_approvals", tables.guard_approvals(session))
        self.worlds = _Rows("world_versions", tables.world_version_rows(session))
        self.keys = tables.api_keys(session)
        self.revocations = tables.key_revocations(session)
        self.plans = tables.plans(session, {g.plan_id for g in tables.guard_approvals(session)})
        self.keys_seen: set[str] = set()
        self.revocations_seen: set[str] = set()
        self.case_revisions: dict[str, int] = {}
        self.world_version: int | None = None
        self.world: World | None = None
        self.restrictions = Restrictions(granularity)
        self.handlers = self._handlers()
        self.unknown: Callable[[Where], None] = _unknown
        if part != ALL:  # leave the other part's types to the other process
            second = part != FIRST
            for event_type in self.handlers:
                if event_type != _WORLD and (event_type in SECOND) != second:
                    self.handlers[event_type] = _skip
            self.unknown = _skip if second else _unknown

    def _handlers(self) -> dict[str, Callable[[Where], OutboxRecord | None]]:
        """The history of each event type: the check that matches it with its row."""
        handlers: dict[str, Callable[[Where], OutboxRecord | None]] = {
            f"restriction.{kind.value}": self._restriction for kind in EventKind
        }
        handlers["restriction.guard-approved"] = self._guard_approval
        handlers.update({f"case.{move.value}": self._case for move in CaseMove})
        handlers["signal.received"] = self._signal
        handlers["principal.role-granted"] = self._grant
        handlers["principal.role-revokeed"] = self._grant
        handlers[BOOTSTRAPPED] = self._bootstrap
        handlers[KEY_CREATED] = self._key
        handlers[KEY_REVOKED] = self._revocation
        handlers["world.imported"] = self._world_import
        handlers.update(dict.fromkeys(WITHOUT_TABLE, _no_table))
        handlers[CONTINUED] = _continued
        return handlers

    def run(self) -> StoreAuditReport:
        try:
            return self._run()
        finally:
            self._release()

    def run_in_bulk(self) -> StoreAuditReport | None:
        """:meth:`run`'s checks, the large histories written as text
        (:mod:`.store_audit_bulk`); None where they find a difference, unnamed."""
        for name in _BULK_TABLES:  # given a row where the walk's check decides
            setattr(self, name, _Rows(name, iter(())))
        try:
            return audit_in_bulk(self)
        finally:
            self._release()

    def _release(self) -> None:
        """Break the cycle through :attr:`handlers` (this walk's bound methods), so that
        reference counting frees the walk's states as soon as it ends. Otherwise they
        would wait for the cyclic collector, off during the walk, whose first pass after
        it would then traverse every one of them (2 s at a million changes)."""
        self.handlers = {}
        self.unknown = _unknown

    def _run(self) -> StoreAuditReport:
        sizes = tables.log_sizes(self.session)
        size = sum(n for _, n in sizes)
        cursor = consumer_position(self.session, CONSUMER)
        entries = tables.logged_entries(self.session, sizes=sizes)
        count = last = 0
        final: LoggedEntry | None = None
        if size == 0:
            self._compare_restrictions(size)
        for rows in tables.outbox_rows(self.session):
            for row in rows:
                entry = next(entries) if count < size else None
                where = Where(row, entry)
                if entry is not None and entry.outbox_id != where.event_id:
                    raise unlinked(where, entry)
                if entry is None and where.event_id <= cursor:
                    raise where.diverged(
                        f"the ledger's cursor ({cursor}) is past this event, which has no entry"
                    )
                self.check_event(where)
                if entry is not None:
                    final = entry
                count += 1
                if count == size:
                    if cursor < where.event_id:  # the next sync would log it again
                        raise where.diverged(
                            f"it is the ledger's last entry, but the ledger's cursor is {cursor}"
                        )
                    self._compare_restrictions(size)
                last = where.event_id
        if count < size:
            entry = next(entries)
            raise StoreDivergenceError(
                f"store audit: {entry.name()} ({public_type(entry)}) records "
                f"outbox event {entry.outbox_id}, which is not in the outbox",
                event=f"outbox event {entry.outbox_id}",
                index=entry.seq,
                log=entry.log,
            )
        if cursor > last:
            raise StoreDivergenceError(
                f"store audit: the ledger's cursor ({cursor}) is past the outbox's last event "
                f"({last}): events it logged are gone",
                event=f"outbox event {cursor}",
                index=None if final is None else final.seq,
                log=None if final is None else final.log,
            )
        self._check_left_over(size)
        return self._report(size, count - size)

    def check_event(self, where: Where) -> None:
        """One outbox event against the row its history gives and its ledger entry (if
        logged), the event's enforcement act recorded: :meth:`run`'s step."""
        handler = self.handlers.get(where.event_type, _unknown)
        try:
            record = handler(where)
        except (KeyError, TypeError, ValueError) as exc:  # from a records function
            raise where.diverged(f"its row gives no outbox record: {exc!r}") from exc
        if record is not None:
            compare(where, record)
        entry = where.entry
        if entry is not None:
            check_entry(where, entry, record)
            if entry.seq == 0 and entry.log > 1 and where.event_type != CONTINUED:
                raise where.diverged(f"log {entry.log} does not start with {CONTINUED}")
            if where.event_type in ENFORCEMENT:
                assert isinstance(where.row, StoredEvent)
                problem = self.restrictions.act(where.row, entry)
                if problem is not None:
                    raise where.diverged(problem)

    def run_tables(
        self,
        sizes: Sequence[tuple[int, int]],
        cursor: int,
        ledger_side: Callable[[], LedgerSide | None],
    ) -> StoreAuditReport | None:
        """:meth:`run`'s checks of the histories of this walk's part (every row has its
        one outbox event, each event its row), with the ledger's side checked elsewhere:
        ``ledger_side`` waits for it (None: it differs). An event is logged when the
        ledger's ``cursor`` is at or past it, as the ledger side checks. Raises
        :class:`StoreDivergenceError`, or returns None, where :meth:`run` raises; it does
        not name the first difference: :meth:`run` does."""
        try:
            return self._run_tables(sizes, cursor, ledger_side)
        finally:
            self._release()

    def _run_tables(
        self,
        sizes: Sequence[tuple[int, int]],
        cursor: int,
        ledger_side: Callable[[], LedgerSide | None],
    ) -> StoreAuditReport | None:
        size = sum(n for _, n in sizes)
        enforced: list[tuple[StoredEvent, LoggedEntry, ActFields]] = []
        at_size: Restrictions | None = None
        handlers = self.handlers
        if self.part == FIRST:  # the ledger side checks where a seal's event is
            handlers[CONTINUED] = _no_table
            rows_of = tables.outbox_rows(self.session, besides=SECOND)
        else:
            rows_of = tables.outbox_rows(self.session, of=SECOND | {_WORLD})
        # Each event's entry, found by its outbox id in the bundles (a bundle at a time:
        # the other process's entries are passed over).
        bundles = tables.entry_bundles(self.session, sizes=sizes)
        logs = len(sizes)
        log, first, salts = 1, 0, b""
        publics: Sequence[bytes] = ()
        ids: Sequence[int] = ()
        j = 0
        mine = self.part == FIRST  # world imports: the first checks their entries
        for rows in rows_of:
            for row in rows:
                event_id = row[0]
                entry = None
                if event_id <= cursor:  # logged
                    j = bisect_left(ids, event_id, j)
                    while j == len(ids):
                        bundle = next(bundles, None)
                        if bundle is None:
                            return None
                        log, first, publics, salts, ids = bundle
                        j = bisect_left(ids, event_id)
                    if ids[j] != event_id:
                        return None
                    entry = LoggedEntry(
                        first + j, event_id, publics[j], salts[j * 32 : j * 32 + 32], log, logs
                    )
                    j += 1
                elif at_size is None:
                    at_size = self.restrictions.as_of_now()
                where = Where(row, entry)
                try:
                    record = handlers.get(where.event_type, self.unknown)(where)
                except (KeyError, TypeError, ValueError):
                    return None
                if record is not None:
                    compare(where, record)
                if entry is not None and (mine or where.event_type != _WORLD):
                    check_entry(where, entry, record)
                    if where.event_type in ENFORCEMENT:
                        assert isinstance(where.row, StoredEvent)
                        fields = self.restrictions.act_fields(entry.public)
                        if isinstance(fields, str):
                            return None
                        enforced.append((where.row, entry, fields))
        self._check_left_over(size)
        found = ledger_side()
        if found is None:
            return None
        at_size = at_size or self.restrictions.as_of_now()
        for event, entry, fields in enforced:
            if at_size.record_act(event, entry, fields) is not None:
                return None
        if at_size.compare(size, self.now) is not None:
            return None
        self.restrictions.compared = at_size.compared
        return self._report(size, found.pending)

    def _compare_restrictions(self, size: int) -> None:
        divergence: Divergence | None = self.restrictions.compare(size, self.now)
        if divergence is not None:
            entry = divergence.entry
            raise StoreDivergenceError(
                f"store audit: {divergence.detail}",
                event=divergence.event,
                index=None if entry is None else entry.seq,
                log=None if entry is None else entry.log,
            )

    def _report(self, size: int, pending: int) -> StoreAuditReport:
        counted = (
            self.restriction_events,
            self.guard,
            self.case_events,
            self.signals,
            self.grants,
            self.worlds,
        )
        rows = {r.table: r.taken for r in counted}
        rows["api_keys"] = len(self.keys_seen)
        rows["api_key_revocations"] = len(self.revocations_seen)
        approved, in_force = self.restrictions.compared
        return StoreAuditReport(size, pending, rows, approved, in_force)

    def _check_left_over(self, size: int) -> None:
        """Rows that no outbox event matched."""
        for rows in (
            self.restriction_events,
            self.guard,
            self.case_events,
            self.signals,
            self.grants,
            self.worlds,
        ):
            if self.part != ALL and (rows.table in _FIRST_TABLES) != (self.part == FIRST):
                continue  # the other process's
            row = rows.rest()
            if row is not None:
                name = row_name(row)
                raise StoreDivergenceError(
                    f"store audit: {name} has no outbox event (nor ledger entry: the ledger "
                    f"holds {size})",
                    event=name,
                    index=None,
                )
        if self.part == FIRST:
            return
        left = [f"api_keys id {k}" for k in sorted(self.keys.keys() - self.keys_seen)]
        left += [
            f"api_key_revocations key {k}"
            for k in sorted(self.revocations.keys() - self.revocations_seen)
        ]
        if left:
            raise StoreDivergenceError(
                f"store audit: {left[0]} has no outbox event (nor ledger entry)",
                event=left[0],
                index=None,
            )

    # -- each history ----------------------------------------------------------------------

    def _next(self, rows: _Rows[_T], where: Where) -> _T:
        row = rows.take()
        if row is None:
            raise where.diverged(f"{rows.table} holds no row for it (deleted, or inserted)")
        where.row = row
        return row

    def _restriction(self, where: Where) -> OutboxRecord:
        event = self._next(self.restriction_events, where)
        record = restriction_record(event, world_version=self.world_version)
        problem = self.restrictions.replay(event)
        if problem is not None:
            raise where.diverged(problem)
        return record

    def _guard_approval(self, where: Where) -> OutboxRecord:
        approval = self._next(self.guard, where)
        plan = self.plans.get(approval.plan_id)
        if plan is None:
            raise where.diverged(f"its plan {approval.plan_id} is missing")
        return guard_record(approval, plan, world_version=self.world_version)

    def _case(self, where: Where) -> OutboxRecord:
        event, outbox_id = self._next(self.case_events, where)
        where.row = event
        if outbox_id != where.event_id:
            raise where.diverged(f"its row names outbox event {outbox_id}")
        expected = self.case_revisions.get(event.case_id, 0) + 1
        if event.revision != expected:
            raise where.diverged(f"revision {expected} of {event.case_id} was expected")
        self.case_revisions[event.case_id] = expected
        return case_record(event, world_version=self.world_version)

    def _signal(self, where: Where) -> OutboxRecord:
        signal = self._next(self.signals, where)
        return signal_record(signal, world_version=self.world_version)

    def _grant(self, where: Where) -> OutboxRecord:
        grant = self._next(self.grants, where)
        return grant_record(grant)

    def _stored_key(self, where: Where) -> StoredKey:
        return _claim(where, self.keys, self.keys_seen, table="api_keys", column="id")

    def _bootstrap(self, where: Where) -> OutboxRecord:
        key = self._stored_key(where)
        grants = [self._next(self.grants, where) for _ in key.roles]
        for grant in grants:
            made = (grant.kind, grant.principal, grant.actor, grant.at)
            if made != ("grant", key.principal, key.principal, key.created_at):
                where.row = grant
                raise where.diverged("the grant is not one of the bootstrap's")
        where.row = key
        return bootstrap_record(key, grants)

    def _key(self, where: Where) -> OutboxRecord:
        key = self._stored_key(where)
        return key_created_record(key)

    def _revocation(self, where: Where) -> OutboxRecord:
        seen = self.revocations_seen
        revocation = _claim(
            where, self.revocations, seen, table="api_key_revocations", column="key"
        )
        return key_revoked_record(revocation)

    def _world_import(self, where: Where) -> OutboxRecord:
        version = self._next(self.worlds, where)
        stored = world_by_version(self.session, version.id)  # an import is rare: read it whole
        if stored is None or world_digest(stored.world) != version.digest:
            raise where.diverged("its nodes, services or regions were changed")
        counts = diff_worlds(self.world, stored.world).counts()
        record = world_record(version, counts=counts)
        self.world_version, self.world = version.id, stored.world
        return record


def _no_table(where: Where) -> None:
    return None


def _skip(where: Where) -> None:
    """An event the other process matches with its row."""
    return


def _continued(where: Where) -> None:
    """A seal writes its ``ledger.continued`` event and logs it as entry 0 of the log it
    starts, in one transaction: anywhere else, or not logged, it was not a seal's."""
    entry = where.entry
    if entry is None or entry.seq != 0 or entry.log == 1:
        raise where.diverged(f"a {CONTINUED} event is only ever entry 0 of a log after the first")


def _unknown(where: Where) -> None:
    raise where.diverged("no history writes events of this type")


def _claim(where: Where, rows: Mapping[str, _T], seen: set[str], *, table: str, column: str) -> _T:
    """The row of ``table`` that the event at ``where`` names by its key id, claimed once:
    a row missing, or claimed by an earlier event, is a divergence."""
    key_id = payload_key(where)
    row = rows.get(key_id)
    if row is None or key_id in seen:
        raise where.diverged(
            f"{table} holds no row for key {key_id} (deleted, or inserted)",
            missing=f"{table} {column} {key_id}",
        )
    seen.add(key_id)
    where.row = row
    return row
