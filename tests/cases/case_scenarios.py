"""Scenario helpers for the case tests (``tests`` is on sys.path): world, principals, usage."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from brightline.cases import Role, Signal, SourceKind
from brightline.config import Settings
from brightline.service import import_world
from brightline.service.intake import grant_role, submit_report
from brightline.store import Store
from brightline.telemetry import METERING_SCHEMA

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
T0 = datetime(2025, 9, 1, tzinfo=UTC)
NOW = datetime(2025, 10, 1, tzinfo=UTC)
POLICY = "mass-surveillance"
PEOPLE = {
    "investigator": Role.INVESTIGATOR,
    "reviewer": Role.EXTERNAL_REVIEWER,
    "approver1": Role.APPROVER,
    "approver2": Role.APPROVER,
    "auditor": Role.AUDITOR,
}


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def with_people(store: Store) -> Store:
    import_world(store, EXAMPLE, actor="setup", now=T0)
    grant_role(store, "admin", Role.CASE_ADMIN, actor="admin", now=T0)
    for name, role in PEOPLE.items():
        grant_role(store, name, role, actor="admin", now=T0)
    return store


def write_usage(
    settings: Settings, rows: Iterable[tuple[datetime, str, str, str, str, float, str]]
) -> None:
    """Write metering rows into the dataset layout (``telemetry/day=…/*.parquet``)."""
    by_day: dict[str, list[tuple[datetime, str, str, str, str, float, str]]] = {}
    for row in rows:
        by_day.setdefault(row[0].strftime("%Y-%m-%d"), []).append(row)
    for day, items in by_day.items():
        target = settings.data_dir / "telemetry" / f"day={day}"
        target.mkdir(parents=True, exist_ok=True)
        columns = list(zip(*items, strict=True))
        table = pa.Table.from_arrays(
            [pa.array(c, f.type) for c, f in zip(columns, METERING_SCHEMA, strict=True)],
            schema=METERING_SCHEMA,
        )
        pq.write_table(table, target / "test-0.parquet")


def september_usage(settings: Settings) -> None:
    """Hourly usage over the 20 days before NOW for a few subscriptions."""
    rows = []
    for day in range(20):
        ts = NOW - timedelta(days=day + 1)
        rows += [
            (ts, "sub-9900-ingest", "storage.blob", "write", "westeurope", 500.0, "GB"),
            (
                ts,
                "sub-9900-transcribe",
                "ai.speech",
                "transcribe",
                "westeurope",
                900.0,
                "audio-minute",
            ),
            (ts, "sub-9900-transcribe", "ai.speech", "transcribe", "eastus", 10.0, "audio-minute"),
            (ts, "sub-9900-rescue", "storage.blob", "write", "westeurope", 5.0, "GB"),
            (ts, "sub-hq-mail", "compute.vm", "start", "westeurope", 3.0, "requests"),
        ]
    write_usage(settings, rows)


def report(
    store: Store,
    *,
    node: str = "unit-9900",
    source: SourceKind = SourceKind.ANONYMOUS,
    name: str | None = None,
) -> str:
    from brightline.cases import ReporterIdentity

    signal = Signal(source, (node,), (POLICY,), "unit intercepts and transcribes calls")
    identity = None if name is None else ReporterIdentity(name, "secure-drop:42")
    return submit_report(store, signal, identity=identity, now=at(0)).ref
