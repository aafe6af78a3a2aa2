"""From rule firings to alerts: suppressions, per-node scores, the review threshold.

A node's score is the sum, over the rules that fired on it, of the rule's severity weight
times the multipliers of the node's attributes named in the rule's (or the pack's)
``weights``; attributes are inherited from the nearest ancestor that has them. An alert
is raised for a node only when its score reaches the pack's review threshold. An alert is
a reason to review, never a verdict.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr

from brightline.detection.engines import inherited
from brightline.detection.model import Weights
from brightline.detection.packs import Pack
from brightline.detection.rules import Rule
from brightline.world import ID_PATTERN, World

EPOCH: Final = date(1970, 1, 1)
#: Firings kept per rule in an alert's ``values`` (the most recent).
VALUES_PER_RULE: Final = 5


def significant(value: float) -> float:
    """Six significant digits: engines sum floats in different orders, alerts must match."""
    return float(f"{value:.6g}")


@dataclass(frozen=True, slots=True, order=True)
class Firing:
    """A rule fired on a node for a window (days, end exclusive), with the values it saw."""

    node: str
    window_start: date
    window_end: date
    rule: str
    values: tuple[tuple[str, float], ...] = field(compare=False)

    @classmethod
    def from_row(cls, rule: str, row: Mapping[str, Any]) -> Firing:
        values = tuple(
            sorted(
                (k, significant(float(v)))
                for k, v in row.items()
                if k not in {"node", "window_start", "window_end"} and v is not None
            )
        )
        return cls(
            node=str(row["node"]),
            window_start=EPOCH + timedelta(days=int(row["window_start"])),
            window_end=EPOCH + timedelta(days=int(row["window_end"])),
            rule=rule,
            values=values,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            **dict(self.values),
        }


class Suppression(BaseModel):
    """Silences ``rule`` (or ``*``: every rule) for ``node`` and its subtree until ``until``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: StrictStr
    node: Annotated[StrictStr, Field(pattern=rf"^{ID_PATTERN.pattern}$")]
    until: AwareDatetime
    reason: Annotated[StrictStr, Field(min_length=1)]
    by: StrictStr = ""

    def silences(self, firing: Firing, world: World, now: datetime) -> bool:
        return (
            now < self.until
            and self.rule in {"*", firing.rule}
            and firing.node in world.directory
            and world.directory.is_within(firing.node, self.node)
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert on a node: the rules that fired, its score and the values that fired."""

    id: str
    pack: str
    policy: str
    node: str
    node_kind: str
    score: float
    threshold: float
    rules: tuple[str, ...]
    window_start: date
    window_end: date
    values: Mapping[str, Sequence[Mapping[str, Any]]]
    #: The customer (root) the node belongs to.
    customer: str = ""
    #: Where the alert sits in its customer's tree (scores and shares only, never usage
    #: rows): see ``brightline.detection.localize``; evasion alerts also name their
    #: restriction and case.
    context: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pack": self.pack,
            "policy": self.policy,
            "node": self.node,
            "node_kind": self.node_kind,
            "score": self.score,
            "threshold": self.threshold,
            "rules": list(self.rules),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "values": {k: list(v) for k, v in self.values.items()},
            "customer": self.customer,
            "context": dict(self.context),
        }


def alert_id(pack: str, node: str, window_start: date) -> str:
    """Stable across re-runs over the same data, so a re-run updates instead of duplicating."""
    key = f"{pack}\x00{node}\x00{window_start.isoformat()}".encode()
    return hashlib.sha256(key).hexdigest()[:20]


def multiplier(weights: Weights, world: World, node: str) -> float:
    factor = 1.0
    for attribute, by_value in sorted(weights.items()):
        value = inherited(world, node, attribute) if node in world.directory else None
        if value is not None:
            factor *= by_value.get(str(value), 1.0)
    return factor


def rule_score(rule: Rule, pack: Pack, world: World, node: str) -> float:
    weights = {**pack.spec.weights, **rule.spec.weights}
    return rule.spec.severity.weight * multiplier(weights, world, node)


def partition_suppressed(
    firings: Iterable[Firing], suppressions: Sequence[Suppression], world: World, now: datetime
) -> tuple[list[Firing], list[Firing]]:
    """(kept, suppressed)."""
    kept: list[Firing] = []
    silenced: list[Firing] = []
    for firing in firings:
        if any(s.silences(firing, world, now) for s in suppressions):
            silenced.append(firing)
        else:
            kept.append(firing)
    return kept, silenced


def score_alerts(pack: Pack, world: World, firings: Iterable[Firing]) -> list[Alert]:
    """Alerts for the nodes whose combined score reaches the pack's review threshold."""
    rules = {rule.id: rule for rule in pack.rules}
    by_node: dict[str, list[Firing]] = defaultdict(list)
    for firing in sorted(firings):
        by_node[firing.node].append(firing)
    alerts: list[Alert] = []
    for node, found in sorted(by_node.items()):
        score = node_score(pack, world, node, {f.rule for f in found}, rules)
        if score < pack.spec.review_threshold:
            continue
        alerts.append(build_alert(pack, world, node, found, score=score))
    return alerts


def node_score(
    pack: Pack, world: World, node: str, fired: Iterable[str], rules: Mapping[str, Rule]
) -> float:
    return round(sum(rule_score(rules[r], pack, world, node) for r in sorted(set(fired))), 6)


def build_alert(
    pack: Pack,
    world: World,
    node: str,
    found: Sequence[Firing],
    *,
    score: float,
    context: Mapping[str, Any] | None = None,
) -> Alert:
    """The alert on ``node`` from its (sorted) firings."""
    fired = sorted({f.rule for f in found})
    start = min(f.window_start for f in found)
    values = {
        r: [f.to_dict() for f in [x for x in found if x.rule == r][-VALUES_PER_RULE:]]
        for r in fired
    }
    known = world.directory.get(node)
    return Alert(
        id=alert_id(pack.id, node, start),
        pack=pack.id,
        policy=pack.spec.policy,
        node=node,
        node_kind=known.kind if known is not None else "",
        score=score,
        threshold=pack.spec.review_threshold,
        rules=tuple(fired),
        window_start=start,
        window_end=max(f.window_end for f in found),
        values=values,
        customer=world.directory.root(node) if known is not None else "",
        context=dict(context or {}),
    )


def utc_now() -> datetime:
    return datetime.now(UTC)
