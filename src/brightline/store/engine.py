"""Connecting to the database and running units of work.

Every write runs under one store-wide write lock (``BEGIN IMMEDIATE`` on SQLite, a
transaction-scoped advisory lock on PostgreSQL). Writers are rare (people proposing
and approving restrictions, imports) and the lock makes each read-decide-write step
atomic on both databases alike; the unique constraints of the tables stay as a second
line of defence. Database failures become :class:`StoreUnavailableError` (cannot reach
or use the database) or :class:`~brightline.errors.ConflictError` (a constraint said no).

A SQLite database file is created with mode 0600 before SQLite opens it; SQLite gives
its ``-wal`` and ``-shm`` files the mode of the database file, so they are 0600 too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import Session

from brightline.config import DEFAULT_DB_TIMEOUT, Settings
from brightline.errors import ConflictError, InvalidInputError, StoreUnavailableError
from brightline.store.secrets import StoreSecrets, key_path
from brightline.store.waits import (
    SILENCE_MARGIN,
    connect_postgres,
    postgres_connect_args,
    sqlite_busy_timeout_ms,
    waiting,
)

#: Arbitrary constant naming Brightline's write lock among PostgreSQL advisory locks.
WRITE_LOCK_KEY: Final = 0x6272_6C69_6E65  # "brline"


def redact(url: str | URL) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def create_store_engine(
    url: str, *, timeout: float = DEFAULT_DB_TIMEOUT, read_only: bool = False
) -> Engine:
    """An engine for ``url`` with Brightline's connection settings; no step waits for the
    database longer than about ``timeout`` seconds (:mod:`brightline.store.waits`).

    SQLite: WAL journal, foreign keys on, a busy timeout, and transactions that the
    store begins itself (``BEGIN`` or ``BEGIN IMMEDIATE``). PostgreSQL: connect and
    statement timeouts, and connections that give up on a silent server. Both: a bounded
    wait for a pooled connection.

    ``read_only`` makes the database itself refuse every write on the engine's
    connections (SQLite ``PRAGMA query_only``, PostgreSQL
    ``default_transaction_read_only``), and a SQLite file that does not exist is an
    error (StoreUnavailableError) rather than a new, empty database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInputError(f"database URL is not valid: {redact(url)}") from exc
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": timeout}
        if _sqlite_file(parsed) is not None:  # in-memory databases have no queue to wait in
            kwargs["pool_timeout"] = timeout
    elif backend == "postgresql":
        options = parsed.query.get("options")
        given = options if isinstance(options, str) else None
        if read_only:
            given = (
                f"{given} -c default_transaction_read_only=on"
                if given
                else ("-c default_transaction_read_only=on")
            )
        kwargs["connect_args"] = postgres_connect_args(timeout, given)
        kwargs["pool_pre_ping"] = True
        kwargs["pool_timeout"] = timeout
    else:
        raise InvalidInputError(
            f"unsupported database {redact(url)}: use sqlite:///PATH or postgresql+psycopg://…"
        )
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise InvalidInputError(f"cannot use database URL {redact(url)}: {exc}") from exc
    if backend == "sqlite":
        path = _sqlite_file(parsed)
        if read_only and path is not None and not path.is_file():
            raise StoreUnavailableError(f"no database at {redact(url)}")
        _configure_sqlite(
            engine,
            None if read_only else path,
            busy_ms=sqlite_busy_timeout_ms(timeout),
            read_only=read_only,
        )
    else:
        silence = timeout + SILENCE_MARGIN

        @event.listens_for(engine, "do_connect")
        def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            return connect_postgres(silence, cargs, cparams)

    return engine


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for in-memory and ``file:`` URI databases."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if str(url.query.get("uri", "")).lower() in {"1", "true"}:
        return None
    return Path(database)


def _create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (an empty file is an empty
    SQLite database). Any other failure is left for SQLite to report as it opens it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # a missing directory, say: SQLite's own error names the database
    try:
        os.fchmod(fd, 0o600)  # exact, whatever the umask
    finally:
        os.close(fd)


def _configure_sqlite(engine: Engine, path: Path | None, *, busy_ms: int, read_only: bool) -> None:
    if path is not None:

        @event.listens_for(engine, "do_connect")
        def _before_connect(*_: Any) -> None:
            # The database holds reporters' cases and the ledger's private records: no
            # other local user may read it, nor its WAL (recent writes) or shared memory.
            _create_private_file(path)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below be the only transaction control (pysqlite would
        # otherwise begin lazily, and only before DML).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the write lock at BEGIN, so that what it read cannot change
        # before it writes; readers do not block anyone in WAL mode.
        write = connection.get_execution_options().get("brightline_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Store:
    """A database holding Brightline's state; hands out sessions for units of work.

    ``settings`` are those it was opened with; None when opened from a bare URL (tests,
    tools), which then has the safe defaults and no data directory, hence no key for
    sealed values (:mod:`brightline.store.secrets`). ``read_only``: its engine's
    connections refuse writes (:func:`create_store_engine`) and :meth:`write` refuses
    to start.
    """

    def __init__(
        self, engine: Engine, *, settings: Settings | None = None, read_only: bool = False
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.read_only = read_only
        self.secrets = StoreSecrets(None if settings is None else key_path(settings.data_dir))
        self._closed = False

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return redact(self.engine.url)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a transaction holding the write lock; committed on success.
        ConflictError on a store opened read-only (for verification, which must never
        change what it checks)."""
        if self.read_only:
            raise ConflictError(f"the store at {self.url} is open read-only: nothing may change")
        with self._translate_errors(), self._connect() as connection:
            connection.execution_options(brightline_write=True)
            with connection.begin():
                if self.backend == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY}
                    )
                with Session(bind=connection, autoflush=True, expire_on_commit=False) as session:
                    yield session
                    session.flush()

    @contextmanager
    def write_ephemeral(self) -> Iterator[Session]:
        """A session in a transaction that does not take the store-wide write lock on
        PostgreSQL (SQLite has one writer at a time anyway): for the servers' shared
        working state (:mod:`brightline.store.ephemeral_models`), whose statements are
        atomic by themselves, never for anything the ledger logs. Committed on success."""
        if self.read_only:
            raise ConflictError(f"the store at {self.url} is open read-only: nothing may change")
        with self._translate_errors(), self._connect() as connection:
            connection.execution_options(brightline_write=True)
            with (
                connection.begin(),
                Session(bind=connection, autoflush=True, expire_on_commit=False) as session,
            ):
                yield session
                session.flush()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in a read-only transaction (rolled back at the end)."""
        with (
            self._translate_errors(),
            self._connect() as connection,
            connection.begin() as transaction,
        ):
            with Session(bind=connection, autoflush=False) as session:
                yield session
            transaction.rollback()

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise ConflictError(
                f"the change conflicts with stored state: {_first_line(exc)}"
            ) from exc
        except (OperationalError, DBAPIError) as exc:
            raise StoreUnavailableError(
                f"cannot use the database at {self.url}: {_first_line(exc)}"
            ) from exc

    def ping(self) -> None:
        """Connect once; raises StoreUnavailableError if the database cannot be reached."""
        with self._translate_errors(), self._connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def _connect(self) -> Connection:
        # A closed store hands out no connection: a late caller (a server's refresh still
        # running in a worker thread at shutdown) would otherwise open one in the fresh
        # pool that ``dispose`` leaves behind, and nothing would ever close it.
        if self._closed:
            raise StoreUnavailableError(f"the store at {self.url} is closed")
        with waiting():  # for a pooled connection, a new one, or a ping of an old one
            return self.engine.connect()

    def close(self) -> None:
        self._closed = True
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
