"""Figures about investigations, counted exactly from the ledger's *private records*.

Reports received, cases, the age of cases, findings, the time to act and appeals can no
longer be recounted from public forms, which for investigations publish only a type, a
day and a commitment. They are counted here from the records those entries commit to
(the outbox payloads of ``signal.received``, ``case.*`` and ``restriction.*`` events,
the very records ``brightline ledger disclose`` hands an auditor), with the definitions
of the tables ``brightline.transparency.aggregate`` computed from public forms before
(docs/transparency.md): first report, decision, enforcement, age buckets, medians.

Unlike those tables, every row here is fixed in advance (sources, decision kinds, the
deployment's list of policies plus "other policies"): which rows exist must not depend
on the data, or the table's shape alone would leak what differential privacy hides.

Pure: records, a period, the time the figures hold at and the policies listed in, exact
counts and durations out. :mod:`brightline.transparency.private_figures` adds the noise.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from brightline.errors import InvalidInputError
from brightline.transparency.model import Period, parse_time

#: The event families whose private records the figures are counted from.
FAMILIES: Final = ("signal", "case", "restriction")
SOURCES: Final = ("person", "detector")
DECISIONS: Final = ("restrict", "no-restriction")
OUTCOMES: Final = ("substantiated", "not-substantiated", "inconclusive")
APPEAL_OUTCOMES: Final = ("upheld", "lift")
#: The row of findings on a policy the deployment does not list.
OTHER_POLICIES: Final = "other policies"
#: As the public tables bucketed ages (copied: those tables leave ``aggregate``).
AGE_BUCKETS: Final = (
    ("under 30 days", 0, 30),
    ("30 to 89 days", 30, 90),
    ("90 to 179 days", 90, 180),
    ("180 days or more", 180, None),
)
AGE_COLUMNS: Final = ("closed in period", "open at end of period")
STEPS: Final = ("first report to decision", "first report to enforcement", "case opened to closed")
_DAY: Final = 86_400.0

#: A figure's place: (table, row label, column label).
Key = tuple[str, str, str]


def is_investigation(event_type: str) -> bool:
    """Whether entries of ``event_type`` are inputs of the figures (their records are)."""
    return event_type.partition(".")[0] in FAMILIES


@dataclass(frozen=True, slots=True)
class PrivateRecord:
    """A ledger entry's private record, as ``brightline ledger disclose`` gives it."""

    index: int
    event_type: str
    record: Mapping[str, Any]

    @property
    def time(self) -> datetime:
        """When the event happened, to the microsecond (the public form may say less)."""
        value = self.record.get("at")
        if not isinstance(value, str):
            raise InvalidInputError(f"the record of entry {self.index} has no time ('at')")
        return parse_time(value)


@dataclass(frozen=True, slots=True)
class Exact:
    """Exact counts (by place) and durations in days (by the place of their median)."""

    counts: Mapping[Key, int]
    durations: Mapping[Key, tuple[float, ...]]

    def median(self, key: Key) -> float | None:
        """The median as the public tables computed it (one decimal), for the record."""
        values = self.durations[key]
        return round(statistics.median(values), 1) if values else None


# -- replay ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Restriction:
    case: str | None = None
    #: The body proposed and awaiting approval, and the one in effect once approved.
    pending: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None
    approved_at: datetime | None = None

    @property
    def enforcing(self) -> bool:
        return self.body is not None and str(self.body.get("mode", "enforce")) == "enforce"

    def enforced_from(self) -> datetime | None:
        if not self.enforcing or self.approved_at is None or self.body is None:
            return None
        not_before = self.body.get("not_before")
        start = parse_time(str(not_before)) if not_before else None
        return max(self.approved_at, start) if start else self.approved_at


@dataclass(slots=True)
class _Tally:
    period: Period
    as_of: datetime
    policies: tuple[str, ...]
    counts: Counter[Key] = field(default_factory=Counter)
    signal_at: dict[str, datetime] = field(default_factory=dict)
    case_opened: dict[str, datetime] = field(default_factory=dict)
    case_closed: dict[str, datetime] = field(default_factory=dict)
    case_decided: dict[str, datetime] = field(default_factory=dict)
    case_signals: dict[str, list[str]] = field(default_factory=dict)
    restrictions: dict[str, _Restriction] = field(default_factory=dict)

    def in_period(self, when: datetime) -> bool:
        return when in self.period and when < self.as_of


def count_investigations(
    records: Iterable[PrivateRecord],
    *,
    period: Period,
    as_of: datetime,
    policies: Sequence[str],
) -> Exact:
    """Exact figures for ``period`` from ``records`` (in log order) as they stood at
    ``as_of`` (at most the period's end); records of other families are ignored.
    Raises InvalidInputError for a record without a time."""
    as_of = min(as_of, period.end)
    tally = _Tally(period, as_of, tuple(policies))
    for item in records:
        family, _, move = item.event_type.partition(".")
        if family not in FAMILIES:
            continue
        when = item.time
        if when >= as_of:
            continue
        if item.event_type == "signal.received":
            _signal(tally, item.record, when)
        elif family == "case":
            _case(tally, item.record, move, when)
        elif family == "restriction":
            _restriction(tally, item.record, when)
    counts = dict(tally.counts)
    for key in keys_of_counts(policies):
        counts.setdefault(key, 0)
    _ages(tally, counts)
    durations = _durations(tally)
    for step in STEPS:
        counts[("time-to-action", step, "cases")] = len(durations[_median_key(step)])
    return Exact(counts=counts, durations=durations)


def _signal(tally: _Tally, record: Mapping[str, Any], when: datetime) -> None:
    ref = record.get("signal")
    if isinstance(ref, str):
        tally.signal_at.setdefault(ref, when)
    source = record.get("source")
    if tally.in_period(when) and source in SOURCES:
        tally.counts[("reports-by-source", str(source), "received")] += 1


def _case(tally: _Tally, record: Mapping[str, Any], move: str, when: datetime) -> None:
    case = record.get("case") if isinstance(record.get("case"), str) else None
    data = record.get("data") if isinstance(record.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    here = tally.in_period(when)
    if case is not None and move in ("opened", "signal-attached"):
        listed = data.get("signals") if "signals" in data else [data.get("signal")]
        signals = [s for s in listed or () if isinstance(s, str)]
        tally.case_signals.setdefault(case, []).extend(signals)
    if move == "opened":
        if case is not None:
            tally.case_opened.setdefault(case, when)
        if here:
            tally.counts[("cases", "opened", "cases")] += 1
    elif move == "closed":
        if case is not None:
            tally.case_closed[case] = when
    elif move == "decided":
        if case is not None:
            tally.case_decided.setdefault(case, when)
        if here and data.get("kind") in DECISIONS:
            tally.counts[("cases", f"decided: {data['kind']}", "cases")] += 1
    elif move == "finding-recorded" and here:
        policy = str(data.get("policy"))
        row = policy if policy in tally.policies else OTHER_POLICIES
        outcome = data.get("outcome")
        if outcome in OUTCOMES:
            tally.counts[("findings-by-policy", row, _column(str(outcome)))] += 1
    elif move == "appealed" and here:
        tally.counts[("appeals", "received", "appeals")] += 1
    elif move == "appeal-decided" and here and data.get("outcome") in APPEAL_OUTCOMES:
        tally.counts[("appeals", f"decided: {data['outcome']}", "appeals")] += 1


def _column(outcome: str) -> str:
    return outcome.replace("-", " ")


def _restriction(tally: _Tally, record: Mapping[str, Any], when: datetime) -> None:
    rid, kind = record.get("restriction"), record.get("kind")
    if not isinstance(rid, str) or not isinstance(kind, str):
        return  # a guard approval: no change of what is in effect
    state = tally.restrictions.setdefault(rid, _Restriction())
    if isinstance(record.get("case"), str):
        state.case = record["case"]
    body = record.get("restriction_body")
    if kind in ("proposed", "promotion-proposed", "bootstrapped") and isinstance(body, Mapping):
        state.pending = body
    if kind in ("approved", "promotion-approved", "bootstrapped"):
        was_enforcing = state.enforcing
        state.body = state.pending
        if state.enforcing and not was_enforcing:
            state.approved_at = when


def _days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / _DAY


def _bucket(days: float) -> str:
    for label, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days < high):
            return label
    return AGE_BUCKETS[0][0]


def _ages(tally: _Tally, counts: dict[Key, int]) -> None:
    closed_column, open_column = AGE_COLUMNS
    for case, opened in tally.case_opened.items():
        shut = tally.case_closed.get(case)
        if shut is not None and tally.in_period(shut):
            counts[("case-age", _bucket(_days(shut, opened)), closed_column)] += 1
        elif shut is None or shut >= tally.as_of:
            counts[("case-age", _bucket(_days(tally.as_of, opened)), open_column)] += 1


def _durations(tally: _Tally) -> dict[Key, tuple[float, ...]]:
    to_decision: list[float] = []
    to_enforcement: list[float] = []
    to_close: list[float] = []
    enforced: dict[str, datetime] = {}
    for state in tally.restrictions.values():
        start = state.enforced_from()
        if state.case is not None and start is not None and start < tally.as_of:
            enforced[state.case] = min(start, enforced.get(state.case, start))
    for case, opened in tally.case_opened.items():
        times = [
            tally.signal_at[s] for s in tally.case_signals.get(case, ()) if s in tally.signal_at
        ]
        first = min(times) if times else None
        decided = tally.case_decided.get(case)
        if first is not None and decided is not None and tally.in_period(decided):
            to_decision.append(_days(decided, first))
        if first is not None and case in enforced and tally.in_period(enforced[case]):
            to_enforcement.append(_days(enforced[case], first))
        shut = tally.case_closed.get(case)
        if shut is not None and tally.in_period(shut):
            to_close.append(_days(shut, opened))
    lists = (to_decision, to_enforcement, to_close)
    return {_median_key(step): tuple(v) for step, v in zip(STEPS, lists, strict=True)}


def _median_key(step: str) -> Key:
    return ("time-to-action", step, "median days")


def keys_of_counts(policies: Sequence[str]) -> tuple[Key, ...]:
    """Every count the replay keeps, fixed by the policies listed (zero when nothing)."""
    rows = [*policies, OTHER_POLICIES]
    return (
        *(("reports-by-source", s, "received") for s in SOURCES),
        ("cases", "opened", "cases"),
        *(("cases", f"decided: {d}", "cases") for d in DECISIONS),
        *(("case-age", b, c) for b, _, _ in AGE_BUCKETS for c in AGE_COLUMNS),
        *(("findings-by-policy", p, _column(o)) for p in rows for o in OUTCOMES),
        *(("time-to-action", step, "cases") for step in STEPS),
        ("appeals", "received", "appeals"),
        *(("appeals", f"decided: {o}", "appeals") for o in APPEAL_OUTCOMES),
    )
