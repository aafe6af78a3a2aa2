"""Reading the ledger's rows at the boundary: a stored value of the wrong type is an
integrity failure naming the table, row and column, never a crash or "database
unavailable".

The ledger's byte columns (entry bundles, salts, outbox ids, hash tiles, roots) and
integer columns are typed in the schema, which PostgreSQL enforces. SQLite keeps
whatever a statement stores (``UPDATE ledger_bundles SET entries = CAST(entries AS
TEXT)``), and its driver then either hands back a ``str`` or ``int`` where bytes were
expected or fails to fetch the row at all ("Could not decode to UTF-8 column …",
followed by the raw bytes). Both become a LedgerIntegrityError here: someone with
database access changed the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from brightline.errors import LedgerIntegrityError

#: Per table: the key columns naming a row, its byte columns and its integer columns.
_COLUMNS: Final = {
    "ledger_bundles": (("log", "bundle"), ("entries", "salts", "outbox_ids"), ("width",)),
    "ledger_tiles": (("log", "level", "tile"), ("hashes",), ("width",)),
    "ledger_checkpoints": (("id",), ("root",), ("log", "size")),
}
_SQLITE_TYPE: Final = {"bytes": "blob", "an integer": "integer"}
_SQLITE_KIND: Final = {
    "blob": "bytes",
    "integer": "an integer",
    "real": "a real number",
    "text": "text",
    "null": "NULL",
}


def row_name(table: str, **key: object) -> str:
    """``ledger_bundles row (log 1, bundle 2)``."""
    return f"{table} row ({', '.join(f'{k} {v}' for k, v in key.items())})"


def _kind(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | int):
        return "an integer"
    return type(value).__name__


def blob(value: object, row: str, column: str) -> bytes:
    """``value`` if it is bytes; LedgerIntegrityError naming ``row`` and ``column``
    otherwise (a memoryview, as some drivers return, is bytes)."""
    if isinstance(value, memoryview):
        return value.tobytes()
    if not isinstance(value, bytes):
        raise LedgerIntegrityError(
            f"{row}: column {column} holds {_kind(value)}, not bytes: the stored log was "
            "changed outside Brightline"
        )
    return value


def integer(value: object, row: str, column: str) -> int:
    """``value`` if it is an integer; LedgerIntegrityError naming ``row`` and ``column``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LedgerIntegrityError(
            f"{row}: column {column} holds {_kind(value)}, not an integer: the stored log "
            "was changed outside Brightline"
        )
    return value


def wrongly_typed(connection: Connection) -> str | None:
    """The first ledger value stored with the wrong type, as "table row (keys): column c
    holds text, not bytes"; None if there is none. Only SQLite can hold one (PostgreSQL
    enforces the column types), so elsewhere this is None without a query."""
    if connection.dialect.name != "sqlite":
        return None
    for table, (keys, blobs, integers) in _COLUMNS.items():
        expected = dict.fromkeys(blobs, "bytes") | dict.fromkeys(integers, "an integer")
        types = ", ".join(f"typeof({c})" for c in expected)
        wrong = " OR ".join(f"typeof({c}) != '{_SQLITE_TYPE[e]}'" for c, e in expected.items())
        order = ", ".join(keys)
        # Names from the constants above only: nothing here comes from the caller.
        row = connection.exec_driver_sql(
            f"SELECT {order}, {types} FROM {table} WHERE {wrong} ORDER BY {order} LIMIT 1"
        ).first()
        if row is None:
            continue
        key = dict(zip(keys, row[: len(keys)], strict=True))
        for (column, kind), stored in zip(expected.items(), row[len(keys) :], strict=True):
            if stored != _SQLITE_TYPE[kind]:
                return (
                    f"{row_name(table, **key)}: column {column} holds "
                    f"{_SQLITE_KIND.get(stored, stored)}, not {kind}: "
                    "the stored log was changed outside Brightline"
                )
    return None


@contextmanager
def reading(connection: Connection) -> Iterator[None]:
    """Around a read of ledger rows: a row the driver cannot fetch because a value has
    the wrong type (SQLite's "Could not decode to UTF-8") becomes LedgerIntegrityError
    naming it; every other database error passes through unchanged."""
    try:
        yield
    except DBAPIError as exc:
        found = wrongly_typed(connection) if _is_decode_error(exc) else None
        if found is None:
            raise
        raise LedgerIntegrityError(found) from exc


def _is_decode_error(exc: DBAPIError) -> bool:
    return "could not decode" in str(exc.orig).lower()
