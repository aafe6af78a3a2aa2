"""An attacker holding every report a deployment released, for the attack tests (``tests``
is on sys.path; ``python -m`` it with ``PYTHONPATH=src:tests`` for the figures).

A random provider (seeded): restrictions over a year and the months before it, by policy,
sector, country and service tags, some short-lived, some lifted, some expiring, some
starting later than approved, some promoted from dry-run. Its deployment releases monthly,
quarterly and yearly reports in the order their periods end, and the first quarter again
after June, each suppressed consistently with those released before it.

The attacker knows all of them at once and writes an integer program (HiGHS through
highspy) over counts per atom of time (the pieces every period boundary cuts the
timeline into), per table, value and column:

- every figure shown is its sum over the atoms of its period; a ``"< k"`` lies in
  [1, k-1], a ``"suppressed"`` is any count (>= 0); a row a report does not have is zero;
- each atom's total is the same in the policy, sector and country tables; a tag count is at
  most the total, and the tags together at least the total;
- stocks: in force at the end of an atom = at its start + imposed - lifted - expired,
  for every value;
- every list: in force at each report's end, per value; and by restriction id, what a
  reader of two lists learns: each listed restriction's start (approval time and window
  from its public form) falls in a known atom, and a restriction on one list and not on
  the next ended in between (lifted, if its window did not end then).

A hidden figure is *pinned* when every solution gives it its true value.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import highspy

from brightline.transparency import DEFAULT_FIELDS, InForce, Parameters, Period, PublicEntry
from brightline.transparency.aggregate import compute_figures
from brightline.transparency.model import PublishedTable, Table, format_time, parse_time
from brightline.transparency.report import published_tables
from brightline.transparency.series import released
from brightline.transparency.spells import (
    FLOWS,
    IMPOSED,
    LIFTED,
    MULTI_VALUED,
    TABLES,
    restriction_spells,
    values,
)
from brightline.transparency.suppression import suppress_tables

POLICIES = ("mass-surveillance", "mass-surveillance", "weapons", "disinformation")
SECTORS = ("defense", "defense", "intelligence", "police", "telecom")
COUNTRIES = ("XA", "XA", "XB", "XC", "XD", "XE")
TAGS = ("compute", "object-storage", "speech-to-text", "translation", "vision")
YEAR = 2025
FIELD = {
    "restrictions-by-policy": "policy",
    "restrictions-by-sector": "sector",
    "restrictions-by-country": "country",
    "restrictions-by-service-tag": "service_tags",
}
SINGLE = tuple(t for t in TABLES if t != MULTI_VALUED)
TOTAL = "total"


def _midnight(when: datetime) -> datetime:
    return datetime.combine(when.date(), datetime.min.time(), UTC)


def provider(seed: int, restrictions: int = 45, *, published: bool = False) -> list[PublicEntry]:
    """A year of restrictions as public entries, in log order.

    ``published``: as the privacy model publishes them (``brightline.disclosure``): times
    rounded down to the day, references ``R-<n>``, and some restrictions lifted within
    hours of their approval, often the same published day."""
    rng = random.Random(seed)
    first = datetime(YEAR, 1, 1, tzinfo=UTC) - timedelta(days=120)
    events: list[tuple[datetime, str, dict[str, Any]]] = []
    for n in range(restrictions):
        rid = f"R-{n + 1}" if published else f"r-{n:03d}"
        body: dict[str, Any] = {
            "restriction": rid,
            "policy": rng.choice(POLICIES),
            "sector": rng.choice(SECTORS),
            "country": rng.choice(COUNTRIES),
            "service_tags": sorted(rng.sample(TAGS, rng.choice((1, 1, 2)))),
            "mode": "enforce",
        }
        approved = first + timedelta(seconds=rng.randrange(485 * 86_400))
        roll = rng.random()
        days = (
            rng.uniform(1, 20)
            if roll < 0.35
            else rng.uniform(20, 120)
            if roll < 0.7
            else (rng.uniform(120, 400))
        )
        if rng.random() < 0.1:
            body["not_before"] = format_time(
                _midnight(approved) + timedelta(days=rng.randint(1, 9))
            )
        end = rng.random()
        lift = None
        if end < 0.5:
            lift = approved + timedelta(days=days)
            if published and rng.random() < 0.3:
                lift = approved + timedelta(hours=rng.uniform(1, 12))
        elif end < 0.85:
            body["not_after"] = format_time(_midnight(approved + timedelta(days=days)))
        if rng.random() < 0.1:
            dry = {**body, "mode": "dry-run"}
            events.append((approved - timedelta(days=3), "approved", dry))
            events.append((approved, "promotion-approved", body))
        else:
            events.append((approved, "approved", body))
        if lift is not None:
            events.append((lift, "lift-approved", body))
    events.sort(key=lambda e: (e[0], e[2]["restriction"]))
    entries = []
    for index, (when, kind, body) in enumerate(events):
        form = {
            "v": 1,
            "type": f"restriction.{kind}",
            "time": format_time(_midnight(when) if published else when),
            "commitment": "00",
            "public": {**body, "kind": kind},
        }
        entries.append(PublicEntry.parse(index, json.dumps(form, sort_keys=True).encode()))
    return entries


def year_of_reports(year: int = YEAR) -> list[Period]:
    """Monthly, quarterly and yearly reports in the order their periods end (shorter first),
    and the first quarter again after June."""
    months = [
        Period(date(year, m, 1), date(year + (m == 12), m % 12 + 1, 1) - timedelta(days=1))
        for m in range(1, 13)
    ]
    quarters = [Period(months[q * 3].first, months[q * 3 + 2].last) for q in range(4)]
    whole = Period(date(year, 1, 1), date(year, 12, 31))
    periods = sorted(
        [*months, *quarters, whole], key=lambda p: (p.last, p.first != p.last, -p.first.toordinal())
    )
    periods.insert(periods.index(months[5]) + 1, quarters[0])
    return periods


@dataclass(frozen=True, slots=True)
class Published:
    period: Period
    as_of: datetime
    tables: tuple[PublishedTable, ...]
    exact: tuple[Table, ...]
    in_force: tuple[InForce, ...]


def release_all(
    entries: Sequence[PublicEntry], periods: Sequence[Period], k: int
) -> list[Published]:
    """Every report, each suppressed with those released before it, as a deployment does."""
    out: list[Published] = []
    priors = []
    for period in periods:
        parameters = Parameters(period, period.end, k, DEFAULT_FIELDS, series=tuple(priors))
        tables, in_force = published_tables(entries, parameters)
        restriction = tuple(t for t in tables if t.name in TABLES)
        exact = compute_figures(entries, period=period, as_of=period.end, fields=())
        priors.append(released(restriction, period=period, as_of=period.end, k=k))
        out.append(
            Published(
                period,
                period.end,
                restriction,
                tuple(t for t in exact.tables if t.name in TABLES),
                in_force,
            )
        )
    return out


def release_alone(
    entries: Sequence[PublicEntry], periods: Sequence[Period], k: int
) -> list[Published]:
    """Every report suppressed on its own (each table protecting its own total, the three
    totals as copies): what the series rule replaces, to show the attacker at work."""
    copies = [tuple((name, None, c) for name in SINGLE) for c in range(3)]
    out = []
    for period in periods:
        figures = compute_figures(entries, period=period, as_of=period.end, fields=())
        exact = tuple(t for t in figures.tables if t.name in TABLES)
        tables = suppress_tables(exact, k, copies=copies)
        out.append(Published(period, period.end, tables, exact, figures.in_force))
    return out


# -- the attacker ------------------------------------------------------------------------

#: A figure: (period start, as_of, table or TOTAL, row value, column).
Key = tuple[datetime, datetime, str, str, str]


@dataclass(slots=True)
class Hidden:
    columns: list[int]
    truth: int
    cells: int  # how many published cells show it hidden
    seen_other: bool = False


class Attack:
    """The integer program of everything the reports, markers and lists say."""

    def __init__(
        self,
        reports: Sequence[Published],
        entries: Sequence[PublicEntry],
        k: int,
        *,
        by_id: bool = True,
    ):
        """``by_id``: read the lists by restriction id (else only their counts per value)."""
        self.k = k
        self.by_id = by_id
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("time_limit", 60.0)
        bounds = sorted({t for r in reports for t in (r.period.start, r.as_of)})
        self.bounds = bounds
        self.atoms = range(len(bounds) - 1)
        self.universe: dict[str, set[str]] = defaultdict(set)
        for report in reports:
            for table in report.tables:
                self.universe[table.name] |= {label for label, _ in table.rows if label != TOTAL}
            for item in report.in_force:
                public = entries[item.entry].public
                for name in TABLES:
                    self.universe[name] |= set(values(public, FIELD[name]))
        self.n = 0
        self.x: dict[tuple[str, str, str, int], int] = {}
        self.s: dict[tuple[str, str, int], int] = {}
        for name in TABLES:
            for value in sorted(self.universe[name]):
                for i in self.atoms:
                    for column in FLOWS:
                        self.x[(name, value, column, i)] = self._var()
                for b in range(len(bounds)):
                    self.s[(name, value, b)] = self._var()
        for i in self.atoms:
            for column in FLOWS:
                self.x[(TOTAL, "", column, i)] = self._var()
        self._identities()
        self._starts: dict[tuple[str, str, int], set[str]] = {}
        self._lists(reports, entries)
        self.hidden: dict[Key, Hidden] = {}
        self._reports(reports)

    def _var(self) -> int:
        self.h.addVar(0, highspy.kHighsInf)
        self.h.changeColIntegrality(self.n, highspy.HighsVarType.kInteger)
        self.n += 1
        return self.n - 1

    def _row(self, terms: dict[int, float], low: float, high: float) -> None:
        cols = [c for c, v in terms.items() if v]
        self.h.addRow(low, high, len(cols), cols, [terms[c] for c in cols])

    def _identities(self) -> None:
        inf = highspy.kHighsInf
        for name in TABLES:
            for value in self.universe[name]:
                for i in self.atoms:
                    self._row(
                        {
                            self.s[(name, value, i + 1)]: 1,
                            self.s[(name, value, i)]: -1,
                            self.x[(name, value, IMPOSED, i)]: -1,
                            self.x[(name, value, "lifted", i)]: 1,
                            self.x[(name, value, "expired", i)]: 1,
                        },
                        0,
                        0,
                    )
        for i in self.atoms:
            for column in FLOWS:
                total = self.x[(TOTAL, "", column, i)]
                for name in SINGLE:
                    terms: Counter[int] = Counter({total: -1})
                    for value in self.universe[name]:
                        terms[self.x[(name, value, column, i)]] += 1
                    self._row(dict(terms), 0, 0)
                tags: Counter[int] = Counter({total: -1})
                for value in self.universe[MULTI_VALUED]:
                    tags[self.x[(MULTI_VALUED, value, column, i)]] += 1
                    self._row({self.x[(MULTI_VALUED, value, column, i)]: 1, total: -1}, -inf, 0)
                self._row(dict(tags), 0, inf)

    def _atom(self, moment: tuple[datetime, int]) -> int | None:
        for i in self.atoms:
            if (self.bounds[i], 0) < moment <= (self.bounds[i + 1], 0):
                return i
        return None

    def _lists(self, reports: Sequence[Published], entries: Sequence[PublicEntry]) -> None:
        inf = highspy.kHighsInf
        listed: dict[datetime, dict[str, dict[str, Any]]] = {}
        for report in reports:
            b = self.bounds.index(report.as_of)
            counts: Counter[tuple[str, str]] = Counter()
            items = {}
            for item in report.in_force:
                entry = entries[item.entry]
                items[item.restriction] = dict(entry.public)
                start = (entry.time, 1)
                if entry.public.get("not_before"):
                    start = max(start, (parse_time(entry.public["not_before"]), 0))
                for name in TABLES:
                    for value in values(entry.public, FIELD[name]):
                        counts[(name, value)] += 1
                        if (i := self._atom(start)) is not None:
                            self._starts.setdefault((name, value, i), set()).add(item.restriction)
            for name in TABLES:
                for value in self.universe[name]:
                    n = counts[(name, value)]
                    self._row({self.s[(name, value, b)]: 1}, n, n)
            listed[report.as_of] = items
        if not self.by_id:
            return
        for (name, value, i), ids in self._starts.items():
            self._row({self.x[(name, value, IMPOSED, i)]: 1}, len(ids), inf)
        times = sorted(listed)
        for t0, t1 in itertools.pairwise(times):
            b0, b1 = self.bounds.index(t0), self.bounds.index(t1)
            gone = [public for rid, public in listed[t0].items() if rid not in listed[t1]]
            ended: Counter[tuple[str, str]] = Counter()
            lifted: Counter[tuple[str, str]] = Counter()
            for public in gone:
                na = public.get("not_after")
                window = na is not None and t0 < parse_time(na) <= t1
                for name in TABLES:
                    for value in values(public, FIELD[name]):
                        ended[(name, value)] += 1
                        lifted[(name, value)] += not window
            for (name, value), n in ended.items():
                terms = {}
                for i in range(b0, b1):
                    terms[self.x[(name, value, LIFTED, i)]] = 1
                    terms[self.x[(name, value, "expired", i)]] = 1
                self._row(terms, n, inf)
                if lifted[(name, value)]:
                    self._row(
                        {self.x[(name, value, LIFTED, i)]: 1 for i in range(b0, b1)},
                        lifted[(name, value)],
                        inf,
                    )

    def _reports(self, reports: Sequence[Published]) -> None:
        small = f"< {self.k}"
        for report in reports:
            b0, b1 = self.bounds.index(report.period.start), self.bounds.index(report.as_of)
            atoms = range(b0, b1)
            for table, exact in zip(report.tables, report.exact, strict=True):
                present = {label for label, _ in table.rows}
                for value in self.universe[table.name] - present:
                    for column in FLOWS:
                        self._row({self.x[(table.name, value, column, i)]: 1 for i in atoms}, 0, 0)
                for (label, cells), row in zip(table.rows, exact.rows, strict=True):
                    is_total = table.total and label == TOTAL
                    name, value = (TOTAL, "") if is_total else (table.name, label)
                    for c, column in enumerate(FLOWS):
                        terms = {self.x[(name, value, column, i)]: 1 for i in atoms}
                        cell = cells[c]
                        key = (report.period.start, report.as_of, name, value, column)
                        if isinstance(cell, int):
                            self._row(terms, cell, cell)
                        else:
                            if cell == small:
                                self._row(terms, 1, self.k - 1)
                            hidden = self.hidden.get(key)
                            if hidden is None:
                                self.hidden[key] = Hidden(list(terms), int(row.values[c] or 0), 1)
                            else:
                                hidden.cells += 1
                    if not is_total:
                        n = cells[3]
                        assert isinstance(n, int)
                        self._row({self.s[(table.name, label, b1)]: 1}, n, n)

    def _feasible_with(self, columns: list[int], low: float, high: float) -> list[float] | None:
        self._row(dict.fromkeys(columns, 1.0), low, high)
        self.h.run()
        status = self.h.getModelStatus()
        solution = (
            list(self.h.getSolution().col_value)
            if status == highspy.HighsModelStatus.kOptimal
            else None
        )
        if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kInfeasible):
            raise AssertionError(f"HiGHS did not decide: {self.h.modelStatusToString(status)}")
        self.h.deleteRows(1, [self.h.getNumRow() - 1])
        return solution

    def _note(self, solution: list[float]) -> None:
        for hidden in self.hidden.values():
            if (
                not hidden.seen_other
                and round(sum(solution[c] for c in hidden.columns)) != hidden.truth
            ):
                hidden.seen_other = True

    def admits(self, entries: Sequence[PublicEntry]) -> bool:
        """Whether the true history is a solution: the attacker assumes nothing false."""
        spells = restriction_spells(entries, as_of=self.bounds[-1])
        truth: Counter[int] = Counter()
        for spell in spells:
            for column, moment in ((IMPOSED, spell.start), (spell.ended, spell.end)):
                i = None if column is None or moment is None else self._atom(moment)
                if i is None or column is None:
                    continue
                truth[self.x[(TOTAL, "", column, i)]] += 1
                for name in TABLES:
                    for value in values(spell.fields, FIELD[name]):
                        truth[self.x[(name, value, column, i)]] += 1
            for b, when in enumerate(self.bounds):
                if spell.in_force(when):
                    for name in TABLES:
                        for value in values(spell.fields, FIELD[name]):
                            truth[self.s[(name, value, b)]] += 1
        for column in range(self.n):
            self.h.changeColBounds(column, truth[column], truth[column])
        self.h.run()
        ok = self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        for column in range(self.n):
            self.h.changeColBounds(column, 0, highspy.kHighsInf)
        return ok

    def pinned(self) -> list[Key]:
        """Every hidden figure whose value no solution changes, in order."""
        inf = highspy.kHighsInf
        self.h.run()
        assert self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal, (
            "the truth is a solution"
        )
        found = []
        for key, hidden in self.hidden.items():
            if hidden.seen_other:
                continue
            for low, high in ((hidden.truth + 1, inf), (-inf, hidden.truth - 1)):
                solution = self._feasible_with(hidden.columns, low, high)
                if solution is not None:
                    self._note(solution)
                    break
            else:
                found.append(key)
        return found


def attack(
    seed: int,
    k: int,
    periods: Sequence[Period] | None = None,
    *,
    alone: bool = False,
    by_id: bool = True,
) -> tuple[int, int, list[Key]]:
    """(figures hidden, cells hidden, figures pinned) for provider ``seed``."""
    entries = provider(seed)
    release = release_alone if alone else release_all
    reports = release(entries, periods or year_of_reports(), k)
    attacker = Attack(reports, entries, k, by_id=by_id)
    assert attacker.admits(entries), "the attacker assumes something the history contradicts"
    return len(attacker.hidden), sum(h.cells for h in attacker.hidden.values()), attacker.pinned()


def _main(argv: list[str]) -> Iterator[str]:
    alone, by_id = "--alone" in argv, "--counts-only" not in argv
    for seed in [int(a) for a in argv[1:] if a.isdigit()] or [1]:
        for k in (3, 5):
            figures, cells, pinned = attack(seed, k, alone=alone, by_id=by_id)
            yield (
                f"seed {seed} k {k}{' alone' if alone else ''}{'' if by_id else ' counts'}: "
                f"{cells} cells hidden ({figures} figures), {len(pinned)} figures pinned"
            )


if __name__ == "__main__":
    for line in _main(sys.argv):
        print(line)
