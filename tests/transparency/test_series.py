"""The restriction tables of a series of reports: counted from spells, suppressed together."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.errors import ConflictError, InvalidInputError
from brightline.transparency import DEFAULT_FIELDS, Parameters, Period, compute_figures
from brightline.transparency.report import published_tables
from brightline.transparency.series import SeriesRelease, released
from brightline.transparency.spells import TABLES, restriction_spells
from brightline.transparency.suppression import SECONDARY
from transparency.attack import provider, release_all, year_of_reports

MONTHS = [p for p in year_of_reports() if p.first.day == 1 and p.last.month == p.first.month]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_in_force_at_end_is_in_force_at_start_plus_imposed_minus_ended(seed: int) -> None:
    entries = provider(seed, 30)
    previous = None
    for month in MONTHS:
        figures = compute_figures(entries, period=month, as_of=month.end, fields=DEFAULT_FIELDS)
        for table in figures.tables:
            if table.name not in TABLES:
                continue
            now = {row.label: row.values for row in table.rows}
            before = {} if previous is None else previous[table.name]
            for label, (imposed, lifted, expired, in_force) in now.items():
                start = before.get(label, (0, 0, 0, 0))[3] if previous is not None else None
                if start is not None:
                    assert in_force == start + imposed - lifted - expired, (month, label)
        # The column counts the list.
        policy = next(t for t in figures.tables if t.name == "restrictions-by-policy")
        assert policy.rows[-1].values[3] == len(figures.in_force)
        previous = {
            t.name: {row.label: row.values for row in t.rows}
            for t in figures.tables
            if t.name in TABLES
        }


def test_spells_start_with_the_window_and_end_once() -> None:
    entries = provider(7, 40)
    end = MONTHS[-1].end
    for spell in restriction_spells(entries, as_of=end):
        assert spell.end is None or spell.start < spell.end
        assert (spell.end is None) == (spell.ended is None)


def _params(period: Period, k: int, series: tuple[SeriesRelease, ...] = ()) -> Parameters:
    return Parameters(period, period.end, k, DEFAULT_FIELDS, series=series)


def test_a_release_with_another_k_is_refused() -> None:
    entries = provider(3, 40)
    tables, _ = published_tables(entries, _params(MONTHS[0], 5))
    first = released(
        [t for t in tables if t.name in TABLES], period=MONTHS[0], as_of=MONTHS[0].end, k=5
    )
    with pytest.raises(ConflictError, match="k is fixed"):
        published_tables(entries, _params(MONTHS[1], 3, (first,)))


def test_the_same_period_again_publishes_the_same_cells() -> None:
    entries = provider(4, 60)
    periods = [*MONTHS[:3], Period(MONTHS[0].first, MONTHS[2].last)]
    reports = release_all(entries, [*periods, periods[-1], periods[0]], 5)
    assert reports[-2].tables == reports[3].tables  # the quarter again
    assert reports[-1].tables == reports[0].tables  # January again, after the quarter


def test_the_in_force_column_is_shown_as_counted_and_small_counts_are_hidden() -> None:
    entries = provider(5, 40)
    (report,) = release_all(entries, [MONTHS[6]], 5)
    shown_small = 0
    for table, exact in zip(report.tables, report.exact, strict=True):
        for (_, cells), row in zip(table.rows, exact.rows, strict=True):
            assert cells[3] == row.values[3]
            shown_small += 1 <= row.values[3] < 5
            for cell, value in zip(cells[:3], row.values[:3], strict=True):
                assert not (isinstance(cell, int) and 1 <= cell < 5)
                if cell == "< 5":
                    assert 1 <= value < 5
                assert cell in (value, "< 5", SECONDARY)
    assert shown_small  # the list publishes them anyway


def test_a_release_reads_back_as_written_and_nothing_else() -> None:
    entries = provider(6, 40)
    (report,) = release_all(entries, [MONTHS[2]], 5)
    release = released(report.tables, period=MONTHS[2], as_of=MONTHS[2].end, k=5)
    assert release.hidden
    assert SeriesRelease.from_json(release.to_json()) == release
    bad = release.to_json()
    bad["hidden"] = [*bad["hidden"], bad["hidden"][0]]
    with pytest.raises(InvalidInputError, match="twice"):
        SeriesRelease.from_json(bad)
    with pytest.raises(InvalidInputError):
        SeriesRelease.from_json({**release.to_json(), "as_of": "2025-03-31"})
    with pytest.raises(InvalidInputError):
        SeriesRelease.from_json({**release.to_json(), "extra": 1})


def test_a_release_that_names_a_cell_the_log_does_not_have_is_refused() -> None:
    entries = provider(6, 40)
    month = MONTHS[2]
    forged = SeriesRelease(
        month, month.end, 5, (("restrictions-by-policy", "nothing", "imposed", "< 5"),)
    )
    with pytest.raises(InvalidInputError, match="no such cell"):
        published_tables(entries, _params(MONTHS[3], 5, (forged,)))
    (report,) = release_all(entries, [month], 5)
    shown = next(
        (t.name, label, t.columns[c])
        for t in report.tables
        for label, cells in t.rows
        for c, cell in enumerate(cells[:3])
        if cell == 0
    )
    lie = SeriesRelease(month, month.end, 5, ((*shown, "< 5"),))
    with pytest.raises(InvalidInputError, match="the log gives"):
        published_tables(entries, _params(MONTHS[3], 5, (lie,)))


def test_a_quarter_hides_what_would_give_away_a_month() -> None:
    """January's hidden counts cannot be had as Q1 minus February and March."""
    entries = provider(8, 80)
    quarter = Period(MONTHS[0].first, MONTHS[2].last)
    reports = release_all(entries, [*MONTHS[:3], quarter], 5)
    months, q1 = reports[:3], reports[3]
    checked = 0
    for t, table in enumerate(q1.tables):
        for label, cells in table.rows:
            for c in range(3):
                got = [dict(m.tables[t].rows).get(label, (0, 0, 0))[c] for m in months]
                if sum(isinstance(g, str) for g in got) == 1:
                    # One month hidden, two shown: the quarter must hide too.
                    assert isinstance(cells[c], str), (table.name, label, c)
                    checked += 1
    assert checked


def test_k_of_one_hides_nothing_over_a_series() -> None:
    entries = provider(9, 40)
    reports = release_all(entries, MONTHS[:2], 1)
    for report in reports:
        for table, exact in zip(report.tables, report.exact, strict=True):
            assert [list(c) for _, c in table.rows] == [list(r.values) for r in exact.rows]


def test_a_year_of_reports_in_the_order_they_are_released() -> None:
    periods = year_of_reports()
    assert len(periods) == 12 + 4 + 1 + 1
    quarter = Period(date(2025, 1, 1), date(2025, 3, 31))
    assert periods[3] == quarter
    assert periods[periods.index(MONTHS[5]) + 1] == quarter  # again, after June
    assert periods[-1] == Period(date(2025, 1, 1), date(2025, 12, 31))
    assert all(a.end <= b.end for a, b in itertools.pairwise(periods) if b != quarter)
