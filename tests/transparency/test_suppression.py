"""Small counts never appear in a published table, and a total never gives one away."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightline.errors import InvalidInputError
from brightline.transparency import ColumnKind, Row, Table, small, suppress, suppress_tables
from brightline.transparency.suppression import SECONDARY


def _table(rows: list[list[int]], *, total: bool) -> Table:
    width = len(rows[0]) if rows else 1
    body = [Row(f"row {i}", tuple(r)) for i, r in enumerate(rows)]
    if total:
        body.append(Row("total", tuple(sum(r[c] for r in rows) for c in range(width))))
    return Table(
        name="t",
        title="T",
        description="",
        label="label",
        columns=tuple(f"c{c}" for c in range(width)),
        rows=tuple(body),
        total=total,
    )


def test_counts_below_k_are_shown_as_less_than_k_and_zero_is_shown() -> None:
    published = suppress(_table([[0], [1], [4], [5], [12]], total=False), 5)
    assert [v for _, (v,) in published.rows] == [0, "< 5", "< 5", 5, 12]


def test_a_single_small_cell_under_a_total_hides_the_next_smallest_too() -> None:
    published = suppress(_table([[2], [7], [9]], total=True), 5)
    assert [v for _, (v,) in published.rows] == ["< 5", SECONDARY, 9, 18]


@pytest.mark.parametrize(
    ("column", "shown"),
    [
        # Three hidden cells summing to 13 - 10 = 3 would each be exactly 1.
        ([1, 1, 1, 10], ["< 5", "< 5", "< 5", SECONDARY, 13]),
        # Two hidden cells summing to 28 - 20 = 8 would each be exactly 4.
        ([4, 4, 20], ["< 5", "< 5", SECONDARY, 28]),
        # "< 5" + "suppressed" = 26 - 20 = 6 would pin both: 1 and 5.
        ([1, 5, 20], ["< 5", SECONDARY, SECONDARY, 26]),
        # Nothing left to hide but the total.
        ([4, 4], ["< 5", "< 5", SECONDARY]),
    ],
)
def test_no_hidden_cell_is_pinned_by_what_the_total_leaves(
    column: list[int], shown: list[object]
) -> None:
    published = suppress(_table([[v] for v in column], total=True), 5)
    assert [v for _, (v,) in published.rows] == shown


def test_a_small_total_that_would_pin_its_cells_is_hidden() -> None:
    # k = 3: "< 3" + "< 3" = "< 3" can only be 1 + 1 = 2.
    published = suppress(_table([[1], [1], [0]], total=True), 3)
    assert [v for _, (v,) in published.rows] == ["< 3", "< 3", 0, SECONDARY]


def test_a_figure_hidden_in_one_table_is_hidden_wherever_it_is_published() -> None:
    by_policy = _table([[4], [4]], total=True)  # the total must go: 4 + 4 would be pinned
    by_sector = Table(
        name="u",
        title="U",
        description="",
        label="label",
        columns=("c0",),
        rows=(Row("row 0", (8,)), Row("total", (8,))),
        total=True,
    )
    alone = suppress_tables([by_policy, by_sector], 5)
    assert alone[1].rows[-1] == ("total", (8,))
    tables = suppress_tables([by_policy, by_sector], 5, copies=[(("t", None, 0), ("u", None, 0))])
    assert tables[0].rows[-1] == ("total", (SECONDARY,))
    # Hidden in the other table too, and not given away there by its only row.
    assert tables[1].rows == (("row 0", (SECONDARY,)), ("total", (SECONDARY,)))


def test_k_of_two_is_refused_because_less_than_two_means_one() -> None:
    with pytest.raises(InvalidInputError, match="k = 2"):
        suppress(_table([[1]], total=False), 2)


def test_k_of_one_suppresses_nothing() -> None:
    published = suppress(_table([[1], [2]], total=True), 1)
    assert [v for _, (v,) in published.rows] == [1, 2, 3]


def test_a_median_over_fewer_than_k_cases_is_not_shown() -> None:
    table = Table(
        name="m",
        title="M",
        description="",
        label="step",
        columns=("cases", "median days"),
        rows=(Row("a", (3, 1.5)), Row("b", (6, 2.0)), Row("c", (0, None))),
        kinds=(ColumnKind.COUNT, ColumnKind.MEDIAN_DAYS),
    )
    published = suppress(table, 5)
    assert [values for _, values in published.rows] == [
        ("< 5", "suppressed"),
        (6, 2.0),
        (0, None),
    ]


@pytest.mark.parametrize("k", [0, -1, True, 2])
def test_k_must_be_at_least_one(k: int) -> None:
    with pytest.raises(InvalidInputError):
        suppress(_table([[1]], total=False), k)


K = st.sampled_from([1, *range(3, 13)])
# Mostly small values, where suppression matters.
VALUE = st.one_of(st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=40))


@given(
    k=K,
    rows=st.lists(st.lists(VALUE, min_size=3, max_size=3), min_size=1, max_size=8),
    total=st.booleans(),
)
def test_no_published_count_is_between_one_and_k(
    k: int, rows: list[list[int]], total: bool
) -> None:
    table = _table(rows, total=total)
    published = suppress(table, k)
    last = len(table.rows) - 1
    for r, ((_, values), row) in enumerate(zip(published.rows, table.rows, strict=True)):
        for value, exact in zip(values, row.values, strict=True):
            assert not (isinstance(value, int) and 1 <= value < k)
            # What is shown is the truth, or a marker that is true of it.
            assert value == exact or value in (small(k), SECONDARY)
            assert isinstance(exact, int)
            if value == small(k):
                assert 1 <= exact < k
            if value == SECONDARY:
                assert exact >= (1 if total and r == last else k)


def _bounds(cell: object, k: int, *, total: bool) -> tuple[int, int | None] | None:
    """What a reader knows of a hidden cell from its marker alone (the documented meaning)."""
    if cell == small(k):
        return (1, k - 1)
    if cell == SECONDARY:
        return (1, None) if total else (k, None)
    return None


def _other_values(column: list[object], exact: list[int], i: int, k: int) -> list[int]:
    """Values other than the true one that hidden cell ``i`` of ``column`` (the last one
    being the total) could take, every other cell being shown or within its marker's
    bounds, and the cells summing to the total: what a reader cannot rule out."""
    n = len(column) - 1
    bounds = [_bounds(c, k, total=j == n) for j, c in enumerate(column)]
    own = bounds[i]
    assert own is not None
    low, high = own
    top = sum(exact) + 2 * k if high is None else high
    found = []
    for y in range(low, top + 1):
        if y == exact[i]:
            continue
        # Fix cell i at y; can the rest be chosen within their bounds?
        lo_sum, hi_sum, known = 0, 0, 0
        unbounded = False
        for j in range(n):
            if j == i:
                known += y
            elif bounds[j] is None:
                known += int(column[j])  # type: ignore[call-overload]
            else:
                lo, hi = bounds[j]  # type: ignore[misc]
                lo_sum += lo
                if hi is None:
                    unbounded = True
                else:
                    hi_sum += hi
        if i == n:
            total_lo, total_hi = y, y
        elif bounds[n] is None:
            total_lo = total_hi = int(column[n])  # type: ignore[call-overload]
        else:
            total_lo, total_hi_or_none = bounds[n]  # type: ignore[misc]
            total_hi = total_hi_or_none if total_hi_or_none is not None else 10**9
        # rest = total - known must lie in [lo_sum, hi_sum] for some total in its range
        rest_lo, rest_hi = total_lo - known, total_hi - known
        if rest_hi >= lo_sum and (unbounded or rest_lo <= hi_sum):
            found.append(y)
            break
    return found


@given(
    k=st.integers(min_value=3, max_value=8),
    rows=st.lists(
        st.lists(st.integers(min_value=0, max_value=12), min_size=2, max_size=2),
        min_size=1,
        max_size=6,
    ),
)
def test_no_published_total_pins_a_hidden_cell_to_one_value(k: int, rows: list[list[int]]) -> None:
    table = _table(rows, total=True)
    published = suppress(table, k)
    for c in range(len(table.columns)):
        column = [values[c] for _, values in published.rows]
        exact = [int(row.values[c] or 0) for row in table.rows]
        for i, cell in enumerate(column):
            if isinstance(cell, str):
                assert _other_values(column, exact, i, k), (column, exact, i)
