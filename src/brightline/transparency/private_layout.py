"""Which figures about investigations are published, in which tables, rows and columns.

Fixed by the deployment's list of policies alone: what is published must not depend on the
data, or its shape would tell what the noise hides. A cell is :class:`Noisy` (a figure with
noise of its own) or a :class:`Sum` of noisy figures (a total, free of privacy loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from brightline.transparency.investigations import (
    AGE_BUCKETS,
    AGE_COLUMNS,
    APPEAL_OUTCOMES,
    DECISIONS,
    OTHER_POLICIES,
    OUTCOMES,
    SOURCES,
    STEPS,
    Key,
)


class FigureKind(StrEnum):
    COUNT = "count"
    MEDIAN_DAYS = "median-days"


@dataclass(frozen=True, slots=True)
class Noisy:
    """A figure drawn with its own noise."""

    key: Key
    kind: FigureKind = FigureKind.COUNT


@dataclass(frozen=True, slots=True)
class Sum:
    """A figure that adds up noisy ones (of this table or another): no privacy loss."""

    keys: tuple[Key, ...]


Cell = Noisy | Sum


@dataclass(frozen=True, slots=True)
class TableLayout:
    name: str
    title: str
    description: str
    label: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]

    @property
    def derived(self) -> tuple[str, ...]:
        """Labels of the rows whose figures are sums of noisy figures."""
        return tuple(label for label, cells in self.rows if all(isinstance(c, Sum) for c in cells))


def _count_rows(table: str, column: str, labels: Sequence[str]) -> list[tuple[str, tuple[Cell]]]:
    return [(label, (Noisy((table, label, column)),)) for label in labels]


def _total(
    rows: Sequence[tuple[str, tuple[Cell, ...]]], width: int
) -> tuple[str, tuple[Cell, ...]]:
    def keys(column: int) -> tuple[Key, ...]:
        return tuple(c.key for _, cells in rows if isinstance(c := cells[column], Noisy))

    return ("total", tuple(Sum(keys(c)) for c in range(width)))


def layout(policies: Sequence[str]) -> tuple[TableLayout, ...]:
    """Every table, row and column, fixed by the listed ``policies`` alone: what is
    published must not depend on the data, or its shape would tell what noise hides."""
    reports = _count_rows("reports-by-source", "received", SOURCES)
    age = [
        (bucket, tuple(Noisy(("case-age", bucket, column)) for column in AGE_COLUMNS))
        for bucket, _, _ in AGE_BUCKETS
    ]
    age_total = _total(age, len(AGE_COLUMNS))
    outcomes = tuple(o.replace("-", " ") for o in OUTCOMES)
    findings = [
        (policy, tuple(Noisy(("findings-by-policy", policy, o)) for o in outcomes))
        for policy in (*policies, OTHER_POLICIES)
    ]
    return (
        TableLayout(
            name="dp-reports-by-source",
            title="Reports received, by source",
            description=(
                "Signals received in the period: reports from people (employees, journalists, "
                "NGOs, regulators, anonymous reporters: never which, to protect them) and "
                "alerts from metadata-only detection."
            ),
            label="source",
            columns=("received",),
            rows=(*reports, _total(reports, 1)),
        ),
        TableLayout(
            name="dp-cases",
            title="Cases",
            description=(
                "Cases opened and decided in the period; cases closed in it and still open at "
                "its end (the totals of the age of cases below). A case groups one or more "
                "signals about the same customer."
            ),
            label="cases",
            columns=("cases",),
            rows=(
                *_count_rows("cases", "cases", ["opened", *(f"decided: {d}" for d in DECISIONS)]),
                ("closed", (age_total[1][0],)),
                ("open at end of period", (age_total[1][1],)),
            ),
        ),
        TableLayout(
            name="dp-case-age",
            title="Age of cases",
            description=(
                "How long cases took: the age at closing of the cases closed in the period, and "
                "the age at the end of the period of the cases still open then."
            ),
            label="age",
            columns=AGE_COLUMNS,
            rows=(*age, age_total),
        ),
        TableLayout(
            name="dp-findings-by-policy",
            title="Findings, by prohibited-use policy",
            description=(
                "Findings recorded in the period by reviewers, per policy a case alleged to be "
                "broken, and what they found; findings on policies not listed are counted "
                "together. A later finding on the same policy supersedes an earlier one; both "
                "are counted."
            ),
            label="policy",
            columns=outcomes,
            rows=(*findings, _total(findings, len(outcomes))),
        ),
        TableLayout(
            name="dp-time-to-action",
            title="Time from first report to decision and to enforcement",
            description=(
                "Over the cases that reached the step in the period, and their median days: "
                "from the first signal of a case to its first decision; to the moment its first "
                "restriction came into force (approved in enforce mode, from its start date if "
                "later); and from opening a case to closing it."
            ),
            label="step",
            columns=("cases", "median days"),
            rows=tuple(
                (
                    step,
                    (
                        Noisy(("time-to-action", step, "cases")),
                        Noisy(("time-to-action", step, "median days"), FigureKind.MEDIAN_DAYS),
                    ),
                )
                for step in STEPS
            ),
        ),
        TableLayout(
            name="dp-appeals",
            title="Appeals and their outcomes",
            description=(
                "Appeals by customers against a decision received in the period, and the "
                "outcome of those decided in it: upheld, or the restrictions lifted."
            ),
            label="appeals",
            columns=("appeals",),
            rows=tuple(
                _count_rows(
                    "appeals", "appeals", ["received", *(f"decided: {o}" for o in APPEAL_OUTCOMES)]
                )
            ),
        ),
    )


def noisy_figures(tables: Sequence[TableLayout]) -> tuple[Noisy, ...]:
    return tuple(c for t in tables for _, cells in t.rows for c in cells if isinstance(c, Noisy))


def published_cells(
    tables: Sequence[TableLayout], values: Mapping[Key, int | float | None]
) -> tuple[tuple[tuple[str, tuple[int | float | None, ...]], ...], ...]:
    """Each table's rows with the published value of every cell: a noisy figure's, or the
    sum of the noisy figures a sum adds up."""

    def cell(c: Cell) -> int | float | None:
        if isinstance(c, Noisy):
            return values[c.key]
        parts = [values[k] for k in c.keys]
        return sum(int(v) for v in parts if isinstance(v, int))

    return tuple(
        tuple((label, tuple(cell(c) for c in cells)) for label, cells in t.rows) for t in tables
    )
