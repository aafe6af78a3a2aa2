"""Small-count suppression: no published count lies in ``[1, k)``, and no published total
lets anyone work one out.

A count from 1 to k-1 could single out one customer or one reporter, so it is shown as
``"< k"``. Zero is shown: it singles out no one. A median over fewer than k cases is not
shown either.

In a table with a total row, each column is one equation: the total is the sum of the
cells. Anyone reading the markers knows a ``"< k"`` cell lies in ``[1, k-1]`` and a
``"suppressed"`` cell (hidden only to protect another one; always a count of k or more)
in ``[k, ∞)``; a hidden total lies in ``[1, ∞)``. From the total minus the cells shown,
each hidden cell has a *feasible interval*. While some hidden cell's interval is a single
value, one more cell is hidden: the smallest non-zero cell shown (ties: the first row),
or, when none is left, the total. With k of at least 3 that always ends with every hidden
cell's interval holding at least two values (k = 2 is refused: ``"< 2"`` would say 1).

Some totals are published twice (the restriction tables by policy, sector and country
count the same restrictions; the age of cases repeats two rows of the cases table):
:func:`suppress_tables` hides every copy of a figure when one copy is hidden, so that no
table gives away what another one hides.

The rules are deterministic, so a verifier that recomputes the exact figures from the
log recomputes the very same published cells.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from brightline.transparency.model import (
    ColumnKind,
    PublishedCell,
    PublishedTable,
    Table,
    check_k,
)

#: Shown in place of a count hidden only to protect another one (or of a total).
SECONDARY: Final = "suppressed"
#: Shown in place of a median over fewer than k cases.
MEDIAN_SUPPRESSED: Final = "suppressed"


def small(k: int) -> str:
    """The marker for a count from 1 to k-1."""
    return f"< {k}"


def is_small(value: int | float | None, k: int) -> bool:
    return isinstance(value, int) and 1 <= value < k


@dataclass(frozen=True, slots=True)
class Interval:
    """The whole numbers from ``low`` to ``high`` (``None``: no upper bound)."""

    low: int
    high: int | None

    @property
    def single(self) -> bool:
        return self.high is not None and self.high <= self.low


def marker_interval(cell: PublishedCell, k: int, *, total: bool) -> Interval | None:
    """What a hidden cell's marker alone says of its value; ``None`` for a shown cell."""
    if cell == small(k):
        return Interval(1, k - 1)
    if cell == SECONDARY:
        return Interval(1, None) if total else Interval(k, None)
    return None


def feasible_intervals(column: Sequence[PublishedCell], k: int) -> dict[int, Interval]:
    """Each hidden cell of a column (the last cell being the total), by position, with the
    values it can take given every marker and ``total = sum of the other cells``.

    One equation with bounds on each unknown: the hidden cells sum to ``y = total - shown``,
    ``y`` lies in ``[y_low, y_high]`` (from the total's bounds and the cells'), and cell i
    in ``[y_low - others' highs, y_high - others' lows]`` within its own bounds. Exact.
    """
    *cells, total = column
    shown = sum(c for c in cells if isinstance(c, int) and not isinstance(c, bool))
    hidden = {
        r: b for r, c in enumerate(cells) if (b := marker_interval(c, k, total=False)) is not None
    }
    total_hidden = marker_interval(total, k, total=True)
    if total_hidden is not None:
        total_bounds = total_hidden
    else:
        assert isinstance(total, int), "a total is a count or a marker"
        total_bounds = Interval(total, total)
    lows = sum(b.low for b in hidden.values())
    highs = _sum_high(hidden.values())
    y_low = max(total_bounds.low - shown, lows)
    y_high = _min_high(_minus(total_bounds.high, shown), highs)
    result: dict[int, Interval] = {}
    for r, own in hidden.items():
        others = [b for s, b in hidden.items() if s != r]
        others_high = _sum_high(others)
        low = own.low if others_high is None else max(own.low, y_low - others_high)
        high = _min_high(own.high, _minus(y_high, sum(b.low for b in others)))
        result[r] = Interval(low, high)
    if total_hidden is not None:
        result[len(cells)] = Interval(y_low + shown, _minus(y_high, -shown))
    return result


def _sum_high(bounds: Iterable[Interval]) -> int | None:
    total = 0
    for b in bounds:
        if b.high is None:
            return None
        total += b.high
    return total


def _min_high(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _minus(a: int | None, b: int) -> int | None:
    return None if a is None else a - b


def suppress(table: Table, k: int, *, hide: Collection[tuple[int, int]] = ()) -> PublishedTable:
    """The published form of ``table`` with ``k`` (1, or at least 3). ``hide`` are
    (row, column) cells to show as ``"suppressed"`` whatever they hold, because another
    table hides the same figure."""
    check_k(k)
    cells: list[list[PublishedCell]] = [list(row.values) for row in table.rows]
    for r, row in enumerate(table.rows):
        for c, value in enumerate(row.values):
            kind = table.kind(c)
            if kind is ColumnKind.COUNT and is_small(value, k):
                cells[r][c] = small(k)
            elif kind is ColumnKind.MEDIAN_DAYS:
                n = row.values[0]
                if value is not None and (not isinstance(n, int) or n < k):
                    cells[r][c] = MEDIAN_SUPPRESSED
    for r, c in hide:
        cells[r][c] = SECONDARY
    if table.total and table.rows and k > 1:
        for c in range(len(table.columns)):
            if table.kind(c) is ColumnKind.COUNT:
                _protect_column(table, cells, c, k)
    return PublishedTable(
        name=table.name,
        title=table.title,
        description=table.description,
        label=table.label,
        columns=table.columns,
        rows=tuple(
            (row.label, tuple(values)) for row, values in zip(table.rows, cells, strict=True)
        ),
        total=table.total,
        chart_column=table.chart_column,
    )


def _protect_column(table: Table, cells: list[list[PublishedCell]], c: int, k: int) -> None:
    """Secondary suppression of column ``c`` until no hidden cell is pinned by the total."""
    total_row = len(table.rows) - 1
    while any(i.single for i in feasible_intervals([row[c] for row in cells], k).values()):
        candidates = [
            r
            for r in range(total_row)
            if not isinstance(cells[r][c], str)
            and isinstance(value := table.rows[r].values[c], int)
            and value != 0
        ]
        if candidates:
            # The smallest other cell hides the least; ties go to the first row.
            chosen = min(candidates, key=lambda r: (table.rows[r].values[c] or 0, r))
            cells[chosen][c] = SECONDARY
        elif cells[total_row][c] != SECONDARY:
            cells[total_row][c] = SECONDARY
        else:  # pragma: no cover - a hidden total leaves every interval two values wide
            raise AssertionError(f"cannot protect column {c} of {table.name}")


#: A figure published in several places: (table name, row label, column index); the row
#: label ``None`` is the table's total row.
Place = tuple[str, str | None, int]


def suppress_tables(
    tables: Iterable[Table], k: int, *, copies: Iterable[Sequence[Place]] = ()
) -> tuple[PublishedTable, ...]:
    """Every table suppressed with ``k`` such that, for each group of places holding the
    same figure (``copies``), if one is ``"suppressed"`` every one is, and no hidden copy
    is pinned by its own table either; repeated until nothing changes (hiding only ever
    widens what anyone can work out, so it ends)."""
    tables = list(tables)
    groups = [tuple(g) for g in copies]
    hide: dict[str, set[tuple[int, int]]] = {t.name: set() for t in tables}
    while True:
        published = {t.name: suppress(t, k, hide=hide[t.name]) for t in tables}
        changed = False
        for group in groups:
            places = [p for place in group if (p := _locate(published, place)) is not None]
            if any(published[n].rows[r][1][c] == SECONDARY for n, r, c in places):
                for n, r, c in places:
                    if published[n].rows[r][1][c] != SECONDARY:
                        hide[n].add((r, c))
                        changed = True
        if not changed:
            return tuple(published[t.name] for t in tables)


def _locate(tables: Mapping[str, PublishedTable], place: Place) -> tuple[str, int, int] | None:
    name, label, column = place
    table = tables.get(name)
    if table is None or not table.rows or column >= len(table.columns):
        return None
    if label is None:
        return (name, len(table.rows) - 1, column) if table.total else None
    last = len(table.rows) - 1 if table.total else len(table.rows)
    rows = [r for r in range(last) if table.rows[r][0] == label]
    return (name, rows[0], column) if rows else None
