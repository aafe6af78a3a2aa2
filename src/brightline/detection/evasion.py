"""Evasion watch: once a restriction is in force, watch the rest of its customer's tree
for the restricted pattern reappearing out of the restricted scope.

In the case Brightline is built around, the restricted unit moved its data elsewhere
within days. A :class:`Watch` is a restriction in force (``enforce`` mode, started): its
scope, exemptions, the ``(service, operation)`` pairs and regions it denies, the day it
started and its case. For every usage selection of the pack that reads a service the
restriction denies (speech minutes, translated characters, storage held…):

1. the *restricted level* is the mean daily usage the restriction matches (in scope, not
   exempt, a denied action, a listed region) over the ``baseline`` days before it
   started;
2. every node of the customer's tree has its *outside* usage: what the restriction does
   not match (sibling units, new subscriptions, unlisted regions, services it does not
   name), as a mean over the same baseline days (*before*) and over the last ``recent``
   days since the restriction started (*after*);
3. the node is watched to fire when its outside usage grew by at least ``share`` of the
   restricted level and to at least ``lift`` times its own level before. Ordinary
   growth of a sibling grows neither that fast nor by that much.

The alert names the narrowest firing node (as in ``localize``: one firing child that
fired on every selection its parent did) and where the usage went: the regions and
services whose outside usage grew there. It links to the restriction and its case. The
restriction having been reviewed and approved already, an evasion alert does not need
the pack's scores: its score is the review threshold. Usage read through the engine with
one neutral query per watched customer; the arithmetic on those (small, rounded) daily
rows is the same whichever engine read them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from brightline.detection.engines import Engine
from brightline.detection.kinds import text
from brightline.detection.model import Selection
from brightline.detection.neutral import compile_sql
from brightline.detection.packs import Pack
from brightline.detection.scoring import EPOCH, Alert, alert_id, significant
from brightline.world import World

RULE: Final = "evasion-watch"
BASELINE_DAYS: Final = 7
RECENT_DAYS: Final = 3
#: The outside usage must grow by this share of the restricted level…
SHARE: Final = 0.5
#: …and to this multiple of its own level before the restriction.
LIFT: Final = 2.0
#: Regions or services named as where the usage went: at least this share of the growth.
WENT_SHARE: Final = 0.1


@dataclass(frozen=True, slots=True)
class Watch:
    """A restriction in force, as the evasion watch needs it."""

    restriction: str
    case: str
    scope: str
    exempt: tuple[str, ...]
    #: ``(service, operation)`` pairs it denies (its patterns resolved in the catalog).
    actions: frozenset[tuple[str, str]]
    #: Regions it covers; None: every region.
    regions: frozenset[str] | None
    since: date


@dataclass(frozen=True, slots=True)
class _Row:
    day: int
    subscription: str
    service: str
    operation: str
    region: str
    unit: str
    quantity: float


def watched_selections(pack: Pack, world: World, watch: Watch) -> dict[str, Selection]:
    """The pack's usage selections that read a service ``watch`` denies, by label."""
    denied = {service for service, _ in watch.actions}
    found: dict[str, Selection] = {}
    for rule in pack.rules:
        for selection in rule.selections():
            if selection is None or not denied & set(selection.services_in(world.catalog)):
                continue
            label = "+".join(selection.tags or selection.services)
            if selection.units:
                label += " in " + "+".join(selection.units)
            found.setdefault(label, selection)
    return dict(sorted(found.items()))


def evasion_alerts(
    pack: Pack, world: World, engine: Engine, watches: Sequence[Watch]
) -> list[Alert]:
    """Alerts on where a restricted pattern went, for every watch (the engine loaded)."""
    alerts: list[Alert] = []
    for watch in sorted(watches, key=lambda w: w.restriction):
        if watch.scope not in world.directory:
            continue
        selections = watched_selections(pack, world, watch)
        if not selections:
            continue
        rows = _read(world, engine, watch)
        alert = _watch(pack, world, watch, selections, rows)
        if alert is not None:
            alerts.append(alert)
    return alerts


def _read(world: World, engine: Engine, watch: Watch) -> list[_Row]:
    directory = world.directory
    root = directory.root(watch.scope)
    subs = sorted(directory.subtree(root))
    first = (watch.since - EPOCH).days - BASELINE_DAYS
    sql = (
        "SELECT d.day AS day, d.subscription_id AS subscription_id, d.service AS service, "
        "d.operation AS operation, d.region AS region, d.unit AS unit, "
        "d.quantity AS quantity FROM daily AS d "
        f"WHERE d.day >= {first} AND d.subscription_id IN ({', '.join(text(s) for s in subs)})"
    )
    query = compile_sql(RULE, sql)
    return [
        _Row(
            int(r["day"]),
            str(r["subscription_id"]),
            str(r["service"]),
            str(r["operation"]),
            str(r["region"]),
            str(r["unit"]),
            significant(float(r["quantity"])),
        )
        for r in engine.run(query.render(engine.dialect))
    ]


def _selects(selection: Selection, services: frozenset[str], row: _Row) -> bool:
    return (
        row.service in services
        and (not selection.operations or row.operation in selection.operations)
        and (not selection.units or row.unit in selection.units)
    )


def _denied(world: World, watch: Watch, row: _Row) -> bool:
    directory = world.directory
    return (
        row.subscription in directory
        and directory.is_within(row.subscription, watch.scope)
        and not any(directory.is_within(row.subscription, e) for e in watch.exempt)
        and (row.service, row.operation) in watch.actions
        and (watch.regions is None or row.region in watch.regions)
    )


def _watch(
    pack: Pack,
    world: World,
    watch: Watch,
    selections: Mapping[str, Selection],
    rows: Sequence[_Row],
) -> Alert | None:
    directory = world.directory
    since = (watch.since - EPOCH).days
    last = max((r.day for r in rows), default=since - 1)
    if last < since:
        return None
    recent_from = max(since, last - RECENT_DAYS + 1)
    recent_days = last - recent_from + 1
    root = directory.root(watch.scope)
    fired: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    outside_rows: dict[str, list[_Row]] = {}
    for label, selection in selections.items():
        selected = frozenset(selection.services_in(world.catalog))
        chosen = [r for r in rows if _selects(selection, selected, r)]
        restricted = sum(r.quantity for r in chosen if r.day < since and _denied(world, watch, r))
        level = restricted / BASELINE_DAYS
        if level <= 0:
            continue
        outside = [r for r in chosen if not _denied(world, watch, r)]
        outside_rows[label] = outside
        before: dict[str, float] = defaultdict(float)
        after: dict[str, float] = defaultdict(float)
        for r in outside:
            if r.subscription not in directory:
                continue
            for node in directory.ancestors(r.subscription):
                if r.day < since:
                    before[node] += r.quantity / BASELINE_DAYS
                elif r.day >= recent_from:
                    after[node] += r.quantity / recent_days
        for node, value in after.items():
            grown = value - before[node]
            if grown >= SHARE * level and value >= LIFT * before[node]:
                fired[node][label] = {
                    "restricted_level": significant(level),
                    "before": significant(before[node]),
                    "after": significant(value),
                    "share_of_restricted": round(grown / level, 4),
                }
    if not fired:
        return None
    tops = [n for n in fired if not any(a in fired for a in directory.ancestors(n)[1:])]
    node = sorted(tops, key=lambda n: (-len(fired[n]), n))[0]
    while True:
        reached = [c for c in directory.children(node) if c in fired]
        if len(reached) != 1 or not set(fired[reached[0]]) >= set(fired[node]):
            break
        node = reached[0]
    regions, services = _went(world, node, outside_rows, since, recent_from, recent_days)
    start = watch.since
    end = EPOCH + timedelta(days=last + 1)
    values = {
        RULE: [
            {
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
                **{
                    f"{label}: {k}": v
                    for label, m in sorted(fired[node].items())
                    for k, v in m.items()
                },
            }
        ]
    }
    chain = directory.ancestors(node)
    context: dict[str, Any] = {
        "localized": node != root,
        "ancestors": [
            {"node": a, "kind": directory[a].kind, "score": 0.0} for a in reversed(chain[1:])
        ],
        "siblings": [],
        "shares": {},
        "evasion": {
            "restriction": watch.restriction,
            "case": watch.case,
            "scope": watch.scope,
            "went": {"node": node, "regions": regions, "services": services},
            "watched": sorted(fired[node]),
        },
    }
    known = directory[node]
    return Alert(
        id=alert_id(f"{pack.id}\x00{RULE}\x00{watch.restriction}", node, start),
        pack=pack.id,
        policy=pack.spec.policy,
        node=node,
        node_kind=known.kind,
        score=pack.spec.review_threshold,
        threshold=pack.spec.review_threshold,
        rules=(RULE,),
        window_start=start,
        window_end=end,
        values=values,
        customer=root,
        context=context,
    )


def _went(
    world: World,
    node: str,
    outside_rows: Mapping[str, Iterable[_Row]],
    since: int,
    recent_from: int,
    recent_days: int,
) -> tuple[list[str], list[str]]:
    """Regions and services whose outside usage under ``node`` grew since the restriction
    (each at least :data:`WENT_SHARE` of the growth), largest first."""
    directory = world.directory
    growth: dict[tuple[str, str], float] = defaultdict(float)
    for rows in outside_rows.values():
        for r in rows:
            if r.subscription not in directory or not directory.is_within(r.subscription, node):
                continue
            for key in (("region", r.region), ("service", r.service)):
                if r.day < since:
                    growth[key] -= r.quantity / BASELINE_DAYS
                elif r.day >= recent_from:
                    growth[key] += r.quantity / recent_days

    def named(kind: str) -> list[str]:
        grown = {k[1]: v for k, v in growth.items() if k[0] == kind and v > 0}
        total = sum(grown.values())
        return [
            name
            for name, value in sorted(grown.items(), key=lambda kv: (-kv[1], kv[0]))
            if value >= WENT_SHARE * total
        ]

    return named("region"), named("service")
