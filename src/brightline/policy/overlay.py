"""A snapshot with restrictions added or replaced, decided only where it matters: the
impact plan's *after* without compiling the world again.

A node's decision depends on nothing but its candidates (:meth:`Snapshot.candidates`)
and the request's action, region and time. Adding restrictions changes the candidates
of the nodes under their scopes only (less their exempt subtrees), and replacing one
(same id) drops it wherever it was. So the nodes asked about are put into *groups* —
same candidates before, same added restrictions covering them — and each group is
decided once per (action, region), however many nodes it holds. Under a customer of
50,000 subscriptions there are a handful of groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np

from brightline.policy.restriction import Restriction
from brightline.policy.snapshot import CompiledRestriction, Snapshot
from brightline.world import Directory

#: Effects as :func:`brightline.policy.batch.decide_batch` codes them.
ALLOW: Final = 0
DENY: Final = 1
ERROR: Final = 2


def effect_of(
    candidates: Iterable[CompiledRestriction], action: int, region: str, at: datetime
) -> int:
    """DENY when an enforcing candidate matches the action, region and time, else ALLOW:
    the rule of :meth:`Snapshot.decide` on a node's candidates (tests hold them equal)."""
    for c in candidates:
        if (
            c.enforcing
            and action in c.actions
            and (c.regions is None or region in c.regions)
            and c.not_before <= at < c.not_after
        ):
            return DENY
    return ALLOW


def coverage(directory: Directory, restriction: Restriction) -> np.ndarray:
    """Whether each node (by position) is under the restriction's scope and outside its
    exempt subtrees."""
    covered = np.zeros(len(directory), dtype=bool)
    covered[directory.subtree_positions(restriction.scope)] = True
    for exempt in restriction.exempt:
        covered[directory.subtree_positions(exempt)] = False
    return covered


@dataclass(frozen=True, slots=True)
class Group:
    """Nodes that decide alike before and after: their candidates in each."""

    before: tuple[CompiledRestriction, ...]
    after: tuple[CompiledRestriction, ...]


class Overlay:
    """``before`` with ``restrictions`` in force too (one of the same id replaced)."""

    __slots__ = ("_added", "_covers", "_replaced", "before")

    def __init__(self, before: Snapshot, restrictions: Sequence[Restriction]) -> None:
        self.before = before
        self._replaced = frozenset(r.id for r in restrictions)
        directory = before.world.directory
        self._added: list[CompiledRestriction] = []
        self._covers: list[np.ndarray] = []
        for index, r in enumerate(restrictions):
            codes = frozenset(
                code
                for pattern in r.actions
                for service, operation in pattern.actions(before.world.catalog)
                if (code := before.action_code(service, operation)) is not None
            )
            self._added.append(CompiledRestriction.of(index, r, codes))
            self._covers.append(coverage(directory, r))

    def covered(self, index: int) -> np.ndarray:
        """:func:`coverage` of the ``index``-th restriction added."""
        return self._covers[index]

    def changes(
        self, group: Group, actions: Sequence[tuple[str, str]], regions: Sequence[str], at: datetime
    ) -> list[tuple[str, str, str, int, int]]:
        """The (service, operation, region, before, after) of a group whose decision
        changes, actions then regions in the order given (all known to the catalog)."""
        found = []
        for service, operation in actions:
            action = self.before.action_code(service, operation)
            assert action is not None, "actions of the catalog only"
            for region in regions:
                was = effect_of(group.before, action, region, at)
                now = effect_of(group.after, action, region, at)
                if was != now:
                    found.append((service, operation, region, was, now))
        return found

    def groups(self, nodes: Sequence[str]) -> tuple[list[int], list[Group]]:
        """Each node's group (an index into the list returned beside it); -1 for a node
        the world does not hold."""
        directory = self.before.world.directory
        known = [n in directory for n in nodes]
        positions = np.array(
            [directory.position(n) if k else 0 for n, k in zip(nodes, known, strict=True)],
            dtype=np.int64,
        )
        bits = np.zeros(len(nodes), dtype=np.int64)
        for k, covered in enumerate(self._covers):
            bits |= covered[positions].astype(np.int64) << k
        found: dict[tuple[int, int], int] = {}
        groups: list[Group] = []
        out = []
        candidates = self.before.candidates
        for node, is_known, mask in zip(nodes, known, bits.tolist(), strict=True):
            if not is_known:
                out.append(-1)
                continue
            here = candidates(node)
            key = (id(here), mask)
            group = found.get(key)
            if group is None:
                group = found[key] = len(groups)
                groups.append(Group(here, self._after(here, mask)))
            out.append(group)
        return out, groups

    def _after(
        self, here: tuple[CompiledRestriction, ...], mask: int
    ) -> tuple[CompiledRestriction, ...]:
        kept = tuple(c for c in here if c.id not in self._replaced)
        return kept + tuple(a for k, a in enumerate(self._added) if mask >> k & 1)

    def effects(
        self,
        nodes: Sequence[str],
        services: Sequence[str],
        operations: Sequence[str],
        regions: Sequence[str],
        *,
        at: datetime,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The effect of each request before and after (ALLOW, DENY, or ERROR for an
        unknown node, service, operation or region), each distinct request of a group
        decided once."""
        group_of, groups = self.groups(nodes)
        known_regions = frozenset(self.before.world.catalog.regions)
        before = np.empty(len(nodes), dtype=np.int8)
        after = np.empty(len(nodes), dtype=np.int8)
        seen: dict[tuple[int, str, str, str], tuple[int, int]] = {}
        code = self.before.action_code
        for i, key in enumerate(zip(group_of, services, operations, regions, strict=True)):
            pair = seen.get(key)
            if pair is None:
                group, service, operation, region = key
                action = code(service, operation)
                if group < 0 or action is None or region not in known_regions:
                    pair = (ERROR, ERROR)
                else:
                    g = groups[group]
                    pair = (
                        effect_of(g.before, action, region, at),
                        effect_of(g.after, action, region, at),
                    )
                seen[key] = pair
            before[i], after[i] = pair
        return before, after
