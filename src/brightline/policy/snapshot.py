"""Compiling a world and its restrictions into an immutable Snapshot that decides requests.

Compilation does the work once so that a decision is a handful of dict look-ups:
for every node, the restrictions whose scope covers it and whose exemptions do not
(its *candidates*) are found ahead of time; each candidate keeps its actions as a set
of integer codes and its regions as a set of region ids. Most nodes have no candidate
and are allowed after the request's names are checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Self

import numpy as np

from brightline.errors import InvalidInputError, Problem, UnknownReferenceError
from brightline.policy.decision import Decision, Request
from brightline.policy.load import restriction_from_mapping
from brightline.policy.notice import Notice, public_reason
from brightline.policy.restriction import ActionPattern, Effect, Restriction
from brightline.world import World
from brightline.world.sources import bulk_allocation

_DAWN: Final = datetime.min.replace(tzinfo=UTC)
_DUSK: Final = datetime.max.replace(tzinfo=UTC)
_ALLOW: Final = Effect.ALLOW
_DENY: Final = Effect.DENY
_NONE: Final[tuple[str, ...]] = ()
# Decision is a NamedTuple; building it through tuple.__new__ skips the generated
# __new__ and costs a third as much, which matters on the per-call path.
_new = tuple.__new__


@dataclass(frozen=True, slots=True)
class CompiledRestriction:
    """A restriction in the form ``decide`` reads: codes and sets, no patterns."""

    index: int
    restriction: Restriction
    actions: frozenset[int]
    regions: frozenset[str] | None
    not_before: datetime
    not_after: datetime
    enforcing: bool

    @property
    def id(self) -> str:
        return self.restriction.id

    @classmethod
    def of(cls, index: int, restriction: Restriction, actions: frozenset[int]) -> Self:
        """``restriction`` (the ``index``-th of its snapshot), deciding ``actions``."""
        return cls(
            index=index,
            restriction=restriction,
            actions=actions,
            regions=restriction.regions,
            not_before=restriction.not_before or _DAWN,
            not_after=restriction.not_after or _DUSK,
            enforcing=restriction.enforcing,
        )


class Snapshot:
    """World + restrictions, compiled; immutable and safe to share between threads.

    ``version`` is the SHA-256 of a canonical serialization of both, so equal inputs
    give equal versions whatever order the files listed them in. The canonical form
    (what the version names, what snapshot files and bundles carry) keeps only the
    public part of each restriction's reason (:data:`~brightline.policy.notice.
    PUBLIC_REASON_KEYS`): case ids and notes stay on the server, where ``explain``
    still names them. ``notice`` words denials for customers; it is carried beside the
    canonical form and not part of the version (it does not change what is decided).
    """

    __slots__ = (
        "_action_codes",
        "_arrays",
        "_candidates",
        "_compiled",
        "_group_of",
        "_groups",
        "_region_ids",
        "actions",
        "notice",
        "restrictions",
        "version",
        "world",
    )

    def __init__(
        self, world: World, restrictions: Iterable[Restriction], *, notice: Notice | None = None
    ) -> None:
        ordered = sorted(restrictions, key=lambda r: r.id)
        ids = [r.id for r in ordered]
        if len(set(ids)) != len(ids):
            raise InvalidInputError("restriction ids must be unique in a snapshot")
        self.world = world
        self.notice: Notice = notice if notice is not None else Notice()
        self.restrictions: tuple[Restriction, ...] = tuple(ordered)
        self._set_catalog()
        with bulk_allocation():
            known: dict[tuple[ActionPattern, ...], frozenset[int]] = {}
            compiled = [self._compile(i, r, known) for i, r in enumerate(ordered)]
            self._compiled: tuple[CompiledRestriction, ...] = tuple(compiled)
            groups, group_of = _candidates_by_node(world, compiled)
            self._set_candidates(groups, group_of)
            self.version: str = _version(world, ordered)
        self._arrays: Any = None  # built on first decide_batch

    def _set_candidates(
        self, groups: Sequence[tuple[CompiledRestriction, ...]], group_of: np.ndarray
    ) -> None:
        """Each node's candidates: ``groups[group_of[position]]``, the distinct lists
        (shared tuples) and each node's, as a compiled snapshot file keeps them; and, for
        ``decide``, the list of each node by id: one dict look-up a call. (Going through
        the directory's index and the group array instead saves that dict — 100 MiB and
        0.7 s of a restart at 1.5M nodes — but costs a decision 15–35% more, measured.)"""
        self._groups: tuple[tuple[CompiledRestriction, ...], ...] = tuple(groups)
        self._group_of: np.ndarray = group_of
        self._candidates: dict[str, tuple[CompiledRestriction, ...]] = dict(
            zip(
                self.world.directory.ids,
                map(self._groups.__getitem__, group_of.tolist()),
                strict=True,
            )
        )

    def _set_catalog(self) -> None:
        catalog = self.world.catalog
        # Action codes: every (service, operation) of the catalog, in sorted order.
        self.actions: tuple[tuple[str, str], ...] = tuple(
            sorted((s.id, op) for s in catalog.services.values() for op in s.operations)
        )
        codes: dict[str, dict[str, int]] = {}
        for code, (service, operation) in enumerate(self.actions):
            codes.setdefault(service, {})[operation] = code
        # Plain dicts, private and never mutated after construction: a MappingProxyType
        # adds a layer to every look-up on the per-call path.
        self._action_codes: dict[str, dict[str, int]] = codes
        self._region_ids: frozenset[str] = frozenset(catalog.regions)

    @classmethod
    def from_compiled(
        cls,
        world: World,
        restrictions: Sequence[Restriction],
        *,
        version: str,
        notice: Notice,
        action_codes: Sequence[frozenset[int]],
        groups: Sequence[Sequence[int]],
        group_of: np.ndarray,
    ) -> Snapshot:
        """A snapshot as compiled before (:mod:`brightline.policy.compiled`), without
        compiling: ``restrictions`` sorted by id, ``action_codes`` the codes of each,
        ``groups`` the distinct candidate lists (restriction positions, ascending) and
        ``group_of`` each node's group, by position. Trusts its input to be what
        :meth:`compiled_parts` gave for a snapshot of ``version``."""
        snapshot = cls.__new__(cls)
        snapshot.world = world
        snapshot.notice = notice
        snapshot.restrictions = tuple(restrictions)
        snapshot._set_catalog()
        compiled = [
            CompiledRestriction.of(i, r, codes)
            for i, (r, codes) in enumerate(zip(restrictions, action_codes, strict=True))
        ]
        snapshot._compiled = tuple(compiled)
        shared = [tuple(compiled[i] for i in group) for group in groups]
        snapshot._set_candidates(shared, group_of)
        snapshot.version = version
        snapshot._arrays = None
        return snapshot

    def compiled_parts(self) -> tuple[list[frozenset[int]], list[tuple[int, ...]], np.ndarray]:
        """What :meth:`from_compiled` takes besides the world and restrictions: each
        restriction's action codes, the distinct candidate lists and each node's list."""
        groups = [tuple(c.index for c in group) for group in self._groups]
        group_of = self._group_of
        codes = [c.actions for c in self._compiled]
        return codes, groups, group_of

    def _compile(
        self,
        index: int,
        restriction: Restriction,
        known: dict[tuple[ActionPattern, ...], frozenset[int]],
    ) -> CompiledRestriction:
        """``known`` keeps the codes of each restriction's patterns, for the next ones."""
        codes = known.get(restriction.actions)
        if codes is None:
            catalog = self.world.catalog
            codes = frozenset(
                self._action_codes[service][operation]
                for pattern in restriction.actions
                for service, operation in pattern.actions(catalog)
            )
            known[restriction.actions] = codes
        return CompiledRestriction.of(index, restriction, codes)

    @classmethod
    def from_records(
        cls,
        world: World,
        records: Iterable[Mapping[str, Any]],
        *,
        notice: Notice | None = None,
    ) -> Snapshot:
        """Validate plain restriction records against ``world`` and compile them."""
        problems: list[Problem] = []
        restrictions = []
        for record in records:
            try:
                restrictions.append(restriction_from_mapping(dict(record), world))
            except InvalidInputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise InvalidInputError(problems)
        return cls(world, restrictions, notice=notice)

    def __repr__(self) -> str:
        return f"Snapshot(version={self.version[:12]}…, restrictions={len(self.restrictions)})"

    # -- deciding -----------------------------------------------------------------------

    def decide(self, request: Request) -> Decision:
        """Decide one request. Unknown node, service, operation or region raises
        UnknownReferenceError — never an allow."""
        candidates = self._candidates.get(request.node)
        operations = self._action_codes.get(request.service)
        if candidates is None or operations is None or request.region not in self._region_ids:
            raise self._unknown(request)
        action = operations.get(request.operation)
        if action is None:
            raise self._unknown(request)
        if not candidates:
            return _new(Decision, (_ALLOW, _NONE, _NONE, self.version, request, self, None))
        matched: list[str] = []
        would: list[str] = []
        at = request.at
        region = request.region
        try:
            for c in candidates:
                if (
                    action in c.actions
                    and (c.regions is None or region in c.regions)
                    and c.not_before <= at < c.not_after
                ):
                    (matched if c.enforcing else would).append(c.restriction.id)
        except TypeError as exc:  # a naive datetime cannot be compared with aware ones
            raise InvalidInputError(
                Problem("at", "request time must be a timezone-aware datetime")
            ) from exc
        if matched:
            return _new(
                Decision, (_DENY, tuple(matched), tuple(would), self.version, request, self, None)
            )
        return _new(Decision, (_ALLOW, _NONE, tuple(would), self.version, request, self, None))

    def _unknown(self, request: Request) -> UnknownReferenceError:
        problems = []
        if request.node not in self._candidates:
            problems.append(Problem("node", f"unknown node {request.node!r}"))
        operations = self._action_codes.get(request.service)
        if operations is None:
            problems.append(Problem("service", f"unknown service {request.service!r}"))
        elif request.operation not in operations:
            problems.append(
                Problem(
                    "operation",
                    f"unknown operation {request.operation!r} for service {request.service!r}",
                )
            )
        if request.region not in self._region_ids:
            problems.append(Problem("region", f"unknown region {request.region!r}"))
        return UnknownReferenceError(problems)

    def candidates(self, node: str) -> tuple[CompiledRestriction, ...]:
        """Restrictions whose scope covers ``node`` and whose exemptions do not."""
        found = self._candidates.get(node)
        if found is None:
            raise UnknownReferenceError(Problem("node", f"unknown node {node!r}"))
        return found

    def restriction(self, restriction_id: str) -> Restriction:
        for r in self.restrictions:
            if r.id == restriction_id:
                return r
        raise UnknownReferenceError(
            Problem("restriction", f"unknown restriction {restriction_id!r}")
        )

    def action_code(self, service: str, operation: str) -> int | None:
        operations = self._action_codes.get(service)
        return None if operations is None else operations.get(operation)

    def decide_batch(self, columns: Any, *, at: datetime | None = None) -> Any:
        """Decide many requests given as columns; see :mod:`brightline.policy.batch`."""
        from brightline.policy.batch import decide_batch

        return decide_batch(self, columns, at=at)

    @property
    def batch_arrays(self) -> Any:
        from brightline.policy.batch import BatchArrays

        if self._arrays is None:
            # A benign race: two threads may both build it; either result is the same.
            object.__setattr__(self, "_arrays", BatchArrays.build(self))
        return self._arrays

    def canonical(self) -> dict[str, Any]:
        return _canonical(self.world, self.restrictions)


def _candidates_by_node(
    world: World, compiled: list[CompiledRestriction]
) -> tuple[list[tuple[CompiledRestriction, ...]], np.ndarray]:
    """Each node's candidates: the restrictions scoped at it or above, less those that
    exempt it or one of its ancestors.

    Only scopes and exempt nodes change what a node inherits from its parent; every
    other node shares the tuple of its nearest such ancestor. Those nearest ancestors
    are found for all nodes at once on the directory's parent array (pointer jumping),
    and the tuples are built for the few changing nodes only, parents first.
    """
    directory = world.directory
    position = directory.position
    scoped: dict[int, list[CompiledRestriction]] = {}
    for c in compiled:
        scoped.setdefault(position(c.restriction.scope), []).append(c)
    exempting: dict[int, set[int]] = {}
    for c in compiled:
        for node in c.restriction.exempt:
            exempting.setdefault(position(node), set()).add(c.index)
    parent = directory.parent_positions
    count = len(parent)
    changing = np.zeros(count, dtype=bool)
    changing[list(scoped.keys() | exempting.keys())] = True
    # nearest[i]: the nearest changing node at or above i, -1 for none.
    nearest = np.where(changing, np.arange(count, dtype=np.int32), parent)
    while True:
        pending = np.flatnonzero(nearest >= 0)
        pending = pending[~changing[nearest[pending]]]
        if not pending.size:
            break
        nearest[pending] = nearest[nearest[pending]]
    here_at: dict[int, tuple[CompiledRestriction, ...]] = {}
    starts = np.flatnonzero(changing)
    for node in starts[np.argsort(directory.depths[starts], kind="stable")].tolist():
        up = int(parent[node])
        above = int(nearest[up]) if up >= 0 else -1
        here = here_at[above] if above >= 0 else ()
        if node in exempting:
            dropped = exempting[node]
            here = tuple(c for c in here if c.index not in dropped)
        if node in scoped:
            here = tuple(sorted((*here, *scoped[node]), key=lambda c: c.index))
        here_at[node] = here
    # Group 0 is no candidate (no changing node above: nearest is -1, the last slot);
    # the changing nodes' lists are shared where equal (the same tuple object).
    groups: list[tuple[CompiledRestriction, ...]] = [()]
    by_identity = {id(groups[0]): 0}
    group_at = np.zeros(count + 1, dtype=np.int32)
    for changed, here in here_at.items():
        group = by_identity.get(id(here))
        if group is None:
            group = by_identity[id(here)] = len(groups)
            groups.append(here)
        group_at[changed] = group
    return groups, group_at[nearest]


def _canonical(world: World, restrictions: Iterable[Restriction]) -> dict[str, Any]:
    directory = world.directory
    catalog = world.catalog
    return {
        "nodes": [
            [node_id, parent, kind, name, dict(sorted(attrs.items())) if attrs else {}]
            for node_id, parent, kind, name, attrs in zip(
                *directory.columns(directory.id_order()), strict=True
            )
        ],
        "services": [
            [s.id, sorted(s.operations), sorted(s.tags)]
            for s in sorted(catalog.services.values(), key=lambda s: s.id)
        ],
        "regions": [
            [r.id, r.country] for r in sorted(catalog.regions.values(), key=lambda r: r.id)
        ],
        "restrictions": [
            {**r.canonical(), "reason": public_reason(r.reason)}
            for r in sorted(restrictions, key=lambda r: r.id)
        ],
    }


def _version(world: World, restrictions: Iterable[Restriction]) -> str:
    blob = json.dumps(
        _canonical(world, restrictions), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    return hashlib.sha256(blob).hexdigest()


def compile_snapshot(world: World, restrictions: Iterable[Restriction]) -> Snapshot:
    return Snapshot(world, restrictions)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInputError("time must carry a time zone")
    return value.astimezone(UTC)
