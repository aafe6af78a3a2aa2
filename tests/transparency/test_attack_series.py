"""An attacker with every report of a year pins no hidden figure.

The attacker (:mod:`transparency.attack`) holds all the reports a deployment publishes
(monthly, quarterly and yearly, overlapping; the first quarter twice; every list of
restrictions in force, read by restriction id) and solves an integer program with HiGHS:
differences of overlapping periods, stock identities, totals repeated in three tables,
every marker. For each hidden figure it asks whether any other value is possible.
"""

from __future__ import annotations

from datetime import date

import pytest

from brightline.errors import ConflictError
from brightline.transparency import Period
from brightline.transparency.spells import restriction_spells
from transparency.attack import (
    Attack,
    provider,
    release_all,
    release_alone,
    year_of_reports,
)


@pytest.mark.parametrize(("seed", "restrictions", "k"), [(1, 45, 3), (2, 120, 5)])
def test_no_hidden_figure_of_a_year_of_reports_is_pinned(
    seed: int, restrictions: int, k: int
) -> None:
    entries = provider(seed, restrictions)
    reports = release_all(entries, year_of_reports(), k)
    attacker = Attack(reports, entries, k)
    assert attacker.admits(entries)  # it assumes nothing the history contradicts
    assert len(attacker.hidden) > 300
    assert attacker.pinned() == []


def test_no_hidden_figure_is_pinned_with_the_log_as_the_privacy_model_publishes_it() -> None:
    """Entry times rounded to the day, opaque references, and restrictions lifted on the
    day they were approved (imposed and lifted, in force at no report's end)."""
    entries = provider(5, 80, published=True)
    spells = restriction_spells(entries, as_of=year_of_reports()[-1].end)
    assert any(s.start == s.end for s in spells)
    reports = release_all(entries, year_of_reports(), 5)
    attacker = Attack(reports, entries, 5)
    assert attacker.admits(entries)
    assert len(attacker.hidden) > 300
    assert attacker.pinned() == []


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 9))
@pytest.mark.parametrize("k", [3, 5])
def test_no_hidden_figure_is_pinned_for_more_providers(seed: int, k: int) -> None:
    entries = provider(seed, 30 + 25 * (seed % 5))
    reports = release_all(entries, year_of_reports(), k)
    attacker = Attack(reports, entries, k)
    assert attacker.admits(entries)
    assert attacker.pinned() == []


def test_the_attacker_pins_reports_suppressed_one_by_one() -> None:
    """What the series rule replaces: each report protecting only its own totals."""
    entries = provider(1, 45)
    reports = release_alone(entries, year_of_reports(), 5)
    attacker = Attack(reports, entries, 5)
    assert attacker.admits(entries)
    pinned = attacker.pinned()
    assert len(pinned) > len(attacker.hidden) // 2


def test_a_single_report_and_its_list_pin_nothing() -> None:
    entries = provider(11, 60)
    (month,) = [p for p in year_of_reports() if p.first.month == 5 and p.last.month == 5]
    reports = release_all(entries, [month], 5)
    attacker = Attack(reports, entries, 5)
    assert attacker.hidden
    assert attacker.pinned() == []


def test_the_attacker_reads_lists_by_id() -> None:
    """Counts alone already pin reports suppressed one by one; ids only add to that."""
    entries = provider(2, 45)
    reports = release_alone(entries, year_of_reports()[:4], 3)
    by_counts = Attack(reports, entries, 3, by_id=False).pinned()
    by_id = Attack(reports, entries, 3).pinned()
    assert set(by_counts) <= set(by_id)
    assert by_counts


def _half_january_after_january() -> list[Period]:
    january, february = Period(date(2025, 1, 1), date(2025, 1, 31)), year_of_reports()[1]
    return [january, february, Period(date(2025, 1, 1), date(2025, 1, 15))]


def test_a_list_inside_an_earlier_period_pins_nothing_when_it_is_released() -> None:
    """Half of January after January: a list inside January's period."""
    entries = provider(3, 80)
    reports = release_all(entries, _half_january_after_january(), 5)
    assert Attack(reports, entries, 5).pinned() == []


def test_a_list_inside_an_earlier_period_that_leaves_no_proof_is_refused() -> None:
    """With that list, some figure January hid has no other history left: refused."""
    entries = provider(4, 80)
    with pytest.raises(ConflictError, match="no history consistent with the reports released"):
        release_all(entries, _half_january_after_january(), 5)
