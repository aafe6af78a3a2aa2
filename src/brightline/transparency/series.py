"""Suppression that survives a series of reports: the restriction tables of a report are
suppressed together with every report released before it.

A reader holds every report a deployment publishes: monthly, quarterly and yearly ones
that overlap, the same period twice, and each report's list of the restrictions in force.
Hiding small counts report by report does not survive that: ``Q1 - (January + February)``
gives March, and ``in force at end - in force at start`` gives ``imposed - lifted -
expired``. So each report is suppressed with the earlier ones as they were published
(:class:`SeriesRelease`, which ``report.json`` states and the store records):

- k is the same for every report of a deployment (a release with another k is refused);
- a figure an earlier report showed is known, and shown again wherever it recurs;
- a figure an earlier report hid stays hidden wherever it recurs, and wherever it could be
  worked out from: :mod:`~brightline.transparency.certify` proves, for every hidden figure
  of every report released so far and of the new one, that another history of
  restrictions agrees with everything published (figures, markers, lists by restriction)
  and gives it another value, hiding what that proof needs;
- ``in force at end`` is shown as counted: the list of restrictions in force names each
  one with its public form, so that column is known anyway, and is taken as known.

Markers in the restriction tables: ``"< k"`` is a count from 1 to k-1; ``"suppressed"`` is
hidden to protect another figure (of this report or another one) and says nothing of the
value: it may be 0, below k, or more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from brightline.errors import ConflictError, InvalidInputError, Problem
from brightline.transparency.certify import SHOWN, SMALL, SUPPRESSED, TOTAL, Cell, Series
from brightline.transparency.model import (
    Period,
    PublishedCell,
    PublishedTable,
    Table,
    check_k,
    format_time,
    parse_time,
)
from brightline.transparency.spells import FLOWS, MULTI_VALUED, TABLES, Spell
from brightline.transparency.suppression import SECONDARY, small, suppress

#: A hidden cell of a restriction table: (table, row label, column, marker shown).
HiddenCell = tuple[str, str, str, str]
_TOTAL_LABEL: Final = "total"
_SINGLE: Final = tuple(t for t in TABLES if t != MULTI_VALUED)


@dataclass(frozen=True, slots=True)
class SeriesRelease:
    """A report released earlier, as later reports must respect it: its period, the time
    its figures held at, its k, and the cells of its restriction tables it hid, with the
    marker it showed. Every other cell of those tables it showed as counted."""

    period: Period
    as_of: datetime
    k: int
    hidden: tuple[HiddenCell, ...]

    @property
    def interval(self) -> tuple[datetime, datetime]:
        return (self.period.start, self.as_of)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.period.first.isoformat(),
            "to": self.period.last.isoformat(),
            "as_of": format_time(self.as_of),
            "k": self.k,
            "hidden": [list(cell) for cell in self.hidden],
        }

    @classmethod
    def from_json(cls, value: Any, *, where: str = "series") -> SeriesRelease:
        """Raises InvalidInputError for anything but what :meth:`to_json` writes."""
        if not isinstance(value, Mapping) or set(value) != {"from", "to", "as_of", "k", "hidden"}:
            raise InvalidInputError(Problem(where, "is not a released report"))
        try:
            period = Period(date.fromisoformat(value["from"]), date.fromisoformat(value["to"]))
            as_of = parse_time(value["as_of"])
        except (TypeError, ValueError, InvalidInputError) as exc:
            raise InvalidInputError(Problem(where, f"bad period or time: {exc}")) from exc
        if (
            period.first.isoformat() != value["from"]
            or period.last.isoformat() != value["to"]
            or format_time(as_of) != value["as_of"]
            or not period.start <= as_of <= period.end
        ):
            raise InvalidInputError(Problem(where, "period or time not as a report states them"))
        k = value["k"]
        if isinstance(k, bool) or not isinstance(k, int):
            raise InvalidInputError(Problem(where, f"k {k!r} is not a whole number"))
        hidden = value["hidden"]
        if not isinstance(hidden, list) or not all(
            isinstance(c, list) and len(c) == 4 and all(isinstance(x, str) for x in c)
            for c in hidden
        ):
            raise InvalidInputError(
                Problem(where, "hidden cells are not [table, row, column, marker]")
            )
        cells = tuple((t, row, column, marker) for t, row, column, marker in hidden)
        if len(set(cells)) != len(cells):
            raise InvalidInputError(Problem(where, "a hidden cell is listed twice"))
        return cls(period, as_of, check_k(k), cells)


def released(
    tables: Sequence[PublishedTable], *, period: Period, as_of: datetime, k: int
) -> SeriesRelease:
    """The release of a report that published ``tables``."""
    hidden = tuple(
        (t.name, label, t.columns[c], cell)
        for t in tables
        if t.name in TABLES
        for label, cells in t.rows
        for c, cell in enumerate(cells)
        if isinstance(cell, str)
    )
    return SeriesRelease(period, as_of, k, hidden)


def suppress_series(
    spells: Sequence[Spell],
    tables: Sequence[Table],
    *,
    period: Period,
    as_of: datetime,
    k: int,
    releases: Sequence[SeriesRelease] = (),
) -> tuple[PublishedTable, ...]:
    """The restriction ``tables`` of a report over ``[period.start, as_of)`` (exact, as
    counted from ``spells``), suppressed with ``k`` consistently with ``releases``.

    Raises ConflictError if a release was made with another k, or if no suppression of
    this report keeps an earlier report's hidden figure from being worked out (a list
    published in the middle of an earlier period can do that); InvalidInputError if a
    release names a cell its period does not have, or a ``"< k"`` the log contradicts.
    """
    check_k(k)
    for release in releases:
        if release.k != k:
            raise ConflictError(
                f"k is fixed for a deployment: the report for {release.period.first} to "
                f"{release.period.last} was released with k = {release.k}, not {k}"
            )
    if k == 1:
        return tuple(suppress(t, 1) for t in tables)
    new = (period.start, as_of)
    intervals = list(dict.fromkeys([*(r.interval for r in releases), new]))
    series = Series(spells, intervals, k)
    index = {interval: j for j, interval in enumerate(intervals)}
    known = _known(series, releases, index)
    j = index[new]
    # Every hidden figure released is proved again: a move that proved one before may
    # now change a figure of this report, which then must hide it too.
    targets = list(known)
    if j not in {index[r.interval] for r in releases}:
        for cell, figure in series.figures.items():
            if cell[0] == j and 1 <= figure.value < k:
                figure.state = SMALL
                targets.append(cell)
    series.cover(list(dict.fromkeys(targets)), lambda c: _describe(c, intervals))
    return tuple(_published(t, series, j, k) for t in tables)


def _known(
    series: Series,
    releases: Sequence[SeriesRelease],
    index: Mapping[tuple[datetime, datetime], int],
) -> list[Cell]:
    """Fix the figures of earlier reports as they were published; their hidden cells."""
    # By figure, the releases hiding it (a total must be hidden in all three tables) and
    # the markers they showed.
    places: dict[Cell, Counter[int]] = {}
    markers: dict[Cell, set[str]] = {}
    by_interval: dict[int, set[int]] = {}
    for n, release in enumerate(releases):
        j = index[release.interval]
        by_interval.setdefault(j, set()).add(n)
        for table, label, column, marker in release.hidden:
            cell = _cell(j, table, label, column)
            figure = series.figures.get(cell) if cell is not None else None
            if cell is None or figure is None or marker not in (small(series.k), SECONDARY):
                raise InvalidInputError(
                    Problem(
                        "series",
                        f"the report released for {release.period.first} to "
                        f"{release.period.last} hides {table} {label!r} {column!r} as "
                        f"{marker!r}: the log gives no such cell",
                    )
                )
            if marker == small(series.k) and not 1 <= figure.value < series.k:
                raise InvalidInputError(
                    Problem(
                        "series",
                        f"the report released for {release.period.first} to "
                        f"{release.period.last} shows {table} {label!r} {column!r} as "
                        f"{marker!r}; the log gives {figure.value}",
                    )
                )
            places.setdefault(cell, Counter())[n] += 1
            markers.setdefault(cell, set()).add(marker)
    hidden: list[Cell] = []
    for cell, figure in series.figures.items():
        released_in = by_interval.get(cell[0])
        if released_in is None:
            continue
        needed = len(_SINGLE) if cell[1] == TOTAL else 1
        hid = places.get(cell, Counter())
        if any(hid[n] < needed for n in released_in):
            figure.state = SHOWN  # shown somewhere: known
        else:
            figure.state = SUPPRESSED if SECONDARY in markers[cell] else SMALL
            hidden.append(cell)
        figure.fixed = True
    return hidden


def _cell(j: int, table: str, label: str, column: str) -> Cell | None:
    if table not in TABLES or column not in FLOWS:
        return None
    if label == _TOTAL_LABEL and table != MULTI_VALUED:
        return (j, TOTAL, "", column)
    return (j, table, label, column)


def _describe(cell: Cell, intervals: Sequence[tuple[datetime, datetime]]) -> str:
    j, table, value, column = cell
    start, end = intervals[j]
    row = "the total" if table == TOTAL else f"{table} {value!r}"
    return f"{row}, {column!r}, from {format_time(start)} to {format_time(end)}"


def _published(table: Table, series: Series, j: int, k: int) -> PublishedTable:
    rows: list[tuple[str, tuple[PublishedCell, ...]]] = []
    last = len(table.rows) - 1
    for r, row in enumerate(table.rows):
        cells: list[PublishedCell] = list(row.values)
        for c, column in enumerate(FLOWS):
            key: Cell = (
                (j, TOTAL, "", column)
                if table.total and r == last
                else (j, table.name, row.label, column)
            )
            figure = series.figures[key]
            assert figure.value == row.values[c], (key, figure.value, row.values[c])
            if figure.state == SMALL:
                cells[c] = small(k)
            elif figure.state == SUPPRESSED:
                cells[c] = SECONDARY
        rows.append((row.label, tuple(cells)))
    return PublishedTable(
        name=table.name,
        title=table.title,
        description=table.description,
        label=table.label,
        columns=table.columns,
        rows=tuple(rows),
        total=table.total,
        chart_column=table.chart_column,
    )
