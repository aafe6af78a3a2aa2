"""One local Spark session for the whole test session (Spark start-up costs seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from brightline.detection import DuckDBEngine, Engine
from brightline.detection.spark import SparkEngine


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[SparkEngine]:
    engine = SparkEngine.start("local[2]", shuffle_partitions=2)
    yield engine
    engine.close()


@pytest.fixture(params=["duckdb", "spark"])
def engine(request: pytest.FixtureRequest, spark_engine: SparkEngine) -> Iterator[Engine]:
    if request.param == "spark":
        yield spark_engine
        return
    duck = DuckDBEngine()
    yield duck
    duck.close()


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from brightline.synth import synthesize

    out = tmp_path_factory.mktemp("synth") / "world"
    synthesize(out, subscriptions=160, days=30, seed=7)
    return out
