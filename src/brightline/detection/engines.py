"""Engines run neutral rule queries over usage; DuckDB is embedded, Spark is in ``spark``.

An engine is loaded with the usage (the stored Parquet dataset, or a table of rows for
fixtures) and the world's tables, then runs queries. Loading is the only engine-specific
SQL: turning ``ts`` into a day number, and summing hourly rows into ``daily`` once, so
that every rule reads the small daily table instead of every hourly row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import pyarrow as pa

from brightline.detection.neutral import Dialect
from brightline.errors import BrightlineError, InvalidInputError, Problem
from brightline.world import World

#: The columns of ``daily``, after the day number.
DAILY_KEYS: Final = "subscription_id, service, operation, region, unit"
CUSTOMER: Final = "customer"
SUBSCRIPTION: Final = "subscription"


class EngineError(BrightlineError):
    """An engine failed to run a query (not the rule's fault: the engine's or its setup's)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What to detect over: the dataset's Parquet files, or an in-memory table of rows."""

    files: tuple[Path, ...] = ()
    table: pa.Table | None = None

    @classmethod
    def from_files(cls, files: Iterable[Path]) -> Usage:
        found = tuple(files)
        if not found:
            raise InvalidInputError(Problem("telemetry", "no metering data: ingest files first"))
        return cls(files=found)

    @classmethod
    def from_table(cls, table: pa.Table) -> Usage:
        return cls(table=table)


@dataclass(frozen=True, slots=True)
class WorldTables:
    """The world as small tables: usage rolled up per level, home countries, regions."""

    node_map: pa.Table
    node_info: pa.Table
    region_info: pa.Table

    @classmethod
    def build(cls, world: World, levels: Iterable[str]) -> WorldTables:
        directory = world.directory
        wanted = sorted(set(levels))
        level_col: list[str] = []
        sub_col: list[str] = []
        node_col: list[str] = []
        leaves: Counter[str] = Counter()
        for node in directory:
            chain = directory.ancestors(node.id)
            if not directory.children(node.id):
                leaves.update(chain)
            for level in wanted:
                target = _level_node(world, chain, level)
                if target is not None:
                    level_col.append(level)
                    sub_col.append(node.id)
                    node_col.append(target)
        node_ids = sorted(directory.nodes)
        countries = [_home_country(world, n) for n in node_ids]
        regions = sorted(world.catalog.regions.values(), key=lambda r: r.id)
        return cls(
            node_map=pa.table(
                {"level": level_col, "subscription_id": sub_col, "node": node_col},
                schema=pa.schema(
                    [
                        ("level", pa.string()),
                        ("subscription_id", pa.string()),
                        ("node", pa.string()),
                    ]
                ),
            ),
            node_info=pa.table(
                {
                    "node": pa.array(node_ids, pa.string()),
                    "country": pa.array(countries, pa.string()),
                    "subscriptions": pa.array([leaves[n] for n in node_ids], pa.int64()),
                }
            ),
            region_info=pa.table(
                {
                    "region": pa.array([r.id for r in regions], pa.string()),
                    "country": pa.array([r.country for r in regions], pa.string()),
                }
            ),
        )


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

    def load(self, usage: Usage, tables: WorldTables) -> None: ...

    def run(self, sql: str) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class DuckDBEngine:
    """DuckDB in this process. ``memory_limit`` bounds its buffer memory (e.g. ``"3GB"``)."""

    dialect = Dialect.DUCKDB

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        import duckdb

        self._duckdb = duckdb
        self._con = duckdb.connect(":memory:")
        if threads is not None:
            self._con.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            self._con.execute("SET memory_limit = ?", [memory_limit])

    def load(self, usage: Usage, tables: WorldTables) -> None:
        con = self._con
        try:
            for name in ("node_map", "node_info", "region_info"):
                con.register(f"{name}_arrow", getattr(tables, name))
                con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
                con.unregister(f"{name}_arrow")
            if usage.table is not None:
                con.register("usage_raw", usage.table)
                source = "usage_raw"
            else:
                con.register("usage_raw", con.read_parquet([str(f) for f in usage.files]))
                source = "usage_raw"
            con.execute(
                "CREATE OR REPLACE TEMP TABLE daily AS SELECT "
                "CAST(FLOOR(epoch(ts) / 86400) AS BIGINT) AS day, "
                f"{DAILY_KEYS}, SUM(quantity) AS quantity FROM {source} "
                f"GROUP BY ALL"
            )
            con.execute(
                "CREATE OR REPLACE TEMP TABLE span AS "
                "SELECT MIN(day) AS first_day, MAX(day) AS last_day FROM daily"
            )
        except self._duckdb.Error as exc:
            raise EngineError(f"duckdb: cannot load usage: {exc}") from exc

    def run(self, sql: str) -> list[dict[str, Any]]:
        try:
            relation = self._con.sql(sql)
            rows: list[dict[str, Any]] = (
                [] if relation is None else relation.to_arrow_table().to_pylist()
            )
        except self._duckdb.Error as exc:
            raise EngineError(f"duckdb: {exc}") from exc
        return rows

    def close(self) -> None:
        self._con.close()


def create_engine(name: str, *, spark_master: str | None = None) -> Engine:
    """``duckdb`` (default) or ``spark`` (``spark_master``: ``local[2]``, ``spark://…``)."""
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        from brightline.detection.spark import SparkEngine

        return SparkEngine.start(spark_master or "local[2]")
    raise InvalidInputError(Problem("--engine", f"unknown engine {name!r}: duckdb or spark"))
