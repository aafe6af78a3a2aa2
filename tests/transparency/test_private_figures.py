"""Figures about investigations from private records, their noise, and the budget."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.errors import ConflictError, InvalidInputError
from brightline.transparency.dp_noise import OpenDPNoise
from brightline.transparency.investigations import (
    OTHER_POLICIES,
    PrivateRecord,
    count_investigations,
    keys_of_counts,
)
from brightline.transparency.private_figures import (
    BINS,
    Budget,
    PriorRelease,
    exact_epsilon,
    histogram,
    make_release,
    median_days,
)
from brightline.transparency.private_layout import FigureKind, layout, noisy_figures
from transparency.private_scenario import END, PERIOD, POLICIES, FixedNoise, story


def test_investigations_are_counted_from_private_records_with_the_public_definitions() -> None:
    exact = count_investigations(story().items, period=PERIOD, as_of=END, policies=POLICIES)
    c = exact.counts
    assert c[("reports-by-source", "person", "received")] == 1  # S-3; S-1 came before
    assert c[("reports-by-source", "detector", "received")] == 1
    assert c[("cases", "opened", "cases")] == 1
    assert c[("cases", "decided: restrict", "cases")] == 1
    assert c[("cases", "decided: no-restriction", "cases")] == 1
    assert c[("case-age", "under 30 days", "closed in period")] == 1  # C-1: 17 days
    assert c[("case-age", "90 to 179 days", "open at end of period")] == 1
    assert c[("findings-by-policy", "mass-surveillance", "substantiated")] == 1
    assert c[("findings-by-policy", OTHER_POLICIES, "inconclusive")] == 1  # not listed
    assert c[("appeals", "received", "appeals")] == 1
    assert c[("appeals", "decided: upheld", "appeals")] == 1
    assert c[("appeals", "decided: lift", "appeals")] == 0
    steps = exact.durations
    # C-1's first report is S-1 (28 September), attached later; C-2's is S-3.
    assert steps[("time-to-action", "first report to decision", "median days")] == (7.0, 7.0 - 0.25)
    # Enforcement from its start date, later than the approval; a dry run never enforces.
    assert steps[("time-to-action", "first report to enforcement", "median days")] == (12.0,)
    assert steps[("time-to-action", "case opened to closed", "median days")] == (17.0,)
    assert c[("time-to-action", "first report to decision", "cases")] == 2
    assert exact.median(("time-to-action", "first report to decision", "median days")) == 6.9
    # Every row is there, counted or not: the shape does not depend on the data.
    assert set(c) == set(keys_of_counts(POLICIES))


def test_figures_hold_at_as_of_and_a_record_without_a_time_is_refused() -> None:
    log = story()
    early = datetime(2025, 10, 3, 6, tzinfo=UTC)
    exact = count_investigations(log.items, period=PERIOD, as_of=early, policies=POLICIES)
    assert exact.counts[("cases", "opened", "cases")] == 1
    assert exact.counts[("cases", "decided: restrict", "cases")] == 0
    assert exact.counts[("case-age", "under 30 days", "open at end of period")] == 1
    log.items.append(PrivateRecord(99, "case.closed", {"case": "C-1"}))
    with pytest.raises(InvalidInputError, match="entry 99"):
        count_investigations(log.items, period=PERIOD, as_of=END, policies=POLICIES)


def test_the_layout_is_fixed_by_the_policies_and_sums_cost_nothing() -> None:
    tables = layout(POLICIES)
    assert [t.name for t in tables] == [
        "dp-reports-by-source",
        "dp-cases",
        "dp-case-age",
        "dp-findings-by-policy",
        "dp-time-to-action",
        "dp-appeals",
    ]
    figures = noisy_figures(tables)
    assert len(figures) == 2 + 3 + 8 + 6 + 6 + 3
    assert len(noisy_figures(layout(("a", "b")))) == len(figures) + 3
    assert sum(f.kind is FigureKind.MEDIAN_DAYS for f in figures) == 3
    cases = next(t for t in tables if t.name == "dp-cases")
    assert cases.derived == ("closed", "open at end of period")


# -- medians off a noisy histogram -------------------------------------------------------------


def test_a_median_is_read_off_the_histogram_exactly() -> None:
    assert histogram([0.5, 2.9, 3.0, 800.0, -1.0]) == (3, 1, 0, 0, 0, 0, 0, 0, 1)
    assert median_days([0, 0, 0, 4, 0, 0, 0, 0, 0]) == 22.0  # half of 4 is mid-bin 14–30
    assert median_days([2, -1, 0, 1, 0, 0, 0, 0, 0]) == 1.5  # half of 2 is mid-bin 0–3
    assert median_days([0, -1, 3, 0, 0, 0, 0, 0, 0]) == 11.7  # from -1, 2 of 3 into 7–14
    assert median_days([1, 1, -1, 1, 0, 0, 0, 0, 0]) == 3.0  # the first crossing counts
    assert median_days([-2, 1, 0, 0, 0, 0, 0, 0, 0]) is None
    assert median_days([0] * 9) is None


@given(st.lists(st.floats(min_value=0, max_value=2000), min_size=1, max_size=60))
def test_without_noise_the_median_lies_in_the_bin_of_the_true_one(values: list[float]) -> None:
    found = median_days(histogram(values))
    assert found is not None
    true = min(statistics.median_low(values), BINS[-1] - 1e-9)
    low = max(b for b in BINS if b <= true)
    high = min(b for b in BINS if b > true)
    assert low <= found <= high


# -- the mechanism -------------------------------------------------------------------------------


def _variance(scale: float) -> float:
    """Of the discrete Laplace distribution (two-sided geometric) with this scale."""
    alpha = math.exp(-1 / scale)
    return 2 * alpha / (1 - alpha) ** 2


@settings(max_examples=6, deadline=None)
@given(
    true=st.integers(min_value=-50, max_value=500),
    epsilon=st.sampled_from([0.25, 0.5, 1.0, 2.0]),
    sensitivity=st.sampled_from([1, 2]),
)
def test_the_noise_is_centred_with_the_variance_its_scale_gives(
    true: int, epsilon: float, sensitivity: int
) -> None:
    noise = OpenDPNoise()
    draws = [noise([true], epsilon=epsilon, sensitivity=sensitivity) for _ in range(3000)]
    drawn = draws[0]
    assert drawn.epsilon <= epsilon
    assert drawn.scale == pytest.approx(sensitivity / epsilon, rel=1e-6)
    values = [d.noisy[0] for d in draws]
    variance = _variance(drawn.scale)
    # Six standard errors: a correct mechanism fails this about once in 10^8 runs.
    assert abs(statistics.fmean(values) - true) < 6 * math.sqrt(variance / len(values))
    assert statistics.pvariance(values) == pytest.approx(variance, rel=0.25)


def test_a_histogram_gets_independent_centred_noise_in_every_bin() -> None:
    noise = OpenDPNoise()
    true = (3, 0, 7, 0, 0, 1, 0, 0, 2)
    draws = [noise(true, epsilon=0.5, sensitivity=2).noisy for _ in range(2000)]
    for b, value in enumerate(true):
        column = [d[b] for d in draws]
        assert abs(statistics.fmean(column) - value) < 6 * math.sqrt(_variance(4.0) / len(column))
    assert len(set(draws)) > 1500  # not one draw repeated


# -- the budget ---------------------------------------------------------------------------------


def test_releases_add_up_exactly_across_repeated_and_overlapping_periods() -> None:
    # Three releases of 28 figures at ε = 0.1 (October, October again, September to
    # October): 2.8 each, 8.4 in all, with no float drift (0.1 × 28 × 3 is not 8.4 in floats).
    releases: list[PriorRelease] = []
    for entry in (10, 20, 30):
        budget = Budget.check(cap=8.4, releases=releases, figures=28, per_figure=0.1)
        assert budget.this_release == 2.8
        releases.append(PriorRelease(entry, budget.this_release))
    assert budget.after == Fraction(84, 10)
    with pytest.raises(ConflictError, match=r"ε = 2\.8 .* on top of ε = 8\.4 .* 3 earlier") as e:
        Budget.check(cap=8.4, releases=releases, figures=28, per_figure=0.1)
    assert "ε = 8.4 (BRIGHTLINE_PRIVACY_EPSILON_BUDGET)" in str(e.value)


@given(
    per_figure=st.lists(st.decimals(min_value="0.001", max_value="5", places=3), max_size=12),
    figures=st.integers(min_value=1, max_value=40),
    cap=st.decimals(min_value="0.001", max_value="200", places=3),
)
def test_a_release_is_refused_exactly_when_it_would_go_over_the_cap(
    per_figure: list[Any], figures: int, cap: Any
) -> None:
    spent = [PriorRelease(i, float(e) * 3) for i, e in enumerate(per_figure)]
    before = sum((exact_epsilon(r.epsilon) for r in spent), Fraction(0))
    cost = Fraction(str(per_figure[0] if per_figure else "0.5")) * figures
    per = float(per_figure[0]) if per_figure else 0.5
    if before + cost > Fraction(str(cap)):
        with pytest.raises(ConflictError):
            Budget.check(cap=float(cap), releases=spent, figures=figures, per_figure=per)
    else:
        budget = Budget.check(cap=float(cap), releases=spent, figures=figures, per_figure=per)
        assert budget.after == before + cost


# -- a whole release, with noise one can predict ----------------------------------------------


def test_a_release_records_true_values_noise_and_what_is_published() -> None:
    exact = count_investigations(story().items, period=PERIOD, as_of=END, policies=POLICIES)
    release = make_release(
        exact,
        period=PERIOD,
        as_of=END,
        policies=POLICIES,
        inputs_log_size=40,
        inputs=len(story().items),
        per_figure=0.5,
        cap=100,
        prior=[PriorRelease(None, 14.0)],
        noise=FixedNoise(),
    )
    assert release.budget.this_release == 14.0
    assert release.budget.after == 28
    record = release.record()
    assert record["budget"] == {"cap": 100, "spent_before": 14.0, "releases_before": 1}
    opened = next(f for f in record["figures"] if f["row"] == "opened")
    assert (opened["true"], opened["noise"], opened["published"]) == ([1], [1], 2)
    assert (opened["epsilon"], opened["sensitivity"], opened["scale"]) == (0.5, 1, 2.0)
    median = next(
        f
        for f in record["figures"]
        if f["row"] == "case opened to closed" and f["kind"] == "median-days"
    )
    assert median["true"] == [0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert median["true_median"] == 17.0
    assert (median["sensitivity"], median["scale"]) == (2, 4.0)
    assert median["published"] == median_days([1, 1, 1, 2, 1, 1, 1, 1, 1])


def test_settings_out_of_range_are_refused_before_any_draw() -> None:
    exact = count_investigations([], period=PERIOD, as_of=END, policies=POLICIES)
    for per_figure, cap in ((0.0, 10.0), (-1.0, 10.0), (0.5, math.inf)):
        with pytest.raises(InvalidInputError):
            make_release(
                exact,
                period=PERIOD,
                as_of=END,
                policies=POLICIES,
                inputs_log_size=0,
                inputs=0,
                per_figure=per_figure,
                cap=cap,
                prior=[],
                noise=FixedNoise(),
            )


def test_a_policy_listed_twice_or_named_like_the_other_row_is_refused() -> None:
    exact = count_investigations([], period=PERIOD, as_of=END, policies=POLICIES)
    for policies in (("a", "a"), ("a", OTHER_POLICIES)):
        with pytest.raises(InvalidInputError, match="privacy_policies"):
            make_release(
                exact,
                period=PERIOD,
                as_of=END,
                policies=policies,
                inputs_log_size=0,
                inputs=0,
                per_figure=0.5,
                cap=100.0,
                prior=[],
                noise=FixedNoise(),
            )
