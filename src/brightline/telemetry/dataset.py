"""The stored metering dataset: Parquet files partitioned by UTC day, and its manifest.

Layout under the telemetry directory (``<data dir>/telemetry``)::

    day=2025-10-01/<ingest id>-<n>.parquet   accepted rows, in METERING_SCHEMA
    _manifest.jsonl                          one line per ingested file, by content hash
    _quarantine/<ingest id>.jsonl            rejected rows of an ingest, each with its reason
    _staging/<ingest id>/                    an ingest in progress; moved into place at the end

An ingest id is derived from the file's SHA-256, so a file's rows always land under
the same names: a retried ingest replaces its own leftovers instead of adding to them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from brightline.errors import InvalidInputError, Problem
from brightline.telemetry.schema import DAY, METERING_SCHEMA

MANIFEST: Final = "_manifest.jsonl"
QUARANTINE_DIR: Final = "_quarantine"
STAGING_DIR: Final = "_staging"
STORED_SCHEMA: Final = METERING_SCHEMA.append(pa.field(DAY, pa.string(), nullable=False))


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    sha256: str
    file: str
    ingest_id: str
    rows: int
    accepted: int
    quarantined: int
    at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "file": self.file,
            "ingest_id": self.ingest_id,
            "rows": self.rows,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "at": self.at,
        }


class TelemetryDataset:
    """The dataset directory. Creating the object touches nothing on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def quarantine_dir(self) -> Path:
        return self.root / QUARANTINE_DIR

    def staging(self, ingest_id: str) -> Path:
        return self.root / STAGING_DIR / ingest_id

    def day_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.startswith(f"{DAY}="))

    def files(self) -> list[Path]:
        return [f for d in self.day_dirs() for f in sorted(d.glob("*.parquet"))]

    def is_empty(self) -> bool:
        return not self.files()

    def manifest(self) -> dict[str, ManifestEntry]:
        """Ingested files by SHA-256."""
        path = self.root / MANIFEST
        if not path.is_file():
            return {}
        entries: dict[str, ManifestEntry] = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = ManifestEntry(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as exc:
                raise InvalidInputError(Problem(f"{path}:{number}", f"bad entry: {exc}")) from exc
            entries[entry.sha256] = entry
        return entries

    def record(self, entry: ManifestEntry) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / MANIFEST).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry.to_dict(), sort_keys=True) + "\n")

    def publish(self, ingest_id: str) -> None:
        """Move a finished ingest's staged files into the day partitions.

        Leftovers of an earlier, interrupted attempt of the same ingest are removed first,
        so that the same rows are never stored twice.
        """
        for stale in self.root.glob(f"{DAY}=*/{ingest_id}-*.parquet"):
            stale.unlink()
        staged = self.staging(ingest_id)
        if staged.is_dir():
            for day_dir in sorted(staged.iterdir()):
                target = self.root / day_dir.name
                target.mkdir(parents=True, exist_ok=True)
                for file in sorted(day_dir.glob("*.parquet")):
                    file.replace(target / file.name)
        self.discard(ingest_id)

    def discard(self, ingest_id: str) -> None:
        shutil.rmtree(self.staging(ingest_id), ignore_errors=True)
        parent = self.root / STAGING_DIR
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def day_of(partition: Path) -> str:
    return partition.name.removeprefix(f"{DAY}=")


def iter_days(dataset: TelemetryDataset, *, before: datetime) -> Iterator[tuple[str, Path]]:
    """Day partitions whose day ends at or before ``before`` (UTC), oldest first."""
    cutoff = before.strftime("%Y-%m-%d")
    for partition in dataset.day_dirs():
        day = day_of(partition)
        if day < cutoff:
            yield day, partition
