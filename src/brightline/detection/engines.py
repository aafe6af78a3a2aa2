"""Engines run neutral rule queries over usage; DuckDB is embedded, Spark is in ``spark``.

An engine is loaded with the usage (the stored daily rollups, the raw Parquet dataset, or
a table of rows for fixtures), the world's tables and the condition of the usage the run's
rules read, then runs queries. Loading is the only engine-specific SQL: reading the
rollups as ``daily`` (or, from raw rows, turning ``ts`` into a day number and summing the
hourly rows that the condition keeps into ``daily`` once), so that every rule reads the
small daily table instead of every hourly row. The condition goes into
the Parquet scan, so a run of speech rules never sums (or, where the files allow, even
reads) storage rows. ``span`` always covers all of the usage, whatever the condition.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import pyarrow as pa

from brightline.detection.neutral import Dialect, NeutralQuery
from brightline.errors import BrightlineError, InvalidInputError, Problem
from brightline.world import World

#: The columns of ``daily``, after the day number.
DAILY_KEYS: Final = "subscription_id, service, operation, region, unit"
CUSTOMER: Final = "customer"
_DUCKDB_DAY: Final = "CAST(FLOOR(epoch({}) / 86400) AS BIGINT)"
SUBSCRIPTION: Final = "subscription"


class EngineError(BrightlineError):
    """An engine failed to run a query (not the rule's fault: the engine's or its setup's)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What to detect over: the dataset's raw Parquet files, its daily rollups (already
    summed per key and day, see :mod:`brightline.telemetry.rollups`), or an in-memory table
    of rows. ``span`` (first and last day, days since 1970-01-01) is the span of *all* the
    usage when the files are only part of it (an incremental run); None: theirs."""

    files: tuple[Path, ...] = ()
    table: pa.Table | None = None
    rollups: tuple[Path, ...] = ()
    span: tuple[int, int] | None = None

    @classmethod
    def from_files(cls, files: Iterable[Path]) -> Usage:
        found = tuple(files)
        if not found:
            raise InvalidInputError(Problem("telemetry", "no metering data: ingest files first"))
        return cls(files=found)

    @classmethod
    def from_rollups(cls, files: Iterable[Path]) -> Usage:
        found = tuple(files)
        if not found:
            raise InvalidInputError(Problem("telemetry", "no metering data: ingest files first"))
        return cls(rollups=found)

    @classmethod
    def from_table(cls, table: pa.Table) -> Usage:
        return cls(table=table)

    def whole_span(self) -> tuple[int, int]:
        """The first and last day of all the usage."""
        if self.span is not None:
            return self.span
        if self.table is not None:
            import pyarrow.compute as pc

            if self.table.num_rows == 0:
                return (0, 0)
            micros = pc.min_max(pc.cast(self.table.column("ts"), pa.int64())).as_py()
            return (micros["min"] // _DAY_US, micros["max"] // _DAY_US)
        days = sorted(_file_day(f) for f in self.rollups or self.files)
        return (days[0], days[-1]) if days else (0, 0)

    def from_day(self, first: int) -> Usage:
        """The usage of days ``first`` and later, keeping the whole span. Loading more days
        than asked never changes what a rule finds on the days asked for, so when no file
        is that recent the last one is kept (an engine needs some file to read)."""
        span = self.whole_span()
        if self.table is not None:
            import pyarrow.compute as pc

            ts = pc.cast(self.table.column("ts"), pa.int64())
            kept = self.table.filter(pc.greater_equal(ts, first * _DAY_US))
            return Usage(table=kept, span=span)
        source = self.rollups or self.files
        recent = tuple(f for f in source if _file_day(f) >= first) or source[-1:]
        if self.rollups:
            return Usage(rollups=recent, span=span)
        return Usage(files=recent, span=span)


_DAY_US: Final = 86_400 * 1_000_000


def _file_day(path: Path) -> int:
    """The day of a stored file (raw or rollup), from its ``day=YYYY-MM-DD`` directory."""
    from brightline.telemetry.rollups import epoch_day

    return epoch_day(path.parent.name.removeprefix("day="))


class ColumnType(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"


@dataclass(frozen=True, slots=True)
class SmallTable:
    """A small table as plain Python columns, in order, each with its type.

    Plain lists rather than Arrow: building any Arrow array imports pandas (through
    pyarrow's pandas shim), which cost a DuckDB run more than reading its usage. Engines
    that want Arrow (Spark) ask for :meth:`arrow`.
    """

    columns: tuple[tuple[str, ColumnType, tuple[object, ...]], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.columns)

    def __len__(self) -> int:
        return len(self.columns[0][2]) if self.columns else 0

    def to_pylist(self) -> list[dict[str, object]]:
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in zip(*self.values(), strict=True)]

    def values(self) -> list[tuple[object, ...]]:
        return [values for _, _, values in self.columns]

    def arrow(self) -> pa.Table:
        types = {ColumnType.TEXT: pa.string(), ColumnType.INTEGER: pa.int64()}
        return pa.table(
            [pa.array(values, types[kind]) for _, kind, values in self.columns],
            names=list(self.names),
        )


@dataclass(frozen=True, slots=True)
class WorldTables:
    """The world as small tables: usage rolled up per level, home countries, regions."""

    node_map: SmallTable
    node_info: SmallTable
    region_info: SmallTable
    #: ``node_tree(root, subscription_id, node)``: every node's usage rolled up to itself
    #: and each of its ancestors, with the customer it belongs to (for localization).
    node_tree: SmallTable | None = None

    @classmethod
    def build(cls, world: World, levels: Iterable[str]) -> WorldTables:
        directory = world.directory
        wanted = sorted(set(levels))
        level_col: list[str] = []
        sub_col: list[str] = []
        node_col: list[str] = []
        leaves: Counter[str] = Counter()
        tree_root: list[str] = []
        tree_sub: list[str] = []
        tree_node: list[str] = []
        for node in directory:
            chain = directory.ancestors(node.id)
            for ancestor in chain:
                tree_root.append(chain[-1])
                tree_sub.append(node.id)
                tree_node.append(ancestor)
            if not directory.children(node.id):
                leaves.update(chain)
            for level in wanted:
                target = _level_node(world, chain, level)
                if target is not None:
                    level_col.append(level)
                    sub_col.append(node.id)
                    node_col.append(target)
        node_ids = sorted(directory.nodes)
        regions = sorted(world.catalog.regions.values(), key=lambda r: r.id)
        text, integer = ColumnType.TEXT, ColumnType.INTEGER
        return cls(
            node_map=SmallTable(
                (
                    ("level", text, tuple(level_col)),
                    ("subscription_id", text, tuple(sub_col)),
                    ("node", text, tuple(node_col)),
                )
            ),
            node_info=SmallTable(
                (
                    ("node", text, tuple(node_ids)),
                    ("country", text, tuple(_home_country(world, n) for n in node_ids)),
                    ("subscriptions", integer, tuple(leaves[n] for n in node_ids)),
                )
            ),
            region_info=SmallTable(
                (
                    ("region", text, tuple(r.id for r in regions)),
                    ("country", text, tuple(r.country for r in regions)),
                )
            ),
            node_tree=SmallTable(
                (
                    ("root", text, tuple(tree_root)),
                    ("subscription_id", text, tuple(tree_sub)),
                    ("node", text, tuple(tree_node)),
                )
            ),
        )

    def named(self) -> dict[str, SmallTable]:
        tables = {
            "node_map": self.node_map,
            "node_info": self.node_info,
            "region_info": self.region_info,
        }
        if self.node_tree is not None:
            tables["node_tree"] = self.node_tree
        return tables


def _level_node(world: World, chain: Sequence[str], level: str) -> str | None:
    if level == SUBSCRIPTION:
        return chain[0]
    if level == CUSTOMER:
        return chain[-1]
    for node_id in chain:
        if world.directory[node_id].kind == level:
            return node_id
    return None


def _home_country(world: World, node_id: str) -> str:
    """The node's ``country`` attribute, or its nearest ancestor's; '' when none has one."""
    value = inherited(world, node_id, "country")
    return "" if value is None else str(value)


def inherited(world: World, node_id: str, attribute: str) -> object | None:
    for ancestor in world.directory.ancestors(node_id):
        attrs = world.directory[ancestor].attrs
        if attribute in attrs:
            return attrs[attribute]
    return None


class Engine(Protocol):
    dialect: Dialect

    def load(self, usage: Usage, tables: WorldTables, *, keep: NeutralQuery | None = None) -> None:
        """Load ``daily`` (only rows ``keep`` holds for; all when None) and ``span``."""
        ...

    def run(self, sql: str) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class DuckDBEngine:
    """DuckDB in this process. ``memory_limit`` bounds its buffer memory (e.g. ``"3GB"``)."""

    dialect = Dialect.DUCKDB

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        import duckdb

        self._duckdb = duckdb
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET enable_progress_bar = false")
        if threads is not None:
            self._con.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            self._con.execute("SET memory_limit = ?", [memory_limit])

    def load(self, usage: Usage, tables: WorldTables, *, keep: NeutralQuery | None = None) -> None:
        con = self._con
        condition = "1 = 1" if keep is None else keep.render(self.dialect)
        try:
            for name, table in tables.named().items():
                _create_table(con, name, table)
            if usage.rollups:
                rolled = [str(f) for f in usage.rollups]
                con.register("usage_rollup", con.read_parquet(rolled, hive_partitioning=False))
                first, last = "MIN(epoch_day)", "MAX(epoch_day)"
                source = "usage_rollup"
                daily = (
                    f"SELECT epoch_day AS day, {DAILY_KEYS}, quantity FROM usage_rollup "
                    f"WHERE {condition}"
                )
            else:
                if usage.table is not None:
                    con.register("usage_raw", usage.table)
                else:
                    # By name: files stored before the ``hours`` column existed lack it.
                    files = [str(f) for f in usage.files]
                    con.register("usage_raw", con.read_parquet(files, union_by_name=True))
                first, last = _DUCKDB_DAY.format("MIN(ts)"), _DUCKDB_DAY.format("MAX(ts)")
                source = "usage_raw"
                daily = (
                    f"SELECT {_DUCKDB_DAY.format('ts')} AS day, "
                    f"{DAILY_KEYS}, SUM(quantity) AS quantity FROM usage_raw "
                    f"WHERE {condition} GROUP BY ALL"
                )
            if usage.span is not None:
                span = f"SELECT CAST({usage.span[0]} AS BIGINT) AS first_day, " + (
                    f"CAST({usage.span[1]} AS BIGINT) AS last_day"
                )
            else:
                span = f"SELECT {first} AS first_day, {last} AS last_day FROM {source}"
            con.execute(f"CREATE OR REPLACE TEMP TABLE span AS {span}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE daily AS {daily}")
        except self._duckdb.Error as exc:
            raise EngineError(f"duckdb: cannot load usage: {exc}") from exc

    def run(self, sql: str) -> list[dict[str, Any]]:
        try:
            relation = self._con.sql(sql)
            if relation is None:
                return []
            names = relation.columns
            return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
        except self._duckdb.Error as exc:
            raise EngineError(f"duckdb: {exc}") from exc

    def close(self) -> None:
        self._con.close()


def _create_table(con: Any, name: str, table: SmallTable) -> None:
    """``name`` from ``table``'s columns, passed as list parameters (no Arrow, see
    :class:`SmallTable`)."""
    types = {ColumnType.TEXT: "VARCHAR", ColumnType.INTEGER: "BIGINT"}
    columns = ", ".join(
        f"UNNEST(CAST(${i} AS {types[kind]}[])) AS {column}"
        for i, (column, kind, _) in enumerate(table.columns, 1)
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns}",
        [list(values) for values in table.values()],
    )


def create_engine(name: str, *, spark_master: str | None = None) -> Engine:
    """``duckdb`` (default) or ``spark`` (``spark_master``: ``local[2]``, ``spark://…``)."""
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        from brightline.detection.spark import SparkEngine

        return SparkEngine.start(spark_master or "local[2]")
    raise InvalidInputError(Problem("--engine", f"unknown engine {name!r}: duckdb or spark"))
