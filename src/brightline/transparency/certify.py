"""Proof, for every hidden figure of a series of reports, that a reader cannot work it out.

The figures are the flow cells of the restriction tables (imposed, lifted, expired, per
value and in total) of every report released, over their periods. A reader holds all of
them at once: every figure shown; every marker (``"< k"`` says 1 to k-1, ``"suppressed"``
says nothing); every restriction in force at the end of every report, by id, with its
public form (policy, sector, country, tags, window, approval time); and every identity
between them: a period's count is the sum of its parts, a total the sum of its rows and the
same in three tables, and ``in force at end = at start + imposed - lifted - expired``.

A hidden figure is safe when another history of restrictions exists that gives every
published figure, marker and list unchanged and that figure a different value: then no
reasoning, linear or not, can pin it. This module *constructs* such a history for each
hidden figure, as a small *move* on the true history:

- add a *phantom* restriction that starts and ends between two consecutive times a list
  was published (so no list shows it);
- remove, relabel (another policy, sector, country or tag), swap the labels of, move
  within its calendar quarter, or change how it ended (lifted / expired) a *short-lived*
  restriction: one no list shows, that ended by the last list.

Restrictions a list shows are never touched. A move changes the figures of every report
whose period holds the moment it touches. It is *valid* when each figure it changes is
hidden (those of earlier reports are fixed; those of the new report may be hidden for it)
and stays true to its marker; a row that has a count keeps one. The search picks, for each
hidden figure not yet covered, the valid move hiding the fewest more figures (counting those
it changes in calendar quarters and years no report covers yet; ties: the first found),
hides what it needs, and covers every figure it changes. Hiding more never
makes a valid move invalid, so every figure stays covered: the result is proof, not a
heuristic. Figures are tried in a fixed order, so a verifier gets the same cells.

The library of moves is searched completely for each figure, so a move that covered a
figure when an earlier report was made is found again: a new report can always hide what
it needs, unless its list falls inside a period already reported (it may then turn a
short-lived restriction into a listed one, or split an atom a phantom needed).

Pure and deterministic.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from brightline.errors import ConflictError
from brightline.transparency.spells import (
    EXPIRED,
    FLOWS,
    IMPOSED,
    LIFTED,
    MULTI_VALUED,
    NOT_PUBLISHED,
    TABLES,
    Moment,
    Spell,
    at,
)

#: The total row of the policy, sector and country tables: one figure in three places.
TOTAL: Final = ""
SHOWN: Final = "shown"
SMALL: Final = "small"
SUPPRESSED: Final = "suppressed"
_SINGLE: Final = tuple(t for t in TABLES if t != MULTI_VALUED)

#: A figure: (period index, table or TOTAL, row value ("" for a total), flow column).
Cell = tuple[int, str, str, str]
#: A count over one atom of time: (table or TOTAL, row value, flow column, atom index).
AtomCell = tuple[str, str, str, int]
Labels = Mapping[str, tuple[str, ...]]


@dataclass(slots=True)
class Figure:
    value: int
    state: str
    #: Published by an earlier report: neither shown nor marked differently now.
    fixed: bool


@dataclass(frozen=True, slots=True)
class _Placed:
    """A spell as a move sees it: its labels and the atoms its start and end fall in."""

    labels: Labels
    start: int | None
    end: int | None
    ended: str | None


class Series:
    """The figures of periods ``intervals`` (``[start, as_of)``, as_of being a time a list
    was published), counted from ``spells``, with their states."""

    def __init__(
        self, spells: Sequence[Spell], intervals: Sequence[tuple[datetime, datetime]], k: int
    ):
        self.k = k
        self.intervals = list(intervals)
        bounds = sorted({t for interval in intervals for t in interval})
        self._moments: list[Moment] = [at(b) for b in bounds]
        atoms = range(len(bounds) - 1)
        self.atoms_of: list[list[int]] = [
            [i for i in atoms if start <= bounds[i] and bounds[i + 1] <= end]
            for start, end in intervals
        ]
        self.containing: list[list[int]] = [
            [j for j, held in enumerate(self.atoms_of) if i in held] for i in atoms
        ]
        list_times = sorted({end for _, end in intervals})
        self.placed: list[_Placed] = []
        self.short: list[bool] = []
        counts: Counter[AtomCell] = Counter()
        for spell in spells:
            placed = _Placed(
                labels={t: spell.counts(t) for t in TABLES},
                start=self._atom(spell.start),
                end=None if spell.end is None else self._atom(spell.end),
                ended=spell.ended,
            )
            self.placed.append(placed)
            # Short-lived: no list shows it, and it ended by the last list, between two
            # lists (or before the first): no later list (made at the end of a later
            # period) can show it.
            self.short.append(
                spell.end is not None
                and spell.end <= at(list_times[-1])
                and not any(spell.in_force(t) for t in list_times)
            )
            counts.update(_cells(placed))
        self.values: dict[str, list[str]] = {
            t: sorted({v for p in self.placed for v in p.labels[t]}) for t in TABLES
        }
        # Short-lived spells by the flow column and atom of their events.
        self._short_at: dict[tuple[str, int], list[int]] = {}
        for s, placed in enumerate(self.placed):
            if not self.short[s]:
                continue
            for column, atom in ((IMPOSED, placed.start), (placed.ended, placed.end)):
                if column is not None and atom is not None:
                    self._short_at.setdefault((column, atom), []).append(s)
        self.in_force: dict[tuple[int, str, str], int] = Counter()
        for j, (_, end) in enumerate(intervals):
            for spell in spells:
                if spell.in_force(end):
                    for t in TABLES:
                        for v in spell.counts(t):
                            self.in_force[(j, t, v)] += 1
        self.figures: dict[Cell, Figure] = {}
        for j, held in enumerate(self.atoms_of):
            flows: Counter[tuple[str, str, str]] = Counter()
            for (t, v, c, i), n in counts.items():
                if i in held:
                    flows[(t, v, c)] += n
            rows = {(t, v) for (t, v, _), n in flows.items() if n and t != TOTAL}
            rows |= {(t, v) for (jj, t, v), n in self.in_force.items() if jj == j and n}
            for t, v in sorted(rows | {(TOTAL, "")}):
                for c in FLOWS:
                    self.figures[(j, t, v, c)] = Figure(flows[(t, v, c)], SHOWN, False)
        self.covered: set[Cell] = set()
        # The calendar quarters and years each atom lies in that no report covers yet: the
        # periods later reports are most often made for. A move that changes their sums
        # will cost hidden figures there too, so the search counts them as it counts the
        # figures it must hide now. (A preference only: any valid move is a proof.)
        self._calendar: list[list[tuple[datetime, datetime]]] = []
        for i in atoms:
            inside = [
                period
                for period in _calendar(bounds[i])
                if period not in self.intervals
                and period[0] <= bounds[i]
                and bounds[i + 1] <= period[1]
            ]
            self._calendar.append(inside)
        quarter_of = [_calendar(bounds[i])[0] for i in atoms]
        self._same_quarter: list[list[int]] = [
            [o for o in atoms if o != i and quarter_of[o] == quarter_of[i]] for i in atoms
        ]

    def _atom(self, moment: Moment) -> int | None:
        """The atom ``((b_i, 0), (b_i+1, 0)]`` holding ``moment``, if any."""
        p = bisect.bisect_left(self._moments, moment)
        return p - 1 if 1 <= p < len(self._moments) else None

    # -- moves --------------------------------------------------------------------------

    def _touched(self, delta: Counter[AtomCell]) -> dict[Cell, int]:
        changed: Counter[Cell] = Counter()
        for (t, v, c, i), n in delta.items():
            if n:
                for j in self.containing[i]:
                    changed[(j, t, v, c)] += n
        return {cell: n for cell, n in changed.items() if n}

    def _check(self, changed: Mapping[Cell, int]) -> tuple[list[Cell], list[Cell]] | None:
        """``None`` if the move is not valid; else the figures it must hide and those
        whose ``"< k"`` it must turn into ``"suppressed"``."""
        hides: list[Cell] = []
        downgrades: list[Cell] = []
        rows: set[tuple[int, str, str]] = set()
        for cell, n in changed.items():
            figure = self.figures.get(cell)
            if figure is None:
                return None  # a row the table does not have: its absence says zero
            new = figure.value + n
            if new < 0:  # pragma: no cover - moves only take away what is there
                return None
            if figure.state == SHOWN:
                if figure.fixed:
                    return None
                hides.append(cell)
            elif figure.state == SMALL and not 1 <= new < self.k:
                if figure.fixed:
                    return None
                downgrades.append(cell)
            if cell[1] != TOTAL:
                rows.add(cell[:3])
        for j, t, v in rows:
            if not self.in_force[(j, t, v)] and all(
                self.figures[(j, t, v, c)].value + changed.get((j, t, v, c), 0) == 0 for c in FLOWS
            ):
                return None  # the row would vanish
        return hides, downgrades

    def best_move(self, target: Cell) -> tuple[dict[Cell, int], list[Cell], list[Cell]] | None:
        """The valid move changing ``target`` that hides the fewest more figures."""
        best: tuple[tuple[int, int], dict[Cell, int], list[Cell], list[Cell]] | None = None
        for delta in self._candidates(target):
            changed = self._touched(delta)
            if not changed.get(target):
                continue
            checked = self._check(changed)
            if checked is None:
                continue
            cost = (len(checked[0]) + self._later(delta), len(checked[1]))
            if best is None or cost < best[0]:
                best = (cost, changed, *checked)
                if cost == (0, 0):
                    break
        return None if best is None else best[1:]

    def cover(self, targets: Sequence[Cell], describe: Callable[[Cell], str]) -> None:
        """Cover every hidden figure of ``targets`` (in order) with a valid move, hiding
        what each needs. Raises ConflictError naming the first that none covers."""
        for target in targets:
            if target in self.covered or self.figures[target].state == SHOWN:
                continue
            move = self.best_move(target)
            if move is None:
                raise ConflictError(
                    f"no history consistent with the reports released keeps {describe(target)} "
                    "from being worked out: release reports whose periods end where earlier "
                    "reports' periods end"
                )
            changed, hides, downgrades = move
            for cell in (*hides, *downgrades):
                self.figures[cell].state = SUPPRESSED
            self.covered.update(changed)

    def _candidates(self, target: Cell) -> Iterator[Counter[AtomCell]]:
        """Every move of the library that changes ``target`` (phantoms with their other
        labels chosen cheapest, which loses nothing: each table's labels are valid or not
        on their own). Complete, so that a move that covered a figure before is found
        again when a later report asks for that figure's proof."""
        j, table, value, column = target
        for atom in self.atoms_of[j]:
            for s in self._short_at.get((column, atom), ()):
                yield from self._edits(s, table, value)
            if column != IMPOSED:  # turning a spell ending here the other way
                other = EXPIRED if column == LIFTED else LIFTED
                for s in (
                    *self._short_at.get((column, atom), ()),
                    *self._short_at.get((other, atom), ()),
                ):
                    if table == TOTAL or value in self.placed[s].labels[table]:
                        yield self._flip(s)
            # Moving a short-lived spell to another atom of the same calendar quarter: the
            # sums of the quarter and the year stay as they are.
            for s in self._short_at.get((column, atom), ()):
                if table == TOTAL or value in self.placed[s].labels[table]:
                    for other_atom in self._same_quarter[atom]:
                        yield self._shift(s, other_atom)
            for other_atom in self._same_quarter[atom]:
                for s in self._short_at.get((column, other_atom), ()):
                    if table == TOTAL or value in self.placed[s].labels[table]:
                        yield self._shift(s, atom)
            yield from self._phantoms(atom, table, value, column)

    def _shift(self, s: int, atom: int) -> Counter[AtomCell]:
        placed = self.placed[s]
        moved = _Placed(placed.labels, atom, atom, placed.ended)
        return _minus(_cells(moved), _cells(placed))

    def _flip(self, s: int) -> Counter[AtomCell]:
        placed = self.placed[s]
        flipped = LIFTED if placed.ended == EXPIRED else EXPIRED
        return _minus(_cells(_replace(placed, ended=flipped)), _cells(placed))

    def _edits(self, s: int, table: str, value: str) -> Iterator[Counter[AtomCell]]:
        """Removing, relabelling or swapping short-lived spell ``s`` (one of whose events is
        where the target is) in a way that changes ``value`` under ``table``."""
        placed = self.placed[s]
        counted = table == TOTAL or value in placed.labels[table]
        if counted:
            yield _minus(Counter(), _cells(placed))
        if table == TOTAL:
            return
        current = placed.labels[table]
        if table == MULTI_VALUED:
            if counted:
                if len(current) > 1:
                    yield _relabel(placed, table, tuple(v for v in current if v != value))
                replaced = [o for o in self.values[table] if o not in current]
            else:
                yield _relabel(placed, table, tuple(sorted({*current, value} - {NOT_PUBLISHED})))
                replaced = list(current)
            for other in replaced:  # one tag for another
                yield _relabel(
                    placed,
                    table,
                    tuple(sorted({*current, value, other} - {value if counted else other})),
                )
            return
        if counted:
            for other in self.values[table]:
                if other != value:
                    yield _relabel(placed, table, (other,))
        else:
            yield _relabel(placed, table, (value,))
        for q, partner in enumerate(self.placed):
            # Swapping labels with another short-lived spell: ``s`` gives ``value`` away,
            # or takes it from a spell that has it.
            theirs = partner.labels[table]
            if self.short[q] and q != s and theirs != current and (counted or value in theirs):
                delta = _relabel(placed, table, theirs)
                delta.update(_relabel(partner, table, current))
                yield delta

    def _phantoms(
        self, atom: int, table: str, value: str, column: str
    ) -> Iterator[Counter[AtomCell]]:
        """A restriction that starts and ends within ``atom`` (no list can show it), with
        ``value`` under ``table``; its other labels the cheapest, one table at a time."""
        for ended in (LIFTED, EXPIRED) if column == IMPOSED else (column,):
            labels: dict[str, tuple[str, ...]] = {}
            if table != TOTAL:
                labels[table] = (value,)
            for other in TABLES:
                if other in labels:
                    continue
                choice = self._cheapest_label(atom, ended, other)
                if choice is None:
                    break
                labels[other] = (choice,)
            else:
                yield _cells(_Placed(labels, atom, atom, ended))

    def _cheapest_label(self, atom: int, ended: str, table: str) -> str | None:
        best: tuple[tuple[int, int], str] | None = None
        for value in self.values[table]:
            delta = Counter({(table, value, IMPOSED, atom): 1, (table, value, ended, atom): 1})
            checked = self._check(self._touched(delta))
            if checked is not None:
                cost = (len(checked[0]) + self._later(delta), len(checked[1]))
                if best is None or cost < best[0]:
                    best = (cost, value)
        return None if best is None else best[1]

    def _later(self, delta: Counter[AtomCell]) -> int:
        """How many figures of calendar quarters and years not reported yet ``delta``
        changes."""
        net: Counter[tuple[tuple[datetime, datetime], str, str, str]] = Counter()
        for (t, v, c, i), n in delta.items():
            for period in self._calendar[i] if n else ():
                net[(period, t, v, c)] += n
        return sum(1 for n in net.values() if n)


def _calendar(when: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """The calendar quarter and year (UTC) ``when`` falls in, as ``[start, end)``."""

    def month(year: int, number: int) -> datetime:  # number may be 13: next January
        return datetime(year + (number - 1) // 12, (number - 1) % 12 + 1, 1, tzinfo=UTC)

    first = (when.month - 1) // 3 * 3 + 1
    quarter = (month(when.year, first), month(when.year, first + 3))
    return (quarter, (month(when.year, 1), month(when.year, 13)))


def _cells(placed: _Placed) -> Counter[AtomCell]:
    """What one restriction counts, atom by atom."""
    counted: Counter[AtomCell] = Counter()
    events = [(IMPOSED, placed.start), (placed.ended, placed.end)]
    for column, atom in events:
        if column is None or atom is None:
            continue
        counted[(TOTAL, "", column, atom)] += 1
        for table in TABLES:
            for value in placed.labels[table]:
                counted[(table, value, column, atom)] += 1
    return counted


def _minus(a: Counter[AtomCell], b: Counter[AtomCell]) -> Counter[AtomCell]:
    out = Counter(a)
    out.subtract(b)
    return out


def _replace(placed: _Placed, *, ended: str) -> _Placed:
    return _Placed(placed.labels, placed.start, placed.end, ended)


def _relabel(placed: _Placed, table: str, labels: tuple[str, ...]) -> Counter[AtomCell]:
    moved = _Placed({**placed.labels, table: labels}, placed.start, placed.end, placed.ended)
    return _minus(_cells(moved), _cells(placed))
