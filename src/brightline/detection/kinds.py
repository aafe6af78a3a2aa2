"""The rule kinds: each a typed ``params`` model that validates itself and writes its query.

Every query reads the neutral tables the engines provide (see ``engines``)::

    daily(day, subscription_id, service, operation, region, unit, quantity)
    node_map(level, subscription_id, node)     usage rolled up to the rule's level
    node_info(node, country, subscriptions)    inherited home country; leaves below
    region_info(region, country)
    span(first_day, last_day)                  the days the data covers

and returns ``node, window_start, window_end`` (days since 1970-01-01, end exclusive) and
the aggregated values that fired, named per kind. Queries use only the functions that
``neutral.ALLOWED_FUNCTIONS`` admits, which behave the same on DuckDB and Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp

from brightline.detection.model import Name, RuleSpec, Selection
from brightline.errors import Problem
from brightline.world import Catalog

Positive = Annotated[float, Field(ge=0)]
Buckets = Annotated[int, Field(ge=1, le=366)]

RULE_KINDS: Final[dict[str, type[RuleKind]]] = {}


def register(name: str) -> Callable[[type[RuleKind]], type[RuleKind]]:
    def add(cls: type[RuleKind]) -> type[RuleKind]:
        cls.name = name
        RULE_KINDS[name] = cls
        return cls

    return add


def num(value: float) -> str:
    """A DOUBLE literal; bare decimals would be DECIMAL on Spark and DOUBLE on DuckDB."""
    return f"CAST({float(value)!r} AS DOUBLE)"


def text(value: str) -> str:
    return exp.Literal.string(value).sql()


class RuleKind(BaseModel):
    """Base of every kind: the parameters under ``params`` in a rule file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ClassVar[str] = ""
    #: Whether the rule's top-level ``select`` is required.
    needs_select: ClassVar[bool] = True

    def problems(self, rule: RuleSpec, catalog: Catalog) -> list[Problem]:
        if rule.select is None:
            return (
                [Problem(f"{rule.id}: select", "required for this kind")]
                if self.needs_select
                else []
            )
        return rule.select.problems(catalog, f"{rule.id}: select")

    def query(self, rule: RuleSpec, catalog: Catalog) -> str:
        raise NotImplementedError

    def selections(self, rule: RuleSpec) -> list[Selection | None]:
        """Every selection the query reads usage through (``None``: all usage). The engine
        reads only the usage some rule of a run selects (see :func:`usage_read`)."""
        return [rule.select]

    def lookback(self) -> int | None:
        """How many windows before a window its query reads (None: any, back to the first
        day). An incremental run re-evaluates the windows that changed days reach."""
        return None


def where(selection: Selection | None, catalog: Catalog, alias: str = "d") -> str:
    """The SQL condition selecting ``selection``'s usage; FALSE when it selects nothing.
    Columns are qualified with ``alias``, or bare when it is empty."""
    if selection is None:
        return "1 = 1"
    services = selection.services_in(catalog)
    if not services:
        return "1 = 0"
    prefix = f"{alias}." if alias else ""
    parts = [f"{prefix}service IN ({', '.join(text(s) for s in services)})"]
    if selection.operations:
        parts.append(f"{prefix}operation IN ({', '.join(text(o) for o in selection.operations)})")
    if selection.units:
        parts.append(f"{prefix}unit IN ({', '.join(text(u) for u in selection.units)})")
    return "(" + " AND ".join(parts) + ")"


def usage_read(selections: Iterable[Selection | None], catalog: Catalog) -> str:
    """The condition, on bare metering columns, that keeps every row one of
    ``selections`` reads. Rules only ever read rows of their own selections, so an
    engine that drops the other rows before summing them gives the same results."""
    conditions = sorted({where(selection, catalog, alias="") for selection in selections})
    if not conditions or "1 = 1" in conditions:
        return "1 = 1"
    return " OR ".join(conditions)


def bucket(rule: RuleSpec, alias: str = "d") -> str:
    if rule.window_days == 1:
        return f"{alias}.day"
    return f"CAST(FLOOR({alias}.day / {rule.window_days}) AS BIGINT)"


def rolled(rule: RuleSpec) -> str:
    return (
        "daily AS d JOIN node_map AS m ON m.subscription_id = d.subscription_id"
        f" AND m.level = {text(rule.level)}"
    )


def series(rule: RuleSpec, catalog: Catalog) -> str:
    """CTE ``series(node, bucket, value)``: selected usage summed per node and window."""
    b = bucket(rule)
    return (
        f"series AS (SELECT m.node AS node, {b} AS bucket, SUM(d.quantity) AS value "
        f"FROM {rolled(rule)} WHERE {where(rule.select, catalog)} GROUP BY m.node, {b})"
    )


def frame(start: int, end: int) -> str:
    """``RANGE`` over bucket numbers, so that windows without usage count as zero."""
    stop = "CURRENT ROW" if end == 0 else f"{end} PRECEDING"
    return f"OVER (PARTITION BY node ORDER BY bucket RANGE BETWEEN {start} PRECEDING AND {stop})"


def window(rule: RuleSpec, first: str, last: str) -> str:
    w = rule.window_days
    return f"{first} * {w} AS window_start, {last} * {w} + {w} AS window_end"


@register("threshold")
class Threshold(RuleKind):
    """Usage in a window at or above a limit that grows with the node's size.

    The limit is ``max(at_least, per_subscription × subscriptions under the node)``.

    Example::

        id: big-speech
        title: Speech-to-text at telecom scale
        policy: mass-surveillance
        severity: medium
        kind: threshold
        select: {tags: [speech-to-text], units: [audio-minute]}
        params: {at_least: 200000, per_subscription: 2000}
        tests:
          positive:
            - name: a million minutes in a day
              node: cust-a
              usage:
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [0, 0], quantity: 1000000}
          negative:
            - name: ten minutes
              usage:
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [0, 0], quantity: 10}
    """

    at_least: Positive
    per_subscription: Positive = 0.0

    def lookback(self) -> int | None:
        return 0

    def query(self, rule: RuleSpec, catalog: Catalog) -> str:
        return (
            f"WITH {series(rule, catalog)}, "
            f"limits AS (SELECT node, GREATEST({num(self.at_least)}, "
            f"{num(self.per_subscription)} * CAST(subscriptions AS DOUBLE)) AS lim FROM node_info) "
            f"SELECT s.node AS node, {window(rule, 's.bucket', 's.bucket')}, "
            "s.value AS value, l.lim AS threshold "
            "FROM series AS s JOIN limits AS l ON l.node = s.node WHERE s.value >= l.lim"
        )


class _Baseline(RuleKind):
    baseline: Buckets = 14
    z: Annotated[float, Field(gt=0)] = 6.0
    lift: Annotated[float, Field(ge=1)] = 3.0
    floor: Annotated[float, Field(gt=0)]
    #: Floor of the baseline's standard deviation, so a flat baseline gives a finite z.
    min_sd: Annotated[float, Field(gt=0)] = 1e-6

    def lookback(self) -> int | None:
        return self.baseline


@register("anomaly")
class Spike(_Baseline):
    """A window far above the node's trailing baseline: onsets, not sustained levels.

    Fires when all three hold: a statistical test (z-score against the previous
    ``baseline`` windows, missing windows counted as zero) at least ``z``; an impact gate,
    the value at least ``lift`` times the baseline mean; and a volume floor, the value at
    least ``floor``. Needs a baseline with usage (mean > 0) wholly inside the data.

    Example::

        id: speech-spike
        title: Speech-to-text spike
        policy: mass-surveillance
        severity: high
        kind: anomaly
        select: {tags: [speech-to-text]}
        params: {baseline: 14, z: 6, lift: 3, floor: 20000}
        tests:
          positive:
            - name: twentyfold day
              node: cust-a
              usage:
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [0, 14], quantity: 5000}
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [15, 15], quantity: 100000}
          negative:
            - name: flat
              usage:
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [0, 15], quantity: 5000}
    """

    def query(self, rule: RuleSpec, catalog: Catalog) -> str:
        b, w = self.baseline, rule.window_days
        stats = (
            f"stats AS (SELECT node, bucket, value, "
            f"COALESCE(SUM(value) {frame(b, 1)}, {num(0)}) AS base_sum, "
            f"COALESCE(SUM(value * value) {frame(b, 1)}, {num(0)}) AS base_sq FROM series), "
            f"moments AS (SELECT node, bucket, value, base_sum / {num(b)} AS mean, "
            f"SQRT(GREATEST((base_sq - base_sum * base_sum / {num(b)}) / {num(max(b - 1, 1))}, "
            f"{num(0)})) AS sd FROM stats)"
        )
        z = f"(m.value - m.mean) / GREATEST(m.sd, {num(self.min_sd)})"
        return (
            f"WITH {series(rule, catalog)}, {stats} "
            f"SELECT m.node AS node, {window(rule, 'm.bucket', 'm.bucket')}, m.value AS value, "
            f"m.mean AS baseline_mean, m.sd AS baseline_sd, {z} AS z "
            "FROM moments AS m CROSS JOIN span AS p "
            f"WHERE (m.bucket - {b}) * {w} >= p.first_day AND m.mean > {num(0)} "
            f"AND m.value >= {num(self.floor)} AND m.value >= {num(self.lift)} * m.mean "
            f"AND {z} >= {num(self.z)}"
        )


@register("level-shift")
class LevelShift(_Baseline):
    """A sustained new level: each of the last ``recent`` windows far above the baseline
    of the ``baseline`` windows before them (the level before the change).

    Gates as for ``anomaly``: z-score of the recent mean against the baseline (standard
    error ``sd / sqrt(recent)``), every recent window at least ``lift`` × the baseline
    mean, and at least ``floor``.

    Example::

        id: speech-level
        title: Speech-to-text at a new level
        policy: mass-surveillance
        severity: high
        kind: level-shift
        select: {tags: [speech-to-text]}
        params: {recent: 3, baseline: 14, z: 6, lift: 3, floor: 20000}
        tests:
          positive:
            - name: a step that stays
              node: cust-a
              usage:
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [0, 13], quantity: 5000}
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [14, 20], quantity: 60000}
          negative:
            - name: one day only
              usage:
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [0, 20], quantity: 5000}
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [16, 16], quantity: 90000}
    """

    recent: Buckets = 3

    def lookback(self) -> int | None:
        return self.recent + self.baseline - 1

    def query(self, rule: RuleSpec, catalog: Catalog) -> str:
        b, r, w = self.baseline, self.recent, rule.window_days
        recent = frame(r - 1, 0)
        base = frame(r + b - 1, r)
        stats = (
            f"stats AS (SELECT node, bucket, "
            f"SUM(value) {recent} AS recent_sum, MIN(value) {recent} AS recent_min, "
            f"COUNT(value) {recent} AS recent_n, "
            f"COALESCE(SUM(value) {base}, {num(0)}) AS base_sum, "
            f"COALESCE(SUM(value * value) {base}, {num(0)}) AS base_sq FROM series), "
            f"moments AS (SELECT node, bucket, recent_min, recent_n, "
            f"recent_sum / {num(r)} AS recent_mean, base_sum / {num(b)} AS mean, "
            f"SQRT(GREATEST((base_sq - base_sum * base_sum / {num(b)}) / {num(max(b - 1, 1))}, "
            f"{num(0)})) AS sd FROM stats)"
        )
        z = f"(m.recent_mean - m.mean) / GREATEST(m.sd / SQRT({num(r)}), {num(self.min_sd)})"
        return (
            f"WITH {series(rule, catalog)}, {stats} "
            f"SELECT m.node AS node, {window(rule, f'(m.bucket - {r - 1})', 'm.bucket')}, "
            f"m.recent_mean AS recent_mean, m.recent_min AS recent_min, "
            f"m.mean AS baseline_mean, m.sd AS baseline_sd, {z} AS z "
            "FROM moments AS m CROSS JOIN span AS p "
            f"WHERE (m.bucket - {r + b - 1}) * {w} >= p.first_day AND m.recent_n = {r} "
            f"AND m.recent_min >= {num(self.floor)} "
            f"AND m.recent_min >= {num(self.lift)} * m.mean AND {z} >= {num(self.z)}"
        )


@register("growth")
class Growth(RuleKind):
    """Usage that grew by ``ratio`` and by at least ``min_increase`` over ``periods``
    windows, ending at or above ``at_least`` (e.g. storage held, growing at scale).

    Example::

        id: storage-growth
        title: Storage growing at petabyte scale
        policy: mass-surveillance
        severity: medium
        kind: growth
        select: {tags: [object-storage]}
        params: {periods: 7, ratio: 1.5, min_increase: 10000, at_least: 30000}
        tests:
          positive:
            - name: doubling in a week
              node: cust-a
              usage:
                - {subscription: sub-a1, service: storage.blob, operation: write,
                   region: westeurope, unit: GB-month, days: [0, 6], quantity: 20000}
                - {subscription: sub-a1, service: storage.blob, operation: write,
                   region: westeurope, unit: GB-month, days: [7, 7], quantity: 40000}
          negative:
            - name: steady
              usage:
                - {subscription: sub-a1, service: storage.blob, operation: write,
                   region: westeurope, unit: GB-month, days: [0, 7], quantity: 40000}
    """

    periods: Buckets = 7
    ratio: Annotated[float, Field(gt=1)] = 1.5
    min_increase: Positive = 0.0
    at_least: Positive = 0.0

    def lookback(self) -> int | None:
        return self.periods

    def query(self, rule: RuleSpec, catalog: Catalog) -> str:
        n, w = self.periods, rule.window_days
        previous = f"COALESCE(q.value, {num(0)})"
        return (
            f"WITH {series(rule, catalog)} "
            f"SELECT c.node AS node, {window(rule, f'(c.bucket - {n})', 'c.bucket')}, "
            f"c.value AS value, {previous} AS previous "
            "FROM series AS c LEFT JOIN series AS q "
            f"ON q.node = c.node AND q.bucket = c.bucket - {n} CROSS JOIN span AS p "
            f"WHERE (c.bucket - {n}) * {w} >= p.first_day AND c.value >= {num(self.at_least)} "
            f"AND c.value - {previous} >= {num(self.min_increase)} "
            f"AND c.value >= {num(self.ratio)} * {previous}"
        )


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Name
    select: Selection
    at_least: Positive


@register("co-occurrence")
class CoOccurrence(RuleKind):
    """Several metrics high in the same node and window: at least ``min_matched`` of
    them (default all) at or above their own ``at_least``. The top-level ``select`` is
    not used; each metric has its own.

    Example::

        id: speech-and-translation
        title: Translation tracking speech-to-text
        policy: mass-surveillance
        severity: medium
        kind: co-occurrence
        params:
          metrics:
            - {name: speech, select: {tags: [speech-to-text]}, at_least: 20000}
            - {name: translation, select: {tags: [translation]}, at_least: 5000000}
        tests:
          positive:
            - name: both high
              node: cust-a
              usage:
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [0, 0], quantity: 30000}
                - {subscription: sub-a1, service: ai.translator, operation: translate,
                   region: westeurope, unit: characters, days: [0, 0], quantity: 9000000}
          negative:
            - name: speech only
              usage:
                - {subscription: sub-a1, service: ai.speech, operation: transcribe,
                   region: westeurope, unit: audio-minute, days: [0, 0], quantity: 30000}
    """

    needs_select: ClassVar[bool] = False
    metrics: Annotated[list[Metric], Field(min_length=2, max_length=8)]
    min_matched: Annotated[int, Field(ge=1)] | None = None

    def lookback(self) -> int | None:
        return 0

    def problems(self, rule: RuleSpec, catalog: Catalog) -> list[Problem]:
        problems = []
        for metric in self.metrics:
            problems += metric.select.problems(catalog, f"{rule.id}: metrics.{metric.name}")
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            problems.append(Problem(f"{rule.id}: metrics", "metric names must be unique"))
        if self.min_matched is not None and self.min_matched > len(self.metrics):
            problems.append(Problem(f"{rule.id}: min_matched", "more than there are metrics"))
        return problems

    def selections(self, rule: RuleSpec) -> list[Selection | None]:
        return [metric.select for metric in self.metrics]

    def query(self, rule: RuleSpec, catalog: Catalog) -> str:
        b = bucket(rule)
        sums = ", ".join(
            f"SUM(CASE WHEN {where(m.select, catalog)} THEN d.quantity ELSE {num(0)} END) "
            f"AS m_{m.name}"
            for m in self.metrics
        )
        anywhere = " OR ".join(where(m.select, catalog) for m in self.metrics)
        matched = " + ".join(
            f"CASE WHEN m_{m.name} >= {num(m.at_least)} THEN 1 ELSE 0 END" for m in self.metrics
        )
        needed = self.min_matched or len(self.metrics)
        values = ", ".join(f"m_{m.name} AS {m.name}" for m in self.metrics)
        return (
            f"WITH per AS (SELECT m.node AS node, {b} AS bucket, {sums} FROM {rolled(rule)} "
            f"WHERE {anywhere} GROUP BY m.node, {b}) "
            f"SELECT node, {window(rule, 'bucket', 'bucket')}, {values} "
            f"FROM per WHERE {matched} >= {needed}"
        )


@register("foreign-region")
class ForeignRegion(RuleKind):
    """Usage in regions outside the node's home country (its ``country`` attribute, or
    the nearest ancestor's): at least ``min_share`` of the selected usage and at least
    ``at_least``. Nodes with no known country are skipped.

    Example::

        id: data-abroad
        title: Data held outside the home country
        policy: mass-surveillance
        severity: medium
        kind: foreign-region
        select: {tags: [object-storage]}
        params: {min_share: 0.5, at_least: 1000}
        tests:
          positive:
            - name: all abroad
              node: cust-a
              usage:
                - {subscription: sub-a1, service: storage.blob, operation: write,
                   region: eastus, unit: GB-month, days: [0, 0], quantity: 5000}
          negative:
            - name: at home
              usage:
                - {subscription: sub-a1, service: storage.blob, operation: write,
                   region: westeurope, unit: GB-month, days: [0, 0], quantity: 5000}
    """

    min_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    at_least: Positive = 0.0

    def lookback(self) -> int | None:
        return 0

    def query(self, rule: RuleSpec, catalog: Catalog) -> str:
        b = bucket(rule)
        return (
            f"WITH per AS (SELECT m.node AS node, {b} AS bucket, "
            f"SUM(CASE WHEN r.country <> n.country THEN d.quantity ELSE {num(0)} END) "
            "AS foreign_value, SUM(d.quantity) AS total "
            f"FROM {rolled(rule)} JOIN node_info AS n ON n.node = m.node "
            "JOIN region_info AS r ON r.region = d.region "
            f"WHERE {where(rule.select, catalog)} AND n.country <> '' GROUP BY m.node, {b}) "
            f"SELECT node, {window(rule, 'bucket', 'bucket')}, foreign_value, total FROM per "
            f"WHERE foreign_value >= {num(self.at_least)} "
            f"AND foreign_value >= {num(self.min_share)} * total"
        )
