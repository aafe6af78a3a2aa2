"""The console's indexes, built once per world or snapshot in force and kept while it is:
the tree search and the restrictions by scope (a node page lists those that reach it).

The tree search, over a directory of millions of nodes: ids and names casefolded into
two texts, searched with ``str.find`` (C speed) instead of building and casefolding
every node on every request.

Each text holds one entry per node, in the directory's order, separated by ``\\0``
(which no id holds; a query holding it is searched node by node). A hit's offset gives
its node through the entries' start offsets (a binary search).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np

from brightline.policy import Restriction, Snapshot
from brightline.world import Directory

_SEPARATOR: Final = "\0"


class TreeIndex:
    """Casefolded ids and names of one directory, for substring search."""

    __slots__ = ("_directory", "_texts")

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        ids = directory.ids
        self._texts = tuple(_Text(column) for column in (ids, directory.names()))

    @property
    def directory(self) -> Directory:
        return self._directory

    def search(self, query: str, *, limit: int) -> list[int]:
        """Positions of the first ``limit`` nodes, in the directory's order, whose id or
        name contains ``query`` casefolded (``query`` not empty)."""
        needle = query.casefold()
        if _SEPARATOR in needle:
            return self._scan(needle, limit)
        found: set[int] = set()
        for text in self._texts:
            found.update(text.positions(needle, limit))
        return sorted(found)[:limit]

    def _scan(self, needle: str, limit: int) -> list[int]:
        directory = self._directory
        found = []
        for i, node in enumerate(directory):
            if needle in node.id.casefold() or needle in node.name.casefold():
                found.append(i)
                if len(found) >= limit:
                    break
        return found


class _Text:
    """One column casefolded into one text, with where each entry starts."""

    __slots__ = ("_starts", "_text")

    def __init__(self, column: Sequence[str]) -> None:
        folded = [value.casefold() for value in column]
        self._text = _SEPARATOR.join(folded)
        lengths = np.fromiter(map(len, folded), np.int64, len(folded)) + 1
        self._starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)

    def positions(self, needle: str, limit: int) -> list[int]:
        """The first ``limit`` entries holding ``needle``, in order."""
        text, starts = self._text, self._starts
        found: list[int] = []
        at = text.find(needle)
        while at >= 0 and len(found) < limit:
            entry = int(np.searchsorted(starts, at, side="right")) - 1
            found.append(entry)
            # On to the next entry: one hit per entry is enough.
            following = entry + 1
            at = text.find(needle, int(starts[following])) if following < len(starts) else -1
        return found


_lock = threading.Lock()
_latest: TreeIndex | None = None


def tree_index(directory: Directory) -> TreeIndex:
    """The index of ``directory``, built on first use and kept until another directory
    is searched (the console searches the world in force: one at a time)."""
    global _latest
    with _lock:
        if _latest is None or _latest.directory is not directory:
            _latest = TreeIndex(directory)
        return _latest


class ScopeIndex:
    """A snapshot's restrictions by scope."""

    __slots__ = ("_by_scope", "snapshot")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        by_scope: dict[str, list[tuple[int, Restriction]]] = {}
        for i, r in enumerate(snapshot.restrictions):
            by_scope.setdefault(r.scope, []).append((i, r))
        self._by_scope = by_scope

    def scoped_at(self, nodes: Iterable[str]) -> list[Restriction]:
        """The restrictions scoped at any of ``nodes``, in the snapshot's order."""
        found = [pair for node in set(nodes) for pair in self._by_scope.get(node, ())]
        return [r for _, r in sorted(found, key=lambda pair: pair[0])]


_scopes: ScopeIndex | None = None


def scope_index(snapshot: Snapshot) -> ScopeIndex:
    """The index of ``snapshot``, kept until another snapshot is asked about."""
    global _scopes
    with _lock:
        if _scopes is None or _scopes.snapshot is not snapshot:
            _scopes = ScopeIndex(snapshot)
        return _scopes
