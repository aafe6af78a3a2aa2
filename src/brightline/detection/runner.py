"""Running a pack over usage on an engine, and running rules' own fixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import pyarrow as pa

from brightline.detection.engines import Engine, Usage, WorldTables
from brightline.detection.evasion import RULE as EVASION_RULE
from brightline.detection.evasion import Watch, evasion_alerts
from brightline.detection.incremental import Since, first_day_read
from brightline.detection.kinds import usage_read
from brightline.detection.localize import drill_query, drill_rules, localized_alerts
from brightline.detection.model import FixtureCase
from brightline.detection.neutral import compile_sql
from brightline.detection.packs import Pack
from brightline.detection.rules import Rule
from brightline.detection.scoring import (
    Alert,
    Firing,
    Suppression,
    partition_suppressed,
    score_alerts,
)
from brightline.errors import InvalidInputError
from brightline.telemetry import METERING_SCHEMA
from brightline.world import Directory, Node, World

#: Day 0 of rule fixtures (a Monday).
FIXTURE_EPOCH: Final = datetime(2025, 1, 6, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DetectionRun:
    pack: str
    engine: str
    firings: tuple[Firing, ...]
    suppressed: tuple[Firing, ...]
    alerts: tuple[Alert, ...]


def run_rules(
    rules: Sequence[Rule],
    world: World,
    engine: Engine,
    usage: Usage,
    *,
    on_rule: Callable[[Rule], None] | None = None,
    since: Since | None = None,
) -> list[Firing]:
    """Every rule's firings, sorted. Each rule is compiled once, rendered for ``engine``;
    the engine reads only the usage that some rule selects. With ``since``, only the
    windows that days from ``since.day`` on reach are evaluated, the rest kept from
    ``since.previous`` (see ``incremental``)."""
    queries = [(rule, rule.compile(world.catalog)) for rule in rules]
    if since is not None:
        usage = usage.from_day(first_day_read(rules, since.day, usage.whole_span()[0]))
    selections = [selection for rule in rules for selection in rule.selections()]
    keep = compile_sql("usage read", usage_read(selections, world.catalog))
    engine.load(usage, WorldTables.build(world, {rule.spec.level for rule in rules}), keep=keep)
    firings: list[Firing] = []
    for rule, query in queries:
        if on_rule is not None:
            on_rule(rule)
        rows = engine.run(query.render(engine.dialect))
        firings.extend(Firing.from_row(rule.id, row) for row in rows)
    if since is not None:
        firings = since.merge(rules, firings)
    return sorted(firings)


def run_pack(
    pack: Pack,
    world: World,
    engine: Engine,
    usage: Usage,
    *,
    suppressions: Sequence[Suppression] = (),
    now: datetime,
    on_rule: Callable[[Rule], None] | None = None,
    localize: bool = True,
    watches: Sequence[Watch] = (),
    since: Since | None = None,
) -> DetectionRun:
    """Run ``pack``; with ``localize`` (the default) each alert names the narrowest node
    that carries the pattern (see ``brightline.detection.localize``), otherwise the node
    at each rule's own level. ``watches`` (restrictions in force) add evasion alerts:
    where each restricted pattern went (see ``brightline.detection.evasion``)."""
    problems = pack.problems(world.catalog)
    if problems:
        raise InvalidInputError(problems)
    firings = run_rules(pack.rules, world, engine, usage, on_rule=on_rule, since=since)
    if not localize:
        kept, silenced = partition_suppressed(firings, suppressions, world, now)
        alerts = score_alerts(pack, world, kept)
    else:
        # Drill into every customer that any rule fired on (below the threshold too: a
        # unit may reach it where its diluted customer does not), and the watched ones.
        roots = {world.directory.root(f.node) for f in firings if f.node in world.directory}
        roots |= {world.directory.root(w.scope) for w in watches if w.scope in world.directory}
        firings = drill(pack, world, engine, sorted(roots), on_rule=on_rule)
        if since is not None:  # the earlier windows' drill firings, from the last run
            firings = since.merge(drill_rules(pack), firings)
        kept, silenced = partition_suppressed(firings, suppressions, world, now)
        alerts = localized_alerts(pack, world, kept)
    for alert in evasion_alerts(pack, world, engine, watches):
        marker = Firing(alert.node, alert.window_start, alert.window_end, EVASION_RULE, ())
        if not any(s.silences(marker, world, now) for s in suppressions):
            alerts.append(alert)
    return DetectionRun(
        pack=pack.id,
        engine=engine.dialect.value,
        firings=tuple(kept),
        suppressed=tuple(silenced),
        alerts=tuple(alerts),
    )


def drill(
    pack: Pack,
    world: World,
    engine: Engine,
    roots: Sequence[str],
    *,
    on_rule: Callable[[Rule], None] | None = None,
) -> list[Firing]:
    """Every rule's firings on every node of the trees of ``roots``, sorted, over the
    usage ``engine`` has loaded (see :func:`run_rules`)."""
    if not roots:
        return []
    firings: list[Firing] = []
    for rule in drill_rules(pack):
        if on_rule is not None:
            on_rule(rule)
        query = drill_query(rule.compile(world.catalog), roots)
        rows = engine.run(query.render(engine.dialect))
        firings.extend(Firing.from_row(rule.id, row) for row in rows)
    return sorted(firings)


@dataclass(frozen=True, slots=True)
class FixtureResult:
    rule: str
    case: str
    positive: bool
    engine: str
    passed: bool
    detail: str


def fixture_table(cases: Sequence[tuple[str, FixtureCase]]) -> pa.Table:
    """The hourly rows of fixture cases; ``(prefix, case)``: the case's subscriptions are
    renamed ``prefix + id``. Days count from each case's first day, so that every case
    starts on the fixture epoch and sees the same data span."""
    columns: dict[str, list[object]] = {name: [] for name in METERING_SCHEMA.names}
    for prefix, case in cases:
        origin = min(usage.days[0] for usage in case.usage)
        for usage in case.usage:
            first, last = usage.days
            for day in range(first - origin, last - origin + 1):
                start = FIXTURE_EPOCH + timedelta(days=day)
                for hour in range(usage.hours):
                    offset = hour if usage.hours > 1 else 12
                    columns["ts"].append(start + timedelta(hours=offset))
                    columns["subscription_id"].append(prefix + usage.subscription)
                    columns["service"].append(usage.service)
                    columns["operation"].append(usage.operation)
                    columns["region"].append(usage.region)
                    columns["quantity"].append(usage.quantity / usage.hours)
                    columns["unit"].append(usage.unit)
                    columns["hours"].append(1)
    return pa.table(columns, schema=METERING_SCHEMA)


def _replicated(world: World, prefixes: Sequence[str]) -> World:
    """One copy of the fixture world's directory per case, ids prefixed, so that every
    case runs in a single engine pass without seeing the others."""
    nodes: dict[str, Node] = {}
    for prefix in prefixes:
        for node in world.directory:
            parent = None if node.parent is None else prefix + node.parent
            nodes[prefix + node.id] = Node(
                prefix + node.id, parent, node.kind, node.name, node.attrs
            )
    return World(directory=Directory(nodes), catalog=world.catalog)


def run_fixtures(
    pack: Pack, engine: Engine, *, world: World | None = None, rules: Sequence[str] = ()
) -> list[FixtureResult]:
    """Each rule's positive cases must fire (on the named node), negative ones must not.

    All cases of all rules run in one pass per rule over one table: case ``i`` lives in
    its own copy of the fixture world (node ids prefixed ``t<i>.``).
    """
    world = world or pack.fixture_world()
    chosen = [rule for rule in pack.rules if not rules or rule.id in rules]
    cases: list[tuple[Rule, FixtureCase, bool, str]] = []
    for rule in chosen:
        for case, positive in [(c, True) for c in rule.spec.tests.positive] + [
            (c, False) for c in rule.spec.tests.negative
        ]:
            cases.append((rule, case, positive, f"t{len(cases)}."))
    if not cases:
        return []
    merged = _replicated(world, [prefix for *_, prefix in cases])
    table = fixture_table([(prefix, case) for _, case, _, prefix in cases])
    fired = run_rules(chosen, merged, engine, Usage.from_table(table))
    results: list[FixtureResult] = []
    for rule, case, positive, prefix in cases:
        nodes = sorted(
            {
                f.node.removeprefix(prefix)
                for f in fired
                if f.rule == rule.id and f.node.startswith(prefix)
            }
        )
        if positive:
            ok = bool(nodes) and (case.node is None or case.node in nodes)
            want = f"fire on {case.node}" if case.node else "fire"
        else:
            ok = not nodes
            want = "not fire"
        detail = f"expected to {want}; fired on {nodes or 'nothing'}"
        results.append(
            FixtureResult(rule.id, case.name, positive, engine.dialect.value, ok, detail)
        )
    return results
