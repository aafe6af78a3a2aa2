"""Small counts never appear in a published table, and a total never gives one away."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightline.errors import InvalidInputError
from brightline.transparency import ColumnKind, Row, Table, small, suppress
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


@pytest.mark.parametrize("k", [0, -1, True])
def test_k_must_be_at_least_one(k: int) -> None:
    with pytest.raises(InvalidInputError):
        suppress(_table([[1]], total=False), k)


@given(
    k=st.integers(min_value=1, max_value=12),
    rows=st.lists(
        st.lists(st.integers(min_value=0, max_value=40), min_size=3, max_size=3),
        min_size=1,
        max_size=8,
    ),
    total=st.booleans(),
)
def test_no_published_count_is_between_one_and_k(
    k: int, rows: list[list[int]], total: bool
) -> None:
    table = _table(rows, total=total)
    published = suppress(table, k)
    for (_, values), row in zip(published.rows, table.rows, strict=True):
        for value, exact in zip(values, row.values, strict=True):
            assert not (isinstance(value, int) and 1 <= value < k)
            # What is shown is the truth, or a marker.
            assert value == exact or value in (small(k), SECONDARY)
            if value == small(k):
                assert isinstance(exact, int)
                assert 1 <= exact < k


@given(
    k=st.integers(min_value=2, max_value=12),
    rows=st.lists(
        st.lists(st.integers(min_value=0, max_value=40), min_size=2, max_size=2),
        min_size=1,
        max_size=8,
    ),
)
def test_a_published_total_never_reveals_a_single_hidden_cell(
    k: int, rows: list[list[int]]
) -> None:
    published = suppress(_table(rows, total=True), k)
    *data, (_, totals) = published.rows
    for c, total in enumerate(totals):
        if isinstance(total, str):
            continue
        hidden = [values[c] for _, values in data if isinstance(values[c], str)]
        assert len(hidden) != 1
