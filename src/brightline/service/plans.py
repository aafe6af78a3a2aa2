"""The impact plan: what a proposal would do, shown before anything is proposed.

Like ``terraform plan``: the nodes and subscriptions under each restriction and the
exempt subtrees left out; services × regions affected with their last-30-day usage;
the same customers' services left untouched; for each *phase* (the distinct times at
which the proposal's restrictions start), a replay of the last N days' metered rows
(how many would have been denied, per service and region) and the decision diff
between the snapshot in force and the snapshot with the proposal, over every
(node, action, region) under the proposal's scopes.

Blast-radius guard: a plan whose subscriptions, or the share of its customers' metered
hours that *enforcing* it would deny, exceed :class:`PlanLimits` says so, with the
reasons; a restriction it covers then needs a guard approval from one approver before a
second approver can approve it (``approve_restriction``, :mod:`brightline.service.guard`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from brightline.access import Principal
from brightline.cases import (
    Action,
    CaseDecision,
    CaseMove,
    CaseState,
    DecisionKind,
    case_transition,
)
from brightline.config import Settings
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.policy import Mode, Restriction, Snapshot, format_time, parse_restrictions_text
from brightline.policy.overlay import Overlay, coverage
from brightline.service.cases import (
    load_case,
    now_utc,
    record,
    record_decision,
    require,
)
from brightline.service.guard import PlanLimits
from brightline.service.restrictions import (
    approved_bodies,
    load_states,
    propose_restrictions,
)
from brightline.service.usage import read_usage_summary, telemetry_of
from brightline.store import Store, canonical_json, latest_world, latest_world_version
from brightline.store.cases import (
    add_plan,
)
from brightline.world import Directory, World

PLAN_FORMAT: Final = "brightline.plan/1"
#: Changes listed one by one in a phase's decision diff; the rest are counted.
DIFF_SAMPLE: Final = 200


@dataclass(frozen=True, slots=True)
class InForce:
    """A snapshot in force and the version of the stored world it was compiled from: the
    server's bundle, which a preview plans against instead of compiling the store again
    (the plan names its version, as always)."""

    snapshot: Snapshot
    world_version: int


@dataclass(frozen=True, slots=True)
class ImpactPlan:
    document: Mapping[str, Any]
    restrictions: tuple[Mapping[str, Any], ...]

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(dict(self.document)).encode()).hexdigest()

    @property
    def exceeds_limits(self) -> bool:
        return bool(self.document["blast_radius"]["exceeds"])

    @property
    def restriction_ids(self) -> tuple[str, ...]:
        return tuple(str(r["id"]) for r in self.restrictions)

    def to_json(self) -> dict[str, Any]:
        return {**self.document, "digest": self.digest}


def plan_text(
    store: Store,
    settings: Settings,
    text: str,
    *,
    name: str,
    now: datetime,
    limits: PlanLimits = PlanLimits(),
    usage_days: int = 30,
    replay_days: int = 30,
    in_force: InForce | None = None,
) -> ImpactPlan:
    """The impact plan of the restriction(s) in ``text`` against the store in force at ``now``.

    ``in_force``, when given and compiled from the newest stored world, is taken as the
    snapshot in force (the server passes the one it enforces) instead of compiling the
    store's restrictions again. The proposal's effect is decided on it only where the
    proposal reaches (:class:`~brightline.policy.overlay.Overlay`).

    Read-only. Raises InvalidInputError if they do not fit the stored world.
    """
    with store.read() as session:
        if in_force is not None and latest_world_version(session) == in_force.world_version:
            before, world_version = in_force.snapshot, in_force.world_version
        else:
            stored = latest_world(session)
            if stored is None:
                raise NotFoundError(
                    "no world in the store yet: run `brightline world import` first"
                )
            current = approved_bodies(load_states(session), now)
            before = Snapshot.from_records(stored.world, current)
            world_version = stored.version
    world = before.world
    proposal = parse_restrictions_text(text, world, name=name)
    if not proposal:
        raise InvalidInputError(Problem(name, "no restriction to plan"))
    after = Overlay(before, proposal)
    directory = world.directory
    leaves = directory.leaves
    hour = now.replace(minute=0, second=0, microsecond=0)
    dataset = telemetry_of(settings)

    covered: set[str] = set()
    described = []
    for k, r in enumerate(proposal):
        subs = _ids_at(directory, after.covered(k) & leaves)
        covered |= subs
        described.append(
            {
                "id": r.id,
                "scope": r.scope,
                "scope_kind": directory[r.scope].kind,
                "customer": directory.root(r.scope),
                "mode": r.mode.value,
                "not_before": format_time(r.not_before),
                "not_after": format_time(r.not_after),
                "subscriptions": len(subs),
                "exempt": [
                    {"node": e, "subscriptions": int(leaves[directory.subtree_positions(e)].sum())}
                    for e in r.exempt
                ],
                "actions": [f"{s}:{o}" for s, o in restricted_actions(world, [r])],
                "regions": sorted(r.regions)
                if r.regions is not None
                else sorted(world.catalog.regions),
            }
        )
    customers = sorted({directory.root(r.scope) for r in proposal})
    customer_subs = {s for c in customers for s in _subscriptions_under(directory, c)}
    usage = read_usage_summary(
        dataset, subscriptions=customer_subs, since=hour - timedelta(days=usage_days), until=hour
    )
    affected_mask = _affected_mask(usage, world, proposal, covered)
    phases = []
    replay = read_usage_summary(
        dataset, subscriptions=customer_subs, since=hour - timedelta(days=replay_days), until=hour
    )
    starts = sorted({max(now, r.not_before or now) for r in proposal})
    for start in starts:
        phases.append(_phase(world, after, proposal, replay, start))
    # The guard weighs what enforcing the proposal would deny, so that a dry-run proposal
    # (which denies nothing) and its later promotion are guarded on the same effect.
    enforced = [dataclasses.replace(r, mode=Mode.ENFORCE) for r in proposal]
    if enforced == list(proposal):
        final_share = phases[-1]["replay"]["share"]
    else:
        final_share = _replay(Overlay(before, enforced), replay, starts[-1])["share"]
    reasons = []
    if len(covered) > limits.max_subscriptions:
        reasons.append(
            f"{len(covered)} subscriptions affected, over the limit of {limits.max_subscriptions}"
        )
    if final_share > limits.max_usage_share:
        reasons.append(
            f"{final_share:.1%} of the customers' metered hours would have been denied if "
            f"enforced, over the limit of {limits.max_usage_share:.1%}"
        )
    document = {
        "format": PLAN_FORMAT,
        "at": format_time(now),
        "world_version": world_version,
        "snapshot_in_force": before.version,
        "restrictions": described,
        "subscriptions_affected": len(covered),
        "usage_days": usage_days,
        "affected_usage": _volumes(usage.filter(affected_mask), ("service", "region", "unit")),
        "untouched_services": _untouched(usage, affected_mask),
        "replay_days": replay_days,
        "phases": phases,
        "blast_radius": {
            "subscriptions": len(covered),
            "usage_share": round(final_share, 6),
            "limits": limits.to_json(),
            "exceeds": bool(reasons),
            "reasons": reasons,
        },
    }
    return ImpactPlan(document, tuple(r.canonical() for r in proposal))


def covered_subscriptions(world: World, restriction: Restriction) -> set[str]:
    """The subscriptions under the restriction's scope, its exempt subtrees left out."""
    directory = world.directory
    return _ids_at(directory, coverage(directory, restriction) & directory.leaves)


def _subscriptions_under(directory: Directory, node: str) -> list[str]:
    """The leaves of ``node``'s subtree (the nodes metering rows name), in no order."""
    positions = directory.subtree_positions(node)
    ids = directory.ids
    return [ids[p] for p in positions[directory.leaves[positions]].tolist()]


def _ids_at(directory: Directory, mask: np.ndarray) -> set[str]:
    ids = directory.ids
    return {ids[p] for p in np.flatnonzero(mask).tolist()}


def restricted_actions(world: World, restrictions: Iterable[Restriction]) -> list[tuple[str, str]]:
    """Every (service, operation) of the catalog that the restrictions' actions name."""
    found: set[tuple[str, str]] = set()
    for r in restrictions:
        for pattern in r.actions:
            found.update(pattern.actions(world.catalog))
    return sorted(found)


def _affected_mask(
    usage: pa.Table, world: World, proposal: Sequence[Restriction], covered: set[str]
) -> pa.ChunkedArray:
    keys = {
        f"{s}\x00{o}\x00{region}"
        for r in proposal
        for s, o in restricted_actions(world, [r])
        for region in (r.regions if r.regions is not None else world.catalog.regions)
    }
    joined = pc.binary_join_element_wise(
        usage["service"], usage["operation"], usage["region"], "\x00"
    )
    return pc.and_(
        pc.is_in(joined, pa.array(sorted(keys), pa.string())),
        pc.is_in(usage["subscription_id"], pa.array(sorted(covered), pa.string())),
    )


def _volumes(table: pa.Table, keys: Sequence[str]) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(list(keys)).aggregate([("quantity", "sum"), ("rows", "sum")])
    rows = [
        {
            **{k: r[k] for k in keys},
            "quantity": float(f"{r['quantity_sum']:.12g}"),
            "hours": r["rows_sum"],
        }
        for r in grouped.to_pylist()
    ]
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))


def _untouched(usage: pa.Table, affected: pa.ChunkedArray) -> list[dict[str, Any]]:
    """Services the customers used that the proposal leaves entirely alone."""
    touched = set(usage.filter(affected)["service"].to_pylist())
    rest = usage.filter(
        pc.invert(pc.is_in(usage["service"], pa.array(sorted(touched), pa.string())))
    )
    return _volumes(rest, ("service", "unit"))


def _phase(
    world: World,
    after: Overlay,
    proposal: Sequence[Restriction],
    replay: pa.Table,
    start: datetime,
) -> dict[str, Any]:
    active = [r for r in proposal if r.in_window(start)]
    replayed = _replay(after, replay, start)
    return {
        "starts": format_time(start),
        "restrictions": [r.id for r in active],
        "denies": [
            f"{s}:{o}" for s, o in restricted_actions(world, [r for r in active if r.enforcing])
        ],
        "replay": replayed,
        "diff": _diff(world, after, proposal, start),
    }


def _replay(after: Overlay, rows: pa.Table, at: datetime) -> dict[str, Any]:
    """Each metered row decided before and after; ``rows`` is a usage summary, whose keys
    are decided once and weighed by the rows they stand for."""
    total = int(pc.sum(rows["rows"]).as_py() or 0) if rows.num_rows else 0
    if total == 0:
        return {"rows": 0, "denied": 0, "share": 0.0, "by_service_region": []}
    was, now = after.effects(
        rows["subscription_id"].to_pylist(),
        rows["service"].to_pylist(),
        rows["operation"].to_pylist(),
        rows["region"].to_pylist(),
        at=at,
    )
    newly = (now == 1) & (was != 1)
    weights = rows["rows"].to_numpy()
    counts: Counter[tuple[str, str]] = Counter()
    for service, region, weight in zip(
        rows["service"].to_numpy(zero_copy_only=False)[newly],
        rows["region"].to_numpy(zero_copy_only=False)[newly],
        weights[newly],
        strict=True,
    ):
        counts[(service, region)] += int(weight)
    denied = int(weights[newly].sum())
    return {
        "rows": total,
        "denied": denied,
        "share": round(denied / total, 6),
        "by_service_region": [
            {"service": s, "region": r, "denied": n} for (s, r), n in sorted(counts.items())
        ],
    }


def _diff(
    world: World, after: Overlay, proposal: Sequence[Restriction], at: datetime
) -> dict[str, Any]:
    """Every (node, action, region) under the proposal's scopes whose decision changes,
    counted; the first :data:`DIFF_SAMPLE` listed (nodes in id order, then actions, then
    regions). Each group of nodes that decides alike is decided once."""
    directory = world.directory
    ids = directory.ids
    scopes = [directory.subtree_positions(r.scope) for r in proposal]
    under = np.unique(np.concatenate(scopes)) if scopes else np.empty(0, dtype=np.int32)
    nodes = sorted(ids[p] for p in under.tolist())
    actions = restricted_actions(world, proposal)
    regions = sorted(world.catalog.regions)
    if not (nodes and actions and regions):
        return {"changes": 0, "sample": []}
    group_of, groups = after.groups(nodes)
    changing = [after.changes(g, actions, regions, at) for g in groups]
    names = {0: "allow", 1: "deny", 2: "error"}
    sample: list[dict[str, Any]] = []
    for node, group in zip(nodes, group_of, strict=True):
        for service, operation, region, was, now in changing[group]:
            if len(sample) == DIFF_SAMPLE:
                break
            sample.append(
                {
                    "node": node,
                    "action": f"{service}:{operation}",
                    "region": region,
                    "before": names[was],
                    "after": names[now],
                }
            )
        if len(sample) == DIFF_SAMPLE:
            break
    sizes = np.bincount(np.asarray(group_of, dtype=np.int64), minlength=len(groups))
    changes = int(sum(int(n) * len(c) for n, c in zip(sizes.tolist(), changing, strict=True)))
    return {"changes": changes, "sample": sample}


# -- attaching, deciding, approving -----------------------------------------------------------


def decide_restrict(
    store: Store,
    settings: Settings,
    case_id: str,
    text: str,
    *,
    name: str,
    actor: Principal,
    rationale: str,
    limits: PlanLimits = PlanLimits(),
    now: datetime | None = None,
) -> tuple[CaseState, ImpactPlan]:
    """Decide to restrict: plan, attach the plan, propose (linked to the case), record.

    Three transactions, in an order that keeps the guard closed: the plan is stored
    (and attached to the case) before the proposal exists, so an approval can never see
    a proposal without its plan. The proposal uses the idempotency key
    ``<case>:decision:<n>``, so a retry after a crash proposes nothing twice.
    """
    decision_probe = CaseDecision(DecisionKind.RESTRICT, rationale, restrictions=("-",))
    at = now_utc(now)
    with store.read() as session:
        state = load_case(session, case_id)
        require(actor, Action.DECIDE, state)
        # Refuse before proposing anything if the case cannot take a decision now.
        case_transition(state.status, CaseMove.DECIDED)
        number = state.next_number("decision")
    plan = plan_text(store, settings, text, name=name, now=at, limits=limits)
    with store.write() as session:
        state = load_case(session, case_id)
        stored = add_plan(
            session,
            at=at,
            actor=actor.name,
            case_id=case_id,
            restrictions=plan.restriction_ids,
            exceeds_limits=plan.exceeds_limits,
            body=plan.to_json(),
            digest=plan.digest,
        )
        record(
            session,
            state,
            case_id=case_id,
            move=CaseMove.PLAN_ATTACHED,
            actor=actor.name,
            at=at,
            data={
                "plan": stored.id,
                "digest": plan.digest,
                "exceeds_limits": plan.exceeds_limits,
                "restrictions": list(plan.restriction_ids),
            },
        )
    propose_restrictions(
        store,
        text,
        name=name,
        actor=actor,
        case_id=case_id,
        key=f"{case_id}:decision:{number}",
        now=at,
    )
    decision = CaseDecision(
        DecisionKind.RESTRICT, decision_probe.rationale, plan.restriction_ids, (stored.id,)
    )
    with store.write() as session:
        state = load_case(session, case_id)
        return record_decision(session, state, decision, actor=actor, at=at), plan
