"""Figures about investigations, published with differential privacy, auditable exactly.

Each figure of :func:`~brightline.transparency.private_layout.layout` that is not a sum of
others gets its own noise, drawn by a
:class:`Noise` (OpenDP's discrete Laplace, in :mod:`brightline.transparency.dp_noise`):

- a **count** (reports, cases opened or decided, cases per age bucket, findings,
  appeals, cases that reached a step) is the exact count plus discrete Laplace noise
  calibrated so that adding or removing one event changes its distribution by at most
  ``e^ε`` (sensitivity 1);
- a **median** of days is read off a histogram of the days over :data:`BINS`, each bin
  its exact count plus discrete Laplace noise calibrated for sensitivity 2 (one event
  can move one case from a bin to another): the first point where the noisy cumulative
  count reaches half the noisy total, interpolated linearly inside its bin. Reading the
  median off the noisy histogram is post-processing, so the median costs the
  histogram's ε and nothing more; every noise it depends on is additive, so an auditor
  can recompute it exactly (OpenDP's own quantile mechanisms draw their randomness
  inside and cannot show it);
- a **total** (and the cases table's "closed" and "open at end of period", which are the
  totals of the age of cases) is the sum of the noisy figures it adds up: free, and
  consistent with them.

A release costs ``figures × ε`` (basic sequential composition, whatever the figures
share), and every release counts against the deployment's budget for good: periods
overlap (cases stay open across them), so no release is treated as independent of
another. :class:`Budget` does that arithmetic with exact decimals.

What is drawn is kept as the private record of a ``transparency.released`` ledger entry
(:meth:`Release.record`): for every figure its exact value(s), the noise, the scale and
the value published. Pure: the noise is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Final, Protocol

from brightline.errors import ConflictError, InvalidInputError, Problem
from brightline.transparency.investigations import OTHER_POLICIES, Exact, Key
from brightline.transparency.model import Period, format_time
from brightline.transparency.private_layout import FigureKind, TableLayout, layout, noisy_figures

#: The ledger event type of a release; its public form is type, time and commitment.
RELEASE_EVENT: Final = "transparency.released"
RECORD_FORMAT: Final = "brightline-private-release/1"
#: Bin edges in days of the histograms the medians are read from. A duration of 730 days
#: or more counts in the last bin, so a median there says "about two years or more".
BINS: Final = (0, 3, 7, 14, 30, 60, 90, 180, 365, 730)
#: How many events one event can move a figure by: a count by one; a histogram by two
#: (a case leaving one bin for another when, say, its first report changes).
COUNT_SENSITIVITY: Final = 1
HISTOGRAM_SENSITIVITY: Final = 2


# -- noise ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drawn:
    """Noisy values, the noise scale used, and the ε the mechanism was proved to give for
    the sensitivity asked (at most the ε asked for)."""

    noisy: tuple[int, ...]
    scale: float
    epsilon: float


class Noise(Protocol):
    """Draws ``true`` plus noise that makes it ``epsilon``-DP when one event can move the
    values by ``sensitivity`` in total (L1)."""

    def __call__(self, true: Sequence[int], *, epsilon: float, sensitivity: int) -> Drawn: ...

    @property
    def name(self) -> str:
        """The mechanism and its library, e.g. ``opendp 0.16.0 make_laplace``."""
        ...


def histogram(values: Sequence[float]) -> tuple[int, ...]:
    """How many ``values`` fall in each bin of :data:`BINS` (the last bin takes the rest,
    and a negative duration, impossible, the first)."""
    counts = [0] * (len(BINS) - 1)
    for value in values:
        i = max(0, min(len(counts) - 1, sum(1 for edge in BINS[1:] if value >= edge)))
        counts[i] += 1
    return tuple(counts)


def median_days(counts: Sequence[int]) -> float | None:
    """The median read off a histogram over :data:`BINS` whose counts may be noisy (even
    negative): where the cumulative count first reaches half the total, interpolated
    linearly inside that bin, to one decimal; None when the total is not positive.
    Exact arithmetic, so that anyone recomputing it gets the very same number."""
    total = sum(counts)
    if total <= 0:
        return None
    half = Fraction(total, 2)
    cumulative = 0
    for i, count in enumerate(counts):
        if count > 0 and cumulative + count >= half:
            low, high = BINS[i], BINS[i + 1]
            return float(round(low + (half - cumulative) / count * (high - low), 1))
        cumulative += count
    raise AssertionError("a positive total is reached by some bin")  # pragma: no cover


# -- a release -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drawing:
    """One noisy figure as drawn: exact values (one count, or a histogram), the noise
    added to each, and what the mechanism was calibrated with."""

    key: Key
    kind: FigureKind
    epsilon: float
    sensitivity: int
    scale: float
    mechanism_epsilon: float
    true: tuple[int, ...]
    noise: tuple[int, ...]
    #: The exact median (one decimal) where the figure is one: for the auditor's eyes.
    true_median: float | None = None

    @property
    def published(self) -> int | float | None:
        noisy = tuple(t + n for t, n in zip(self.true, self.noise, strict=True))
        if self.kind is FigureKind.MEDIAN_DAYS:
            return median_days(noisy)
        return noisy[0]

    def to_json(self) -> dict[str, Any]:
        table, row, column = self.key
        out: dict[str, Any] = {
            "table": table,
            "row": row,
            "column": column,
            "kind": self.kind.value,
            "epsilon": self.epsilon,
            "sensitivity": self.sensitivity,
            "scale": self.scale,
            "mechanism_epsilon": self.mechanism_epsilon,
            "true": list(self.true),
            "noise": list(self.noise),
            "published": self.published,
        }
        if self.kind is FigureKind.MEDIAN_DAYS:
            out["true_median"] = self.true_median
        return out

    @classmethod
    def from_json(cls, value: Any) -> Drawing:
        """Raises InvalidInputError for anything :meth:`to_json` does not write."""
        try:
            kind = FigureKind(value["kind"])
            drawing = cls(
                key=(str(value["table"]), str(value["row"]), str(value["column"])),
                kind=kind,
                epsilon=_number(value["epsilon"]),
                sensitivity=_whole(value["sensitivity"]),
                scale=_number(value["scale"]),
                mechanism_epsilon=_number(value["mechanism_epsilon"]),
                true=tuple(_whole(v) for v in value["true"]),
                noise=tuple(_whole(v) for v in value["noise"]),
                true_median=value.get("true_median"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"a figure of the release record is malformed: {exc!r}"
            ) from exc
        if len(drawing.true) != len(drawing.noise) or not drawing.true:
            raise InvalidInputError(f"figure {value.get('row')!r}: true values and noise differ")
        return drawing


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number")
    return float(value)


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not a whole number")
    return value


def draw(
    exact: Exact, tables: Sequence[TableLayout], *, epsilon: float, noise: Noise
) -> tuple[Drawing, ...]:
    """Noise every figure of ``tables`` that is not a sum, each with ``epsilon``."""
    drawings = []
    for figure in noisy_figures(tables):
        if figure.kind is FigureKind.MEDIAN_DAYS:
            true = histogram(exact.durations[figure.key])
            sensitivity = HISTOGRAM_SENSITIVITY
            median = exact.median(figure.key)
        else:
            true, sensitivity, median = (exact.counts[figure.key],), COUNT_SENSITIVITY, None
        drawn = noise(true, epsilon=epsilon, sensitivity=sensitivity)
        if len(drawn.noisy) != len(true) or drawn.epsilon > epsilon:
            raise AssertionError(f"the noise for {figure.key} is not what was asked for")
        drawings.append(
            Drawing(
                key=figure.key,
                kind=figure.kind,
                epsilon=epsilon,
                sensitivity=sensitivity,
                scale=drawn.scale,
                mechanism_epsilon=drawn.epsilon,
                true=true,
                noise=tuple(n - t for n, t in zip(drawn.noisy, true, strict=True)),
                true_median=median,
            )
        )
    return tuple(drawings)


# -- the budget ------------------------------------------------------------------------------


def exact_epsilon(value: float) -> Fraction:
    """An ε as the decimal it is written as (0.1 is one tenth), so that sums are exact."""
    return Fraction(repr(float(value)))


@dataclass(frozen=True, slots=True)
class PriorRelease:
    """A release made before: its ledger entry (None until logged) and its ε. A report's
    series release (what its restriction tables hid), of the same ledger type, is listed
    with ε = 0: the public cannot tell the two kinds apart, and every release entry must
    be accounted for."""

    entry: int | None
    epsilon: float


@dataclass(frozen=True, slots=True)
class Budget:
    """The deployment's ε budget for every release it ever makes, and what is spent."""

    cap: float
    releases: tuple[PriorRelease, ...]
    this_release: float

    @property
    def before(self) -> Fraction:
        return sum((exact_epsilon(r.epsilon) for r in self.releases), Fraction(0))

    @property
    def after(self) -> Fraction:
        return self.before + exact_epsilon(self.this_release)

    @classmethod
    def check(
        cls, *, cap: float, releases: Sequence[PriorRelease], figures: int, per_figure: float
    ) -> Budget:
        """This release's cost (``figures × per_figure``) on top of ``releases``; raises
        ConflictError, releasing nothing, if that would spend more than ``cap``."""
        cost = exact_epsilon(per_figure) * figures
        budget = cls(cap, tuple(releases), float(cost))
        # Releases listed at ε = 0 (a report's series release) spent nothing.
        spending = sum(1 for r in releases if r.epsilon)
        if budget.after > exact_epsilon(cap):
            raise ConflictError(
                f"this report would spend ε = {decimal(cost)} ({figures} figures × ε = "
                f"{decimal(exact_epsilon(per_figure))}) on top of ε = {decimal(budget.before)} "
                f"already spent by {spending} earlier release"
                f"{'' if spending == 1 else 's'}, over the deployment's privacy budget of "
                f"ε = {decimal(exact_epsilon(cap))} (BRIGHTLINE_PRIVACY_EPSILON_BUDGET): nothing "
                "was released. Raising the budget is a decision to state publicly; a larger "
                "BRIGHTLINE_PRIVACY_EPSILON_PER_FIGURE spends it faster."
            )
        return budget


def decimal(value: Fraction | float) -> str:
    """An ε as people read it: ``14``, ``0.5``, ``0.125``."""
    exact = value if isinstance(value, Fraction) else exact_epsilon(value)
    text = f"{float(exact):.6f}".rstrip("0").rstrip(".")
    return text or "0"


# -- the release, as recorded ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Release:
    """Everything drawn for one report: kept whole as the release entry's private record."""

    period: Period
    as_of: datetime
    policies: tuple[str, ...]
    #: The ledger's size when the figures were counted: every investigation entry below it
    #: is an input, and none from it on.
    inputs_log_size: int
    inputs: int
    per_figure: float
    budget: Budget
    mechanism: str
    drawings: tuple[Drawing, ...]

    def record(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "period": _period_json(self.period),
            "as_of": format_time(self.as_of),
            "policies": list(self.policies),
            "inputs": {"log_size": self.inputs_log_size, "entries": self.inputs},
            "epsilon_per_figure": self.per_figure,
            "release_epsilon": self.budget.this_release,
            "budget": {
                "cap": self.budget.cap,
                "spent_before": float(self.budget.before),
                "releases_before": len(self.budget.releases),
            },
            "mechanism": self.mechanism,
            "bins": list(BINS),
            "figures": [d.to_json() for d in self.drawings],
        }


def _period_json(period: Period) -> dict[str, str]:
    return {"from": period.first.isoformat(), "to": period.last.isoformat()}


def make_release(
    exact: Exact,
    *,
    period: Period,
    as_of: datetime,
    policies: Sequence[str],
    inputs_log_size: int,
    inputs: int,
    per_figure: float,
    cap: float,
    prior: Sequence[PriorRelease],
    noise: Noise,
) -> Release:
    """Check the budget (ConflictError, before any noise is drawn, if it would be
    exceeded), then draw every figure."""
    check_epsilon(per_figure, "privacy_epsilon_per_figure")
    check_epsilon(cap, "privacy_epsilon_budget")
    if len(set(policies)) != len(policies) or OTHER_POLICIES in policies:
        raise InvalidInputError(
            Problem("privacy_policies", f"each policy once, and none named {OTHER_POLICIES!r}")
        )
    tables = layout(policies)
    budget = Budget.check(
        cap=cap, releases=prior, figures=len(noisy_figures(tables)), per_figure=per_figure
    )
    return Release(
        period=period,
        as_of=min(as_of, period.end),
        policies=tuple(policies),
        inputs_log_size=inputs_log_size,
        inputs=inputs,
        per_figure=per_figure,
        budget=budget,
        mechanism=noise.name,
        drawings=draw(exact, tables, epsilon=per_figure, noise=noise),
    )


def check_epsilon(value: float, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
        raise InvalidInputError(Problem(where, f"ε must be a number above 0, not {value!r}"))
    return float(value)
