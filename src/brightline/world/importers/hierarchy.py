"""What an importer returns: node records with where each was read, checked as trees.

An importer checks its own trees (every parent is in the input, no cycles), so that a
problem is reported against the user's file and JSON path, never against a directory
file the user did not write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from brightline.errors import InvalidInputError, Problem
from brightline.world.load import NodeRecord


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """Imported node records, parents first; ``where`` maps each node id to the place in
    the input it was read from; ``notes`` say what the importer decided on its own."""

    records: tuple[NodeRecord, ...]
    where: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[str, ...] = ()


class HierarchyBuilder:
    """Collects node records and problems; :meth:`build` checks the trees."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self._records: dict[str, NodeRecord] = {}
        self._where: dict[str, str] = {}
        self._parent_where: dict[str, str] = {}

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._records

    def add(self, where: str, *, parent_where: str | None = None, **fields: Any) -> None:
        """Add one node (``id``, ``parent``, ``kind``, ``name``, ``attrs``) read at
        ``where`` (its parent at ``parent_where``, if elsewhere); a node id seen before
        with other fields, or one that is not a valid node, is a problem."""
        node_id = str(fields["id"])
        try:
            record = NodeRecord.model_validate(fields)
        except ValidationError as exc:
            messages = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
            self.problems.append(Problem(where, f"{node_id!r} cannot be a node: {messages}"))
            return
        if node_id in self._records:
            if self._records[node_id] != record:
                self.problems.append(
                    Problem(
                        where,
                        f"{node_id!r} is listed twice, differently (also at "
                        f"{self._where[node_id]})",
                    )
                )
            return
        self._records[node_id] = record
        self._where[node_id] = where
        self._parent_where[node_id] = parent_where or where

    def build(self) -> Hierarchy:
        """The records parents first; InvalidInputError naming every problem, including
        parents missing from the input and cycles."""
        self._check_trees()
        if self.problems:
            raise InvalidInputError(self.problems)
        if not self._records:
            raise InvalidInputError(Problem("", "the input holds no nodes"))
        return Hierarchy(
            records=tuple(_parents_first(list(self._records.values()))),
            where=MappingProxyType(dict(self._where)),
            notes=tuple(self.notes),
        )

    def _check_trees(self) -> None:
        records = self._records
        for node_id, record in records.items():
            if record.parent is not None and record.parent not in records:
                self.problems.append(
                    Problem(
                        self._parent_where[node_id],
                        f"{node_id!r} has parent {record.parent!r}, which is not in the input",
                    )
                )
        reported: set[str] = set()
        for start in records:
            seen: list[str] = []
            current: str | None = start
            while current is not None and current in records and current not in seen:
                seen.append(current)
                current = records[current].parent
            if current is not None and current in seen and current not in reported:
                cycle = seen[seen.index(current) :]
                reported.update(cycle)
                self.problems.append(
                    Problem(
                        self._where[current],
                        f"parents form a cycle: {' → '.join([*cycle, current])}",
                    )
                )


def _parents_first(records: Sequence[NodeRecord]) -> list[NodeRecord]:
    """Order records so that each parent precedes its children (stable otherwise)."""
    by_id = {r.id: r for r in records}
    done: set[str] = set()
    out: list[NodeRecord] = []
    for record in records:
        chain: list[NodeRecord] = []
        current: NodeRecord | None = record
        while current is not None and current.id not in done and current not in chain:
            chain.append(current)
            current = by_id.get(current.parent) if current.parent is not None else None
        for item in reversed(chain):
            done.add(item.id)
            out.append(item)
    return out
