"""From public ledger entries to exact figures: the only source of every count.

Pure: entries, a period and the time the figures hold at (``as_of``) in, figures out.
Entries after ``as_of`` are ignored. What each event type publishes is set where it is
sealed (``brightline.service.ledger``, ``cases``, ``intake``); this module reads only
that, never the store, so that anyone holding the log's tiles gets the same figures.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from brightline.transparency.model import (
    ColumnKind,
    Figures,
    InForce,
    Period,
    PublicEntry,
    Row,
    Table,
    check_fields,
    parse_time,
)
from brightline.transparency.spells import (
    NOT_PUBLISHED,
    RESTRICTION_COLUMNS,
    restriction_spells,
    restriction_tables,
)
from brightline.transparency.suppression import Place

__all__ = ["COPIES", "NOT_PUBLISHED", "RESTRICTION_COLUMNS", "compute_figures"]

AGE_BUCKETS: Final = (
    ("under 30 days", 0, 30),
    ("30 to 89 days", 30, 90),
    ("90 to 179 days", 90, 180),
    ("180 days or more", 180, None),
)
_ACTIVE: Final = frozenset({"active", "lift-proposed", "promotion-proposed"})
_DAY: Final = 86_400.0

#: Figures published in more than one place (see :func:`~brightline.transparency.
#: suppression.suppress_tables`): the age-of-cases totals are the cases closed in the
#: period and still open at its end. (The restriction tables, whose totals are one figure
#: in three places, are suppressed together over the series: see ``series``.)
COPIES: Final[tuple[tuple[Place, ...], ...]] = (
    (("case-age", None, 0), ("cases", "closed", 0)),
    (("case-age", None, 1), ("cases", "open at end of period", 0)),
)


@dataclass(slots=True)
class _Restriction:
    phase: str = "proposed"
    case: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    approval: int | None = None
    approved_at: datetime | None = None

    @property
    def enforcing(self) -> bool:
        return self.approval is not None and self.fields.get("mode", "enforce") == "enforce"

    def window(self, key: str) -> datetime | None:
        value = self.fields.get(key)
        return parse_time(str(value)) if value else None

    def in_force(self, at: datetime) -> bool:
        not_before, not_after = self.window("not_before"), self.window("not_after")
        return (
            self.phase in _ACTIVE
            and self.enforcing
            and (not_before is None or at >= not_before)
            and (not_after is None or at < not_after)
        )

    def enforced_from(self) -> datetime | None:
        if not self.enforcing or self.approved_at is None:
            return None
        not_before = self.window("not_before")
        return max(self.approved_at, not_before) if not_before else self.approved_at


@dataclass(slots=True)
class _Tally:
    """Running counts while the entries are replayed in log order."""

    period: Period
    as_of: datetime
    reports: Counter[str] = field(default_factory=Counter)
    signal_at: dict[str, datetime] = field(default_factory=dict)
    case_opened: dict[str, datetime] = field(default_factory=dict)
    case_closed: dict[str, datetime] = field(default_factory=dict)
    case_decided: dict[str, datetime] = field(default_factory=dict)
    case_signals: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    cases: Counter[str] = field(default_factory=Counter)
    findings: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    appeals: Counter[str] = field(default_factory=Counter)
    restrictions: dict[str, _Restriction] = field(default_factory=dict)
    restriction_entries: list[PublicEntry] = field(default_factory=list)

    def in_period(self, when: datetime) -> bool:
        return when in self.period and when < self.as_of


def compute_figures(
    entries: Iterable[PublicEntry],
    *,
    period: Period,
    as_of: datetime,
    fields: Sequence[str],
) -> Figures:
    """Exact figures for ``period`` as the log stood at ``as_of`` (at most the period's end).

    ``fields`` are the restriction fields listed for each restriction in force.
    """
    fields = check_fields(list(fields))
    as_of = min(as_of, period.end)
    tally = _Tally(period, as_of)
    read = 0
    for entry in entries:
        read += 1
        if entry.time >= as_of:
            continue
        kind, _, move = entry.event_type.partition(".")
        if entry.event_type == "signal.received":
            _signal(tally, entry)
        elif kind == "case":
            _case(tally, entry, move)
        elif kind == "restriction":
            _restriction(tally, entry)
            tally.restriction_entries.append(entry)
    return Figures(tables=_tables(tally), in_force=_in_force(tally, fields), entries_read=read)


# -- replay ------------------------------------------------------------------------------


def _signal(tally: _Tally, entry: PublicEntry) -> None:
    ref = entry.public.get("signal")
    if isinstance(ref, str):
        tally.signal_at.setdefault(ref, entry.time)
    if tally.in_period(entry.time):
        tally.reports[str(entry.public.get("source") or NOT_PUBLISHED)] += 1


def _case(tally: _Tally, entry: PublicEntry, move: str) -> None:
    public = entry.public
    case = public.get("case") if isinstance(public.get("case"), str) else None
    here = tally.in_period(entry.time)
    signals = [str(s) for s in public.get("signals") or () if isinstance(s, str)]
    if case is not None and signals:
        tally.case_signals[case].extend(signals)
    if move == "opened":
        if case is not None:
            tally.case_opened.setdefault(case, entry.time)
        if here:
            tally.cases["opened"] += 1
    elif move == "closed":
        if case is not None:
            tally.case_closed[case] = entry.time
        if here:
            tally.cases["closed"] += 1
    elif move == "decided":
        if case is not None:
            tally.case_decided.setdefault(case, entry.time)
        if here:
            tally.cases[f"decided: {public.get('decision') or NOT_PUBLISHED}"] += 1
    elif move == "finding-recorded" and here:
        policy = str(public.get("policy") or NOT_PUBLISHED)
        tally.findings[policy][str(public.get("outcome") or NOT_PUBLISHED)] += 1
    elif move == "appealed" and here:
        tally.appeals["received"] += 1
    elif move == "appeal-decided" and here:
        tally.appeals[f"decided: {public.get('appeal') or NOT_PUBLISHED}"] += 1


_PHASE_AFTER: Final = {
    "proposed": "proposed",
    "approved": "active",
    "rejected": "rejected",
    "lift-proposed": "lift-proposed",
    "lift-approved": "lifted",
    "lift-rejected": "active",
    "promotion-proposed": "promotion-proposed",
    "promotion-approved": "active",
    "promotion-rejected": "active",
}


def _restriction(tally: _Tally, entry: PublicEntry) -> None:
    public = entry.public
    rid, kind = public.get("restriction"), public.get("kind")
    if not isinstance(rid, str) or kind not in _PHASE_AFTER:
        return  # e.g. restriction.guard-approved: no change of phase
    state = tally.restrictions.setdefault(rid, _Restriction())
    if isinstance(public.get("case"), str):
        state.case = public["case"]
    was_enforcing = state.enforcing
    state.phase = _PHASE_AFTER[str(kind)]
    if kind in ("approved", "promotion-approved"):
        # The approval's public form carries the body in effect from then on.
        state.fields = dict(public)
        state.approval = entry.index
        if state.enforcing and not was_enforcing:
            state.approved_at = entry.time


# -- tables ------------------------------------------------------------------------------


def _days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / _DAY


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _with_total(rows: list[Row], width: int) -> tuple[Row, ...]:
    total = tuple(sum(int(r.values[c] or 0) for r in rows) for c in range(width))
    return (*rows, Row("total", total))


def _tables(tally: _Tally) -> tuple[Table, ...]:
    return (
        _reports_table(tally),
        _cases_table(tally),
        _age_table(tally),
        _findings_table(tally),
        # Counted from when each restriction was in force (see ``spells``).
        *restriction_tables(
            restriction_spells(tally.restriction_entries, as_of=tally.as_of),
            start=tally.period.start,
            as_of=tally.as_of,
        ),
        _times_table(tally),
        _appeals_table(tally),
    )


def _reports_table(tally: _Tally) -> Table:
    sources = ["person", "detector", *sorted(set(tally.reports) - {"person", "detector"})]
    rows = [Row(s, (tally.reports[s],)) for s in sources]
    return Table(
        name="reports-by-source",
        title="Reports received, by source",
        description=(
            "Signals received in the period: reports from people (employees, journalists, "
            "NGOs, regulators, anonymous reporters: the log never says which, to protect "
            "them) and alerts from metadata-only detection."
        ),
        label="source",
        columns=("received",),
        rows=_with_total(rows, 1),
        total=True,
        chart_column=0,
    )


def _cases_table(tally: _Tally) -> Table:
    still_open = [
        c
        for c in tally.case_opened
        if c not in tally.case_closed or tally.case_closed[c] >= tally.as_of
    ]
    decided = sorted(k for k in tally.cases if k.startswith("decided: "))
    for kind in ("decided: restrict", "decided: no-restriction"):
        if kind not in decided:
            decided.append(kind)
    labels = ["opened", *sorted(decided), "closed"]
    rows = [Row(label, (tally.cases[label],)) for label in labels]
    rows.append(Row("open at end of period", (len(still_open),)))
    return Table(
        name="cases",
        title="Cases",
        description=(
            "Cases opened, decided and closed in the period, and cases still open at its end. "
            "A case groups one or more signals about the same customer."
        ),
        label="cases",
        columns=("cases",),
        rows=tuple(rows),
    )


def _bucket(days: float) -> str:
    for label, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days < high):
            return label
    return AGE_BUCKETS[0][0]


def _age_table(tally: _Tally) -> Table:
    closed: Counter[str] = Counter()
    still_open: Counter[str] = Counter()
    for case, opened in tally.case_opened.items():
        shut = tally.case_closed.get(case)
        if shut is not None and tally.in_period(shut):
            closed[_bucket(_days(shut, opened))] += 1
        elif shut is None or shut >= tally.as_of:
            still_open[_bucket(_days(tally.as_of, opened))] += 1
    rows = [Row(label, (closed[label], still_open[label])) for label, _, _ in AGE_BUCKETS]
    return Table(
        name="case-age",
        title="Age of cases",
        description=(
            "How long cases took: the age at closing of the cases closed in the period, and "
            "the age at the end of the period of the cases still open then."
        ),
        label="age",
        columns=("closed in period", "open at end of period"),
        rows=_with_total(rows, 2),
        total=True,
        chart_column=1,
    )


_OUTCOMES: Final = ("substantiated", "not-substantiated", "inconclusive")


def _findings_table(tally: _Tally) -> Table:
    outcomes = [
        *_OUTCOMES,
        *sorted({o for c in tally.findings.values() for o in c} - set(_OUTCOMES)),
    ]
    rows = [
        Row(policy, tuple(tally.findings[policy][o] for o in outcomes))
        for policy in sorted(tally.findings)
    ]
    return Table(
        name="findings-by-policy",
        title="Findings, by prohibited-use policy",
        description=(
            "Findings recorded in the period by reviewers, per policy a case alleged to be "
            "broken, and what they found. A later finding on the same policy supersedes an "
            "earlier one; both are counted."
        ),
        label="policy",
        columns=tuple(o.replace("-", " ") for o in outcomes),
        rows=_with_total(rows, len(outcomes)),
        total=True,
        chart_column=0,
    )


def _first_report(tally: _Tally, case: str) -> datetime | None:
    times = [tally.signal_at[s] for s in tally.case_signals.get(case, ()) if s in tally.signal_at]
    return min(times) if times else None


def _times_table(tally: _Tally) -> Table:
    to_decision: list[float] = []
    to_enforcement: list[float] = []
    to_close: list[float] = []
    enforced: dict[str, datetime] = {}
    for state in tally.restrictions.values():
        start = state.enforced_from()
        if state.case is not None and start is not None and start < tally.as_of:
            enforced[state.case] = min(start, enforced.get(state.case, start))
    for case in tally.case_opened:
        first = _first_report(tally, case)
        decided = tally.case_decided.get(case)
        if first is not None and decided is not None and tally.in_period(decided):
            to_decision.append(_days(decided, first))
        if first is not None and case in enforced and tally.in_period(enforced[case]):
            to_enforcement.append(_days(enforced[case], first))
        shut = tally.case_closed.get(case)
        if shut is not None and tally.in_period(shut):
            to_close.append(_days(shut, tally.case_opened[case]))
    rows = (
        Row("first report to decision", (len(to_decision), _median(to_decision))),
        Row("first report to enforcement", (len(to_enforcement), _median(to_enforcement))),
        Row("case opened to closed", (len(to_close), _median(to_close))),
    )
    return Table(
        name="time-to-action",
        title="Time from first report to decision and to enforcement",
        description=(
            "Median days, over the cases that reached the step in the period: from the first "
            "signal of a case to its first decision; to the moment its first restriction came "
            "into force (approved in enforce mode, from its start date if later); and from "
            "opening a case to closing it."
        ),
        label="step",
        columns=("cases", "median days"),
        rows=rows,
        kinds=(ColumnKind.COUNT, ColumnKind.MEDIAN_DAYS),
    )


def _appeals_table(tally: _Tally) -> Table:
    outcomes = sorted({"decided: upheld", "decided: lift"} | (set(tally.appeals) - {"received"}))
    rows = tuple(Row(label, (tally.appeals[label],)) for label in ["received", *outcomes])
    return Table(
        name="appeals",
        title="Appeals and their outcomes",
        description=(
            "Appeals by customers against a decision received in the period, and the outcome "
            "of those decided in it: upheld, or the restrictions lifted."
        ),
        label="appeals",
        columns=("appeals",),
        rows=rows,
    )


# -- restrictions in force ---------------------------------------------------------------


def _in_force(tally: _Tally, fields: Sequence[str]) -> tuple[InForce, ...]:
    items = []
    for rid, state in sorted(tally.restrictions.items()):
        if state.in_force(tally.as_of) and state.approval is not None:
            shown = {f: _listed(state.fields.get(f)) for f in fields}
            items.append(InForce(rid, state.approval, shown))
    return tuple(items)


def _listed(value: Any) -> Any:
    if isinstance(value, list):
        return [str(v) for v in value]
    return value
