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
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

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


def write_version(
    session: Session,
    table: Table,
    *,
    version: int,
    previous: int | None,
    ids: Sequence[str],
    unchanged: Sequence[bool],
    content: Callable[[int], tuple[Any, ...]],
) -> int:
    """Make ``ids`` (in order) the rows of ``table`` in ``version``, the newest version;
    ``previous`` is the version before it (None: there is none).

    ``unchanged[i]``: row ``ids[i]`` has the same content as in the previous version
    (False when it is new). ``content(i)`` gives the values of row ``i`` for
    :func:`content_columns`; it is called only for the rows written. Returns how many
    rows were inserted.
    """
    current = (
        {}
        if previous is None
        else {
            row_id: (start, position)
            for position, row_id, start in rows_of(session, table, previous, ("id", "from_version"))
        }
    )
    old = [
        current[row_id][1] if same and row_id in current else None
        for row_id, same in zip(ids, unchanged, strict=True)
    ]
    kept = _kept(old)
    positions = _positions(old, kept)
    if positions is None:  # a gap too narrow: renumber everything
        kept = set()
        positions = [i * GAP for i in range(len(ids))]
    kept_ids = {ids[i] for i in kept}
    closing = [
        {"b_id": row_id, "b_from": start}
        for row_id, (start, _) in current.items()
        if row_id not in kept_ids
    ]
    if closing and len(closing) == len(current):  # one statement closes them all
        session.execute(
            update(table).where(table.c.to_version.is_(None)).values(to_version=version)
        )
    elif closing:
        session.connection().execute(
            update(table)
            .where(
                and_(table.c.id == bindparam("b_id"), table.c.from_version == bindparam("b_from"))
            )
            .values(to_version=version),
            closing,
        )
    written = [
        (ids[i], version, None, positions[i], *content(i)) for i in range(len(ids)) if i not in kept
    ]
    bulk_insert(session, table, [*RANGE_COLUMNS, *content_columns(table)], written)
    return len(written)


def _kept(old: Sequence[int | None]) -> set[int]:
    """Indexes of the unchanged rows to keep: the longest run whose old positions increase."""
    candidates = [i for i, position in enumerate(old) if position is not None]
    positions = [position for position in old if position is not None]
    if all(a < b for a, b in itertools.pairwise(positions)):
        return set(candidates)
    # Longest increasing subsequence (patience sorting), only when rows were reordered.
    tails: list[int] = []  # the smallest last position of a run of each length
    tail_at: list[int] = []  # index into candidates of that last row
    before: list[int] = [-1] * len(candidates)
    for k, position in enumerate(positions):
        length = bisect.bisect_left(tails, position)
        if length == len(tails):
            tails.append(position)
            tail_at.append(k)
        else:
            tails[length] = position
            tail_at[length] = k
        before[k] = tail_at[length - 1] if length else -1
    keep: set[int] = set()
    k = tail_at[-1] if tail_at else -1
    while k >= 0:
        keep.add(candidates[k])
        k = before[k]
    return keep


def _positions(old: Sequence[int | None], kept: set[int]) -> list[int] | None:
    """Positions for every row: kept rows keep theirs, the others go between their kept
    neighbours (or ``GAP`` apart before the first and after the last); None if a gap
    between two kept rows is too narrow for the rows that go in it."""
    positions: list[int] = [0] * len(old)
    pending: list[int] = []
    low: int | None = None
    for i, position in enumerate(old):
        if i not in kept:
            pending.append(i)
            continue
        assert position is not None
        if pending:
            if low is None:
                places: Iterable[int] = (
                    position - (len(pending) - j) * GAP for j in range(len(pending))
                )
            elif position - low > len(pending):
                step = len(pending) + 1
                places = (low + (position - low) * (j + 1) // step for j in range(len(pending)))
            else:
                return None
            for i_pending, place in zip(pending, places, strict=True):
                positions[i_pending] = place
            pending = []
        positions[i] = low = position
    start = -GAP if low is None else low
    for j, i_pending in enumerate(pending, start=1):
        positions[i_pending] = start + j * GAP
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
