"""The stored metering dataset: Parquet files partitioned by UTC day, and its manifest.

Layout under the telemetry directory (``<data dir>/telemetry``)::

    day=2025-10-01/<ingest id>-<n>.parquet   accepted rows, in METERING_SCHEMA (hourly
                                             and daily rows of that UTC day)
    _manifest.jsonl                          one line per ingested file, by content hash
    _quarantine/<ingest id>.jsonl            rejected rows of an ingest, each with its reason
    _staging/<ingest id>/                    an ingest in progress; moved into place at the end
    _rollups/day=2025-10-01/<hash>.parquet   the day's rows summed per key (:mod:`.rollups`)

An ingest id is derived from the file's SHA-256, so a file's rows always land under
the same names: a retried ingest replaces its own leftovers instead of adding to them.
A later ingest replaces rows of earlier ones for the periods it covers
(:mod:`brightline.telemetry.redelivery`): earlier files are rewritten without them.

Writers (ingest, prune) hold the dataset one at a time (:meth:`TelemetryDataset.writing`)
and first clear what a killed one left (``_staging``, ``.*.partial`` files). The manifest
is a record file of :mod:`brightline.files`: an entry is there once its line ends, a torn
last line (a crash, a full disk) is ignored and cut off by the next entry.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from brightline import files
from brightline.errors import InvalidInputError, Problem
from brightline.telemetry import rollups
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
    #: The ingests of one command share a delivery (the first file's ingest id); entries
    #: written before deliveries existed have none.
    delivery: str | None = None
    #: Rows of earlier ingests this one replaced, by ingest id.
    replaced: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery,
            "replaced": self.replaced,
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

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the dataset for one writer; what a killed writer left is cleared first.

        :class:`~brightline.errors.StorageError` when the dataset's directory cannot be
        made.
        """
        with files.exclusive(self.root):
            shutil.rmtree(self.root / STAGING_DIR, ignore_errors=True)
            rolled = rollups.rollup_root(self.root)
            for directory in (
                self.root,
                self.quarantine_dir,
                *self.day_dirs(),
                rolled,
                *rolled.glob(f"{DAY}=*"),
            ):
                files.remove_partials(directory)
            # A writer killed while changing rows leaves their days' rollups pending.
            rollups.recover(self.root)
            yield

    def manifest(self) -> dict[str, ManifestEntry]:
        """Ingested files by SHA-256; a torn last line is not an entry (yet)."""
        path = self.root / MANIFEST
        entries: dict[str, ManifestEntry] = {}
        for number, line in enumerate(files.read_records(path), 1):
            if not line.strip():
                continue
            try:
                entry = ManifestEntry(**json.loads(line))
            except (ValueError, TypeError) as exc:
                raise InvalidInputError(Problem(f"{path}:{number}", f"bad entry: {exc}")) from exc
            entries[entry.sha256] = entry
        return entries

    def record(self, entry: ManifestEntry) -> None:
        """Append ``entry`` to the manifest, on disk when this returns; on failure
        (:class:`~brightline.errors.StorageError`) the manifest is as it was."""
        files.append_record(self.root / MANIFEST, json.dumps(entry.to_dict(), sort_keys=True))

    def publish(self, ingest_id: str) -> None:
        """Move a finished ingest's staged files into the day partitions, on disk when
        this returns.

        Leftovers of an earlier, interrupted attempt of the same ingest are removed first,
        so that the same rows are never stored twice. On failure
        (:class:`~brightline.errors.StorageError`) some files may have moved: undo with
        :meth:`withdraw`.
        """
        self.withdraw(ingest_id)
        staged = self.staging(ingest_id)
        moved: list[Path] = []
        if staged.is_dir():
            for day_dir in sorted(staged.iterdir()):
                target = self.root / day_dir.name
                for file in sorted(day_dir.glob("*.parquet")):
                    try:
                        target.mkdir(parents=True, exist_ok=True)
                        file.replace(target / file.name)
                    except OSError as exc:
                        raise files.storage_error(target / file.name, exc) from exc
                    moved.append(target / file.name)
        # pyarrow does not force what it writes to disk: before the manifest says the
        # rows are stored, they are.
        files.force_to_disk(moved)
        self.discard(ingest_id)

    def withdraw(self, ingest_id: str) -> None:
        """Remove an ingest's files from the day partitions (an ingest not recorded in the
        manifest: a failed or killed one). Never fails: clean-up must not hide a cause."""
        for stale in self.root.glob(f"{DAY}=*/{ingest_id}-*.parquet"):
            with contextlib.suppress(OSError):
                stale.unlink()
                if not any(stale.parent.iterdir()):
                    stale.parent.rmdir()

    def discard(self, ingest_id: str) -> None:
        """Remove an ingest's staged files. Never fails."""
        shutil.rmtree(self.staging(ingest_id), ignore_errors=True)
        parent = self.root / STAGING_DIR
        with contextlib.suppress(OSError):
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
