"""The Spark engine (PySpark): the same neutral queries, rendered in Spark SQL.

Imported only when Spark is asked for, so the rest of Brightline runs without a JVM.
"""

from __future__ import annotations

from typing import Any, Final

from brightline.detection.engines import DAILY_KEYS, EngineError, Usage, WorldTables
from brightline.detection.neutral import Dialect, NeutralQuery

_DAY: Final = "CAST(FLOOR(unix_timestamp({}) / 86400) AS BIGINT)"


class SparkEngine:
    """Runs queries on a SparkSession; stops the session at ``close`` only if it made it."""

    dialect = Dialect.SPARK

    def __init__(self, session: Any, *, owned: bool = False) -> None:
        self._spark = session
        self._owned = owned
        self._cached: list[Any] = []

    @classmethod
    def start(cls, master: str, *, shuffle_partitions: int = 8) -> SparkEngine:
        try:
            from pyspark.sql import SparkSession

            session = (
                SparkSession.builder.master(master)
                .appName("brightline-detect")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
                .getOrCreate()
            )
            session.sparkContext.setLogLevel("ERROR")
        except Exception as exc:  # edge: any JVM or py4j start-up failure
            raise EngineError(f"spark: cannot start a session on {master}: {exc}") from exc
        return cls(session, owned=True)

    def load(self, usage: Usage, tables: WorldTables, *, keep: NeutralQuery | None = None) -> None:
        from pyspark.errors import PySparkException

        spark = self._spark
        condition = "1 = 1" if keep is None else keep.render(self.dialect)
        try:
            self.close_views()
            for name, table in tables.named().items():
                spark.createDataFrame(table.arrow()).createOrReplaceTempView(name)
            if usage.rollups:
                spark.read.parquet(*(str(f) for f in usage.rollups)).createOrReplaceTempView(
                    "usage_rollup"
                )
                source, first, last = "usage_rollup", "MIN(epoch_day)", "MAX(epoch_day)"
                query = (
                    f"SELECT epoch_day AS day, {DAILY_KEYS}, quantity FROM usage_rollup "
                    f"WHERE {condition}"
                )
            else:
                if usage.table is not None:
                    raw = spark.createDataFrame(usage.table)
                else:
                    raw = spark.read.parquet(*(str(f) for f in usage.files))
                raw.createOrReplaceTempView("usage_raw")
                source, first, last = "usage_raw", _DAY.format("MIN(ts)"), _DAY.format("MAX(ts)")
                query = (
                    f"SELECT {_DAY.format('ts')} AS day, "
                    f"{DAILY_KEYS}, SUM(quantity) AS quantity FROM usage_raw "
                    f"WHERE {condition} GROUP BY 1, {DAILY_KEYS}"
                )
            daily = spark.sql(query).cache()
            self._cached.append(daily)
            daily.createOrReplaceTempView("daily")
            if usage.span is not None:
                span_query = (
                    f"SELECT CAST({usage.span[0]} AS BIGINT) AS first_day, "
                    f"CAST({usage.span[1]} AS BIGINT) AS last_day"
                )
            else:
                span_query = f"SELECT {first} AS first_day, {last} AS last_day FROM {source}"
            span = spark.sql(span_query).cache()
            self._cached.append(span)
            span.createOrReplaceTempView("span")
        except PySparkException as exc:
            raise EngineError(f"spark: cannot load usage: {exc}") from exc

    def run(self, sql: str) -> list[dict[str, Any]]:
        from pyspark.errors import PySparkException

        try:
            return [row.asDict() for row in self._spark.sql(sql).collect()]
        except PySparkException as exc:
            raise EngineError(f"spark: {exc}") from exc

    def close_views(self) -> None:
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()

    def close(self) -> None:
        self.close_views()
        if self._owned:
            self._spark.stop()
