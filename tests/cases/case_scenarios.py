"""Scenario helpers for the case tests (``tests`` is on sys.path): world, principals, usage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from brightline.access import Principal, Role
from brightline.cases import Signal, SourceKind
from brightline.config import Settings
from brightline.service import import_world
from brightline.service.access import Authenticator, bootstrap
from brightline.service.apikeys import create_key
from brightline.service.intake import grant_role, submit_report
from brightline.store import Store
from brightline.telemetry import METERING_SCHEMA

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
T0 = datetime(2025, 9, 1, tzinfo=UTC)
NOW = datetime(2025, 10, 1, tzinfo=UTC)
POLICY = "mass-surveillance"
#: The store's first principal, bootstrapped: admin and case admin.
ADMIN = "admin"
#: Everyone else, with the roles the admin grants them (and their keys carry).
PEOPLE: dict[str, tuple[Role, ...]] = {
    "investigator": (Role.INVESTIGATOR,),
    "reviewer": (Role.EXTERNAL_REVIEWER,),
    "approver1": (Role.APPROVER,),
    "approver2": (Role.APPROVER,),
    "auditor": (Role.AUDITOR,),
    "casey": (Role.CASE_ADMIN,),
    "keeper": (Role.ADMIN,),
    "gateway": (Role.ENFORCEMENT_POINT,),
}


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class People:
    """The people of a store, by name: ``people[name]`` is the principal the Authenticator
    makes of their key at that moment (so a changed grant shows on the next use)."""

    keys: Mapping[str, str]
    authenticator: Authenticator

    def __getitem__(self, name: str) -> Principal:
        return self.authenticator.principal_for(self.keys[name])


def with_people(store: Store) -> People:
    """Bootstrap the store's first admin (``admin``: admin and case admin), import the
    example world as it, grant every person of PEOPLE its roles and give it a key
    carrying them."""
    keys = {ADMIN: bootstrap(store, principal=ADMIN, now=T0)}
    people = People(keys, Authenticator(store, Settings()))
    admin = people[ADMIN]
    import_world(store, EXAMPLE, actor=admin, now=T0)
    for name, roles in PEOPLE.items():
        for role in roles:
            grant_role(store, name, role, actor=admin, now=T0)
        _, keys[name] = create_key(store, principal=name, roles=roles, actor=admin, now=T0)
    return people


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
        columns = [*zip(*items, strict=True), [1] * len(items)]  # hourly rows
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
    actor: Principal,
    node: str = "unit-9900",
    source: SourceKind = SourceKind.ANONYMOUS,
    name: str | None = None,
) -> str:
    from brightline.cases import ReporterIdentity

    signal = Signal(source, (node,), (POLICY,), "unit intercepts and transcribes calls")
    identity = None if name is None else ReporterIdentity(name, "secure-drop:42")
    return submit_report(store, signal, actor=actor, identity=identity, now=at(0)).ref
