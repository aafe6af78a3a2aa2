"""Read models for the reviewers' console: the figures each page shows, gathered from the
same service functions and store reads as the CLI and the API. Nothing here changes
state; the console's forms call the ordinary use cases (open a case, record a finding,
decide, approve...), so four eyes, the guard and the permission table apply unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from brightline.access import Action, Principal, Role, may
from brightline.cases import CaseState, CaseStatus
from brightline.config import Settings
from brightline.detection import read_alerts
from brightline.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from brightline.policy import Request, Snapshot, format_time, restriction_from_mapping
from brightline.service.bundles import BundleKeeper
from brightline.service.case_export import CaseView, list_cases
from brightline.service.cases import load_case, require
from brightline.service.console_index import scope_index, tree_index
from brightline.service.detection import ALERTS_FILE
from brightline.service.guard import PlanLimits
from brightline.service.ledger import InclusionProof, LedgerStatus, ledger_status, prove_inclusion
from brightline.service.lifecycle import Status
from brightline.service.plans import (
    ImpactPlan,
    InForce,
    covered_subscriptions,
    plan_text,
    restricted_actions,
)
from brightline.service.restrictions import RestrictionView, list_restrictions, show_restriction
from brightline.service.usage import read_usage, telemetry_of
from brightline.store import Store
from brightline.store.cases import guard_approvers, plans_for_restriction
from brightline.store.ledger import entry_at
from brightline.world import World

#: Case age buckets on the dashboard, in days.
AGE_BUCKETS: Final = ((0, 7, "under a week"), (7, 30, "1–4 weeks"), (30, 10**6, "over 4 weeks"))


def allowed_actions(roles: Iterable[Role], *, assigned: bool | None = None) -> frozenset[Action]:
    """Which actions the roles allow (on a case the principal is or is not assigned to).
    The console shows only these forms; the service refuses the others anyway."""
    held = frozenset(roles)
    return frozenset(a for a in Action if may(held, a, assigned=assigned))


# -- dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dashboard:
    cases_by_status: Mapping[str, int]
    cases_by_age: Sequence[tuple[str, int]]
    open_cases: Sequence[CaseView]
    alerts: Sequence[Mapping[str, Any]] | None
    awaiting: Sequence[RestrictionView] | None
    in_force: Sequence[RestrictionView] | None
    ledger: LedgerStatus | None


def dashboard(
    store: Store,
    settings: Settings,
    *,
    actor: Principal,
    now: datetime,
    alert_limit: int = 10,
) -> Dashboard:
    """What the dashboard shows to ``actor``: each part only if the permission table lets
    the actor see it (an external reviewer sees its own cases and nothing else)."""
    views = list_cases(store, actor=actor)
    open_views = [v for v in views if v.state.status is not CaseStatus.CLOSED]
    by_status = Counter(v.state.status.value for v in open_views)
    ages: Counter[str] = Counter()
    for view in open_views:
        days = (now - view.state.opened_at).total_seconds() / 86_400
        for low, high, label in AGE_BUCKETS:
            if low <= days < high:
                ages[label] += 1
    restrictions = (
        list_restrictions(store, now=now) if actor.may(Action.LIST_RESTRICTIONS) else None
    )
    return Dashboard(
        cases_by_status=dict(sorted(by_status.items())),
        cases_by_age=[(label, ages[label]) for _, _, label in AGE_BUCKETS],
        open_cases=open_views,
        alerts=top_alerts(settings, limit=alert_limit) if actor.may(Action.VIEW_ALERTS) else None,
        awaiting=(None if restrictions is None else [v for v in restrictions if v.state.pending]),
        in_force=(
            None
            if restrictions is None
            else [v for v in restrictions if v.status is Status.IN_FORCE]
        ),
        ledger=ledger_status(store) if actor.may(Action.VIEW_LEDGER) else None,
    )


def top_alerts(settings: Settings, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The detection alerts in the data directory, highest score first."""
    alerts = read_alerts(settings.data_dir / ALERTS_FILE)
    alerts.sort(key=lambda a: (-float(a.get("score") or 0), str(a.get("id"))))
    return alerts if limit is None else alerts[:limit]


# -- restriction and its plan ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestrictionPage:
    view: RestrictionView
    plan: Mapping[str, Any] | None
    plan_id: int | None
    guard_approvers: Sequence[str]
    usage_days: Sequence[str]
    usage_series: Mapping[str, Sequence[float]]


def restriction_page(
    store: Store,
    settings: Settings,
    restriction_id: str,
    *,
    world: World,
    now: datetime,
    days: int = 30,
) -> RestrictionPage:
    """A restriction with the plan stored by its case's decision (if any) and the daily
    metered hours, per service, of the subscriptions it covers over the last ``days``."""
    view = show_restriction(store, restriction_id, now=now)
    with store.read() as session:
        plans = plans_for_restriction(session, restriction_id)
        approvers = guard_approvers(session, restriction_id)
    plan = plans[-1] if plans else None
    labels, series = restriction_usage(settings, world, view.state.body, now=now, days=days)
    return RestrictionPage(
        view=view,
        plan=plan.body if plan else None,
        plan_id=plan.id if plan else None,
        guard_approvers=approvers,
        usage_days=labels,
        usage_series=series,
    )


def restriction_usage(
    settings: Settings, world: World, body: Mapping[str, Any], *, now: datetime, days: int = 30
) -> tuple[list[str], dict[str, list[float]]]:
    """Metered hours per day and service under a restriction's scope (exempt subtrees left
    out), for the services it names; the basis of the plan page's chart."""
    until = now.replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(days=days)
    labels = [(since + timedelta(days=d)).strftime("%m-%d") for d in range(days)]
    try:
        restriction = restriction_from_mapping(dict(body), world)
    except InvalidInputError:  # the world changed since: nothing to chart under it
        return labels, {}
    services = sorted({s for s, _ in restricted_actions(world, [restriction])})
    subscriptions = covered_subscriptions(world, restriction)
    table = read_usage(
        telemetry_of(settings), subscriptions=subscriptions, since=since, until=until
    )
    table = table.filter(pc.is_in(table["service"], value_set=pa.array(services, pa.string())))
    microseconds = pc.subtract(pc.cast(table["ts"], pa.int64()), int(since.timestamp() * 1e6))
    day = pc.cast(pc.floor(pc.divide(microseconds, 86_400 * 1_000_000)), pa.int64())
    per_day = (
        pa.table({"service": table["service"], "day": day})
        .group_by(["service", "day"])
        .aggregate([("day", "count")])
    )
    counts: dict[str, list[float]] = {}
    for row in per_day.to_pylist():
        if 0 <= row["day"] < days:
            counts.setdefault(row["service"], [0.0] * days)[row["day"]] = float(row["day_count"])
    return labels, dict(sorted(counts.items()))


# -- the customer tree ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodePage:
    node: Mapping[str, Any]
    ancestors: Sequence[Mapping[str, Any]]
    children: Sequence[Mapping[str, Any]]
    restrictions: Sequence[Mapping[str, Any]]
    services: Sequence[str]
    operations: Mapping[str, Sequence[str]]
    regions: Sequence[str]


def _node_json(world: World, node_id: str) -> dict[str, Any]:
    node = world.directory[node_id]
    return {
        "id": node.id,
        "name": node.name,
        "kind": node.kind,
        "attrs": dict(node.attrs),
        "children": len(world.directory.children(node_id)),
    }


def search_nodes(world: World, query: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Nodes whose id or name contains ``query`` (case-insensitive); the roots if empty."""
    directory = world.directory
    if not query.strip():
        return [_node_json(world, n) for n in directory.roots()[:limit]]
    ids = directory.ids
    return [
        _node_json(world, ids[i]) for i in tree_index(directory).search(query.strip(), limit=limit)
    ]


def node_page(snapshot: Snapshot, node_id: str, *, now: datetime) -> NodePage:
    """A node, its place in the tree, and the restrictions in force that reach it."""
    world = snapshot.world
    directory = world.directory
    if node_id not in directory:
        raise NotFoundError(f"no node {node_id!r} in the world")
    reaching = []
    for r in scope_index(snapshot).scoped_at(directory.ancestors(node_id)):
        if r.in_window(now):
            exempted = any(directory.is_within(node_id, e) for e in r.exempt)
            reaching.append(
                {
                    "id": r.id,
                    "scope": r.scope,
                    "mode": r.mode.value,
                    "actions": [str(a) for a in r.actions],
                    "regions": sorted(r.regions) if r.regions is not None else ["all regions"],
                    "exempt_here": exempted,
                    "reason": dict(r.reason),
                    "not_before": format_time(r.not_before),
                    "not_after": format_time(r.not_after),
                }
            )
    catalog = world.catalog
    return NodePage(
        node=_node_json(world, node_id),
        ancestors=[_node_json(world, a) for a in reversed(directory.ancestors(node_id)[1:])],
        children=[_node_json(world, c) for c in directory.children(node_id)[:500]],
        restrictions=reaching,
        services=sorted(catalog.services),
        operations={s: list(catalog.services[s].operations) for s in sorted(catalog.services)},
        regions=sorted(catalog.regions),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    effect: str
    explanation: str
    matched: Sequence[str]
    would_deny: Sequence[str]
    version: str


def test_call(
    snapshot: Snapshot, *, node: str, service: str, operation: str, region: str, at: datetime
) -> Verdict:
    """Would this call be allowed now? Unknown names raise (never an allow)."""
    decision = snapshot.decide(Request.checked(node, service, operation, region, at))
    return Verdict(
        effect=str(decision.effect.value).lower(),
        explanation=decision.explain(),
        matched=list(decision.matched),
        would_deny=list(decision.would_deny),
        version=decision.version,
    )


def case_views_with_status(
    store: Store, *, actor: Principal, status: CaseStatus | None
) -> list[CaseView]:
    views = list_cases(store, actor=actor, status=status)
    return sorted(views, key=lambda v: v.state.opened_at, reverse=True)


# -- the ledger -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicEntry:
    index: int
    public: Mapping[str, Any]
    proof: InclusionProof


def public_entry(store: Store, index: int) -> PublicEntry:
    """Entry ``index`` as the log publishes it (its public form, never the private record)
    with its inclusion proof against the latest checkpoint."""
    proof = prove_inclusion(store, index)  # NotFoundError outside the signed tree
    with store.read() as session:
        raw = entry_at(session, index).public
    return PublicEntry(index, json.loads(raw), proof)


# -- plans ----------------------------------------------------------------------------------


def preview_plan(
    store: Store,
    settings: Settings,
    case_id: str,
    text: str,
    *,
    actor: Principal,
    limits: PlanLimits,
    now: datetime,
    keeper: BundleKeeper | None = None,
) -> ImpactPlan:
    """The impact plan of a restriction drafted for a case, before anything is proposed
    (read-only; the actor must be allowed to plan on this case), against the snapshot the
    ``keeper`` serves when it is of the newest world (else compiled from the store)."""
    with store.read() as session:
        state = load_case(session, case_id)
        require(actor, Action.PLAN, state)
    in_force = None
    try:
        served = keeper.current if keeper is not None else None
    except StoreUnavailableError:  # no bundle served yet
        served = None
    if served is not None:
        in_force = InForce(served.snapshot, int(served.payload["snapshot"]["world_version"]))
    return plan_text(store, settings, text, name="draft", now=now, limits=limits, in_force=in_force)


def draft_restriction(store: Store, case: CaseState) -> str:
    """A restriction to start from, for a case: its first node and policy, one new id."""
    existing = {r.id for r in list_restrictions(store)}
    number = 1
    while f"r-{case.id.lower()}-{number}" in existing:
        number += 1
    scope = case.nodes[0] if case.nodes else ""
    policy = case.policies[0] if case.policies else ""
    return (
        f"id: r-{case.id.lower()}-{number}\n"
        f"scope: {scope}\n"
        'actions: ["storage.*:*"]\n'
        "# regions: [westeurope]   # omit for every region\n"
        "# exempt: []\n"
        "mode: enforce\n"
        f"reason: {{policy: {policy}}}\n"
    )
