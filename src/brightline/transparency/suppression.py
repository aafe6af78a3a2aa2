"""Small-count suppression: no published count lies in ``[1, k)``.

A count from 1 to k-1 could single out one customer or one reporter, so it is shown
as ``"< k"``. Zero is shown: it singles out no one. In a table with a total row, a
column with exactly one suppressed cell would give it away (total minus the others),
so the smallest other non-zero cell of that column is hidden too, shown as
``"suppressed"`` (it is k or more; ``"< k"`` would be false), or, when there is none,
the total. A median over fewer than k cases is not shown either.

The rules are deterministic, so a verifier that recomputes the exact figures from the
log recomputes the very same published cells.
"""

from __future__ import annotations

from typing import Final

from brightline.transparency.model import (
    ColumnKind,
    PublishedCell,
    PublishedTable,
    Table,
    check_k,
)

#: Shown in place of a published count that was hidden only to protect another one.
SECONDARY: Final = "suppressed"
#: Shown in place of a median over fewer than k cases.
MEDIAN_SUPPRESSED: Final = "suppressed"


def small(k: int) -> str:
    """The marker for a count from 1 to k-1."""
    return f"< {k}"


def is_small(value: int | float | None, k: int) -> bool:
    return isinstance(value, int) and 1 <= value < k


def suppress(table: Table, k: int) -> PublishedTable:
    """The published form of ``table`` with ``k`` (at least 1)."""
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
    if table.total and table.rows:
        _protect_by_total(table, cells)
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


def _protect_by_total(table: Table, cells: list[list[PublishedCell]]) -> None:
    """Secondary suppression, column by column, against ``total - published cells``."""
    data = range(len(table.rows) - 1)
    total_row = len(table.rows) - 1
    for c in range(len(table.columns)):
        if table.kind(c) is not ColumnKind.COUNT or isinstance(cells[total_row][c], str):
            continue
        hidden = [r for r in data if isinstance(cells[r][c], str)]
        if len(hidden) != 1:
            continue
        candidates = [
            r
            for r in data
            if not isinstance(cells[r][c], str)
            and isinstance(table.rows[r].values[c], int)
            and table.rows[r].values[c] != 0
        ]
        if candidates:
            # The smallest other cell hides the least; ties go to the first row.
            chosen = min(candidates, key=lambda r: (table.rows[r].values[c] or 0, r))
            cells[chosen][c] = SECONDARY
        else:
            cells[total_row][c] = SECONDARY
