"""Localization: an alert names the narrowest node of the tree that carries the pattern.

A pack's rules are written for one level (usually the customer). To localize, the runner
evaluates the same rules once more on every node of the customers worth a look (every
node's usage rolled up to itself: units, nested units, subscriptions), scores every
node as :mod:`brightline.detection.scoring` does, and walks down from each node that
reaches the review threshold with no ancestor that does:

- a child *carries the pattern* when its own score reaches the review threshold and
  every rule that fired on the node above also fired on it;
- when exactly one child reaches the threshold and carries the pattern, the walk moves
  to that child; when none does (the pattern is the sum of several parts) or more than
  one child reaches the threshold (it is spread over them), the walk stops and the
  alert names the node it stands on.

So the alert names the intelligence unit, not its ministry (the unit carries every rule
of the ministry), and not the unit's transcription subscription either (that one carries
the speech rules but not the storage and translation rules, which only the unit as a
whole does). Sibling subtrees that do not carry the pattern are never alerted on; the
alert's ``context`` keeps their scores, the ancestors' scores, and the share of each
firing value the node carries of its customer's value in the same window. Scores and
shares only: no usage rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import sqlglot
from sqlglot import exp

from brightline.detection.kinds import text
from brightline.detection.neutral import NeutralQuery
from brightline.detection.packs import Pack
from brightline.detection.rules import Rule
from brightline.detection.scoring import Alert, Firing, build_alert, node_score
from brightline.world import World

#: The level of the drill-down pass: every node, its usage rolled up to itself. Not a
#: valid node kind (node kinds are ids), so it cannot clash with one.
TREE_LEVEL: Final = "*tree"
#: Siblings listed in an alert's context (the highest scores first), the rest counted.
SIBLINGS_SHOWN: Final = 20
#: Values of a firing that measure usage (shares are taken of these, not of z-scores,
#: limits or baselines).
_NOT_CARRIED: Final = frozenset(
    {"threshold", "baseline_mean", "baseline_sd", "z", "recent_min", "previous"}
)


def drill_query(query: NeutralQuery, roots: Sequence[str]) -> NeutralQuery:
    """``query`` (compiled at :data:`TREE_LEVEL`) restricted to the trees of ``roots``:
    a ``node_map`` CTE, read from ``node_tree``, shadows the engine's table."""
    listed = ", ".join(text(r) for r in sorted(roots)) or text("")
    mapping = sqlglot.parse_one(
        f"SELECT {text(TREE_LEVEL)} AS level, subscription_id, node FROM node_tree "
        f"WHERE root IN ({listed})"
    )
    tree = query.tree.copy()
    cte = exp.CTE(this=mapping, alias=exp.TableAlias(this=exp.to_identifier("node_map")))
    existing = tree.args.get("with_")
    if existing is None:
        tree.set("with_", exp.With(expressions=[cte]))
    else:
        existing.set("expressions", [cte, *existing.expressions])
    return NeutralQuery(query.rule_id, tree)


def localized_alerts(pack: Pack, world: World, firings: Iterable[Firing]) -> list[Alert]:
    """Alerts on the narrowest carrying nodes, from firings on every node of some trees."""
    rules = {rule.id: rule for rule in pack.rules}
    threshold = pack.spec.review_threshold
    by_node: dict[str, list[Firing]] = defaultdict(list)
    for firing in sorted(firings):
        if firing.node in world.directory:
            by_node[firing.node].append(firing)
    fired = {node: frozenset(f.rule for f in found) for node, found in by_node.items()}
    scores = {node: node_score(pack, world, node, r, rules) for node, r in fired.items()}
    directory = world.directory
    reaching = {node for node, score in scores.items() if score >= threshold}
    tops = sorted(
        node for node in reaching if not any(a in reaching for a in directory.ancestors(node)[1:])
    )
    alerts: list[Alert] = []
    for top in tops:
        node = top
        while True:
            reached = [child for child in directory.children(node) if child in reaching]
            if len(reached) != 1 or not fired[reached[0]] >= fired[node]:
                break
            node = reached[0]
        context = _context(world, node, scores, by_node)
        alerts.append(
            build_alert(pack, world, node, by_node[node], score=scores[node], context=context)
        )
    return sorted(alerts, key=lambda a: (a.customer, a.node))


def _context(
    world: World,
    node: str,
    scores: Mapping[str, float],
    by_node: Mapping[str, Sequence[Firing]],
) -> dict[str, Any]:
    directory = world.directory
    chain = directory.ancestors(node)
    ancestors = [
        {"node": a, "kind": directory[a].kind, "score": scores.get(a, 0.0)}
        for a in reversed(chain[1:])
    ]
    siblings: list[dict[str, Any]] = []
    parent = directory[node].parent
    if parent is not None:
        others = [c for c in directory.children(parent) if c != node]
        others.sort(key=lambda c: (-scores.get(c, 0.0), c))
        siblings = [
            {"node": c, "kind": directory[c].kind, "score": scores.get(c, 0.0)}
            for c in others[:SIBLINGS_SHOWN]
        ]
        hidden = len(others) - len(siblings)
    else:
        hidden = 0
    context: dict[str, Any] = {
        "localized": node != chain[-1],
        "ancestors": ancestors,
        "siblings": siblings,
        "shares": _shares(by_node.get(node, ()), by_node.get(chain[-1], ())),
    }
    if hidden:
        context["siblings_not_shown"] = hidden
    return context


def _shares(own: Sequence[Firing], customer: Sequence[Firing]) -> dict[str, dict[str, float]]:
    """Per rule, the node's share of each usage value of its customer in the latest
    window where both fired (rules whose windows never coincide have none)."""
    at_customer = {(f.rule, f.window_start, f.window_end): dict(f.values) for f in customer}
    shares: dict[str, dict[str, float]] = {}
    for firing in reversed(own):
        if firing.rule in shares:
            continue
        whole = at_customer.get((firing.rule, firing.window_start, firing.window_end))
        if whole is None:
            continue
        shares[firing.rule] = {
            name: round(value / whole[name], 4)
            for name, value in firing.values
            if name not in _NOT_CARRIED and whole.get(name, 0.0) > 0
        }
    return dict(sorted(shares.items()))


def drill_rules(pack: Pack) -> tuple[Rule, ...]:
    """The pack's rules, each rolled up at :data:`TREE_LEVEL`."""
    return pack.at_level(TREE_LEVEL).rules
