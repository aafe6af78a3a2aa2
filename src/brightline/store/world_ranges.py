"""World rows stored as version ranges, written in bulk.

A row of ``world_nodes``, ``world_services`` or ``world_regions`` holds for the versions
``from_version`` up to, not including, ``to_version`` (NULL while current). Writing a new
version keeps every current row whose content did not change and whose position still
fits the new order, closes the others (``to_version`` = the new version) and inserts
their new form: a re-import that changes 1% of the nodes writes about 1% of the rows.

Positions are sparse integers, ``GAP`` apart when first written, so that rows can be
added or removed around a kept row without moving it. The kept rows are the longest run
of unchanged rows whose old positions already increase in the new order (all of them
unless rows were reordered); the new rows take positions between their kept neighbours.
Only if some gap is too narrow is the whole table renumbered (every row written again):
correct, merely slow, and needing about 16 insertions into one gap in a row.

Inserts use PostgreSQL's ``COPY`` through psycopg 3, else the driver's ``executemany``;
never one ORM object per row.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sqlalchemy import Table, and_, bindparam, or_, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from brightline.store.history import batched

#: Distance between the positions of rows first written next to each other.
GAP: Final = 1 << 16
#: The columns every world table starts with; its own (its content) follow.
RANGE_COLUMNS: Final = ("id", "from_version", "to_version", "position")
#: Rows per read and per insert statement.
_BATCH: Final = 20_000


def content_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in RANGE_COLUMNS]


def rows_of(
    session: Session, table: Table, version: int, columns: Sequence[str], *, batch: int = _BATCH
) -> list[Any]:
    """``(position, *columns)`` of the rows of ``table`` in ``version``, in the version's
    order: read a batch at a time by position (unique within a version), so that no
    statement outlasts the store's statement timeout however large the world."""
    c = table.c
    holds = and_(c.from_version <= version, or_(c.to_version.is_(None), c.to_version > version))
    return [
        row
        for rows in batched(session, table, ("position", *columns), batch=batch, where=holds)
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class CurrentRows:
    """The rows of a version, by row number: ``index`` maps each row's id to its number,
    ``starts`` and ``positions`` are its ``from_version`` and ``position`` (int64)."""

    index: Mapping[str, int]
    ids: Sequence[str]
    starts: np.ndarray
    positions: np.ndarray

    @classmethod
    def read(cls, session: Session, table: Table, version: int) -> CurrentRows:
        rows = rows_of(session, table, version, ("id", "from_version"))
        ids = [row[1] for row in rows]
        return cls(
            index=dict(zip(ids, range(len(ids)), strict=True)),
            ids=ids,
            starts=np.fromiter((row[2] for row in rows), np.int64, len(rows)),
            positions=np.fromiter((row[0] for row in rows), np.int64, len(rows)),
        )


def write_version(
    session: Session,
    table: Table,
    *,
    version: int,
    previous: int | None,
    ids: Sequence[str],
    unchanged: np.ndarray,
    content: Callable[[int], tuple[Any, ...]],
    current: CurrentRows | None = None,
) -> int:
    """Make ``ids`` (in order) the rows of ``table`` in ``version``, the newest version;
    ``previous`` is the version before it (None: there is none), whose rows are
    ``current`` when the caller has them (else they are read here).

    ``unchanged[i]`` (a bool array): row ``ids[i]`` has the same content as in the
    previous version (False when it is new). ``content(i)`` gives the values of row ``i``
    for :func:`content_columns`; it is called only for the rows written. Returns how many
    rows were inserted.
    """
    count = len(ids)
    if previous is None:
        current = CurrentRows({}, [], np.empty(0, np.int64), np.empty(0, np.int64))
    elif current is None:
        current = CurrentRows.read(session, table, previous)
    # Each row's number in ``current``: -1 when it is not kept as it was (new, or changed).
    index = current.index
    at = np.fromiter(map(index.get, ids, itertools.repeat(-1)), np.int64, count)
    at[~np.asarray(unchanged, dtype=bool)] = -1
    known = at >= 0
    old = np.zeros(count, dtype=np.int64)
    old[known] = current.positions[at[known]]
    kept = _kept(old, known)
    positions = _positions(old, kept)
    if positions is None:  # a gap too narrow: renumber everything
        kept = np.zeros(count, dtype=bool)
        positions = [i * GAP for i in range(count)]
    still = np.zeros(len(current.ids), dtype=bool)
    still[at[kept]] = True
    closed = np.flatnonzero(~still).tolist()
    if closed and len(closed) == len(current.ids):  # one statement closes them all
        session.execute(
            update(table).where(table.c.to_version.is_(None)).values(to_version=version)
        )
    elif closed:
        current_ids, starts = current.ids, current.starts
        session.connection().execute(
            update(table)
            .where(
                and_(table.c.id == bindparam("b_id"), table.c.from_version == bindparam("b_from"))
            )
            .values(to_version=version),
            [{"b_id": current_ids[k], "b_from": int(starts[k])} for k in closed],
        )
    written = [
        (ids[i], version, None, positions[i], *content(i)) for i in np.flatnonzero(~kept).tolist()
    ]
    bulk_insert(session, table, [*RANGE_COLUMNS, *content_columns(table)], written)
    return len(written)


def _kept(old: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Which rows to keep (a bool array): of the unchanged rows (``known``, at their old
    positions ``old``), the longest run whose old positions increase."""
    candidates = np.flatnonzero(known)
    positions = old[candidates]
    if bool(np.all(positions[1:] > positions[:-1])):
        return np.asarray(known, dtype=bool).copy()
    # Longest increasing subsequence (patience sorting), only when rows were reordered.
    tails: list[int] = []  # the smallest last position of a run of each length
    tail_at: list[int] = []  # index into candidates of that last row
    before: list[int] = [-1] * len(candidates)
    for k, position in enumerate(positions.tolist()):
        length = bisect.bisect_left(tails, position)
        if length == len(tails):
            tails.append(position)
            tail_at.append(k)
        else:
            tails[length] = position
            tail_at[length] = k
        before[k] = tail_at[length - 1] if length else -1
    keep = np.zeros(len(old), dtype=bool)
    k = tail_at[-1] if tail_at else -1
    while k >= 0:
        keep[candidates[k]] = True
        k = before[k]
    return keep


def _positions(old: np.ndarray, kept: np.ndarray) -> list[int] | None:
    """Positions for every row: kept rows keep theirs (``old``), the others go between
    their kept neighbours (or ``GAP`` apart before the first and after the last); None
    if a gap between two kept rows is too narrow for the rows that go in it."""
    count = len(old)
    rows = np.arange(count)
    # For every row, the kept row at or before it and the one at or after it (-1, count:
    # none); only the rows not kept, a few, are then placed one by one.
    low_at = np.maximum.accumulate(np.where(kept, rows, -1)) if count else rows
    high_at = np.minimum.accumulate(np.where(kept, rows, count)[::-1])[::-1] if count else rows
    positions: list[int] = np.where(kept, old, 0).tolist()
    old_at = old.tolist()
    for i, low, high in zip(
        *(a.tolist() for a in (np.flatnonzero(~kept), low_at[~kept], high_at[~kept])),
        strict=True,
    ):
        rank = i - low  # 1 for the first row after ``low``
        if high == count:  # after the last kept row, or no kept row at all
            positions[i] = (-GAP if low < 0 else old_at[low]) + rank * GAP
        elif low < 0:  # before the first kept row
            positions[i] = old_at[high] - (high - i) * GAP
        else:
            width = old_at[high] - old_at[low]
            if width <= high - low - 1:
                return None
            positions[i] = old_at[low] + width * rank // (high - low)
    return positions


def bulk_insert(
    session: Session,
    table: Table,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    batch: int = _BATCH,
) -> None:
    """Insert ``rows`` (values of the columns ``names``) at once: COPY on
    PostgreSQL through psycopg 3, else one ``executemany``. Database errors come out as
    SQLAlchemy's, which the store turns into its own."""
    if not rows:
        return
    connection = session.connection()
    chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        raw: Any = connection.connection.driver_connection
        import psycopg  # only here: SQLite deployments never load it

        try:
            for chunk in chunks:  # one statement each, well inside the statement timeout
                with raw.cursor() as cursor, cursor.copy(statement) as copy:
                    for row in chunk:
                        copy.write_row(row)
        except psycopg.IntegrityError as exc:
            raise IntegrityError(statement, None, exc) from exc
        except psycopg.Error as exc:
            raise DBAPIError(statement, None, exc) from exc
        return
    marks = ", ".join(["?" if connection.dialect.paramstyle == "qmark" else "%s"] * len(names))
    statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
    for chunk in chunks:
        connection.exec_driver_sql(statement, list(chunk))
