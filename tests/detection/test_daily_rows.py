"""Detection over FOCUS daily rows: a daily row is that UTC day's quantity, summed once
into the day, next to hourly rows of other days and files stored before ``hours``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from brightline.detection.engines import DuckDBEngine, Usage, WorldTables
from brightline.telemetry import TelemetryDataset, ingest_file, load_service_map
from brightline.world import load_world

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "world"
FOCUS = ROOT / "tests" / "fixtures" / "focus"


def test_daily_rows_aggregate_into_their_day(tmp_path: Path) -> None:
    world = load_world(EXAMPLES)
    dataset = TelemetryDataset(tmp_path / "store")
    mapping = load_service_map(str(FOCUS / "azure-map.yaml"))
    now = datetime(2025, 10, 10, tzinfo=UTC)
    ingest_file(FOCUS / "azure-2025-10-mtd-10.csv", world, dataset, now=now, service_map=mapping)
    # A file as stored before the hours column: hourly rows of another day.
    old = tmp_path / "store" / "day=2025-10-20" / "0123456789abcdef0123-0.parquet"
    old.parent.mkdir()
    pq.write_table(
        pa.table(
            {
                "ts": pa.array(
                    [datetime(2025, 10, 20, h, tzinfo=UTC) for h in (9, 10)],
                    pa.timestamp("us", tz="UTC"),
                ),
                "subscription_id": ["sub-9900-transcribe"] * 2,
                "service": ["ai.speech"] * 2,
                "operation": ["transcribe"] * 2,
                "region": ["westeurope"] * 2,
                "quantity": [100.0, 200.0],
                "unit": ["audio-minute"] * 2,
            }
        ),
        old,
    )
    engine = DuckDBEngine(threads=1)
    try:
        engine.load(Usage.from_files(dataset.files()), WorldTables.build(world, ["subscription"]))
        rows = engine.run(
            "SELECT day, SUM(quantity) AS q FROM daily WHERE unit = 'audio-minute' "
            "GROUP BY day ORDER BY day"
        )
        span = engine.run("SELECT first_day, last_day FROM span")
    finally:
        engine.close()
    first = datetime(2025, 10, 1, tzinfo=UTC).timestamp() // 86400
    assert [(r["day"] - first, r["q"]) for r in rows] == [
        *((d, 3600.0) for d in range(9)),
        (19, 300.0),
    ]
    assert span == [{"first_day": first, "last_day": first + 19}]
