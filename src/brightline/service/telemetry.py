"""Use cases of telemetry: ingest files into the data directory's dataset, prune it.

The world comes from ``--world DIR`` (offline) or else from the store, read lazily so
that these work without a store when a world directory is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from brightline.config import Settings
from brightline.service.offline import load_world_dir
from brightline.telemetry import (
    DEFAULT_RETENTION_DAYS,
    HoldsFile,
    HoldSource,
    IngestReport,
    PruneReport,
    RollupReport,
    TelemetryDataset,
    check_rollups,
    file_sha256,
    ingest_file,
    load_service_map,
    prune,
    rebuild_rollups,
)
from brightline.world import World

TELEMETRY_DIR: Final = "telemetry"
HOLDS_FILE: Final = "holds.jsonl"


def telemetry_dataset(settings: Settings) -> TelemetryDataset:
    return TelemetryDataset(settings.data_dir / TELEMETRY_DIR)


def resolve_world(settings: Settings, world_dir: Path | None, at: datetime) -> World:
    """The world from ``world_dir``, or the store's world in force at ``at``."""
    if world_dir is not None:
        return load_world_dir(world_dir).world
    from brightline.service.snapshots import snapshot_at

    return snapshot_at(settings, at).world


class _StoreAndFileHolds:
    """Every open case's nodes (from the store) and the manual holds in ``holds.jsonl``.

    Fails closed: if the store cannot be read, pruning stops with the error rather than
    forgetting the holds it could not see.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._file = HoldsFile(settings.data_dir / HOLDS_FILE)

    def held_nodes(self, now: datetime) -> set[str]:
        from brightline.service.cases import CaseHolds
        from brightline.store import open_store

        with open_store(self._settings) as store:
            held = CaseHolds(store).held_nodes(now)
        return held | self._file.held_nodes(now)


def holds_source(settings: Settings) -> HoldSource:
    """Holds of open cases (the store) and manual holds (``<data dir>/holds.jsonl``)."""
    return _StoreAndFileHolds(settings)


def ingest_files(
    settings: Settings,
    files: Sequence[Path],
    *,
    world: World,
    now: datetime,
    service_map: str | None = None,
    progress: Callable[[Path, int, int], None] | None = None,
) -> list[IngestReport]:
    """Ingest each file in turn, as one delivery (they never replace each other's rows);
    a refused file raises before any of its rows are stored (files before it stay
    ingested). ``service_map`` is a shipped map's name or a map file."""
    dataset = telemetry_dataset(settings)
    mapping = load_service_map(service_map) if service_map is not None else None
    delivery = file_sha256(files[0])[:20] if files and files[0].is_file() else None
    reports = []
    for path in files:
        step = None if progress is None else (lambda done, total, p=path: progress(p, done, total))
        reports.append(
            ingest_file(
                path,
                world,
                dataset,
                now=now,
                service_map=mapping,
                delivery=delivery,
                progress=step,
            )
        )
    return reports


def prune_telemetry(
    settings: Settings,
    *,
    now: datetime,
    world: Callable[[], World],
    retention_days: int = DEFAULT_RETENTION_DAYS,
    holds: HoldSource | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Apply retention; the world is loaded only when some node is under hold."""
    source = holds or holds_source(settings)
    held = source.held_nodes(now)
    return prune(
        telemetry_dataset(settings),
        now=now,
        holds=source,
        directory=world().directory if held else None,
        retention_days=retention_days,
        dry_run=dry_run,
    )


def rollup_telemetry(settings: Settings, *, rebuild: bool) -> RollupReport:
    """Rebuild the daily rollups from the raw rows (``rebuild``), or compare them."""
    dataset = telemetry_dataset(settings)
    return rebuild_rollups(dataset) if rebuild else check_rollups(dataset)
