"""Ingesting metering files into the dataset: stream, validate, quarantine, publish.

Each file is read in batches (bounded memory); accepted rows are staged and moved into
place only when the whole file has been read, and the manifest entry, written last, is
what makes the ingest count. A refused file, or one whose rows, quarantine or manifest
entry cannot be written (a full disk, a read-only file system: a
:class:`~brightline.errors.StorageError` naming the file and the cause), leaves the dataset
as it was; a killed ingest leaves at most rows without an entry, which the same file's
next ingest replaces. A file whose content (SHA-256) was ingested before is skipped: its
usage is never counted twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TextIO

import pyarrow as pa

from brightline import files
from brightline.errors import InvalidInputError, Problem
from brightline.telemetry.dataset import ManifestEntry, TelemetryDataset
from brightline.telemetry.formats import BATCH_ROWS, RawBatch, read_metering
from brightline.telemetry.schema import DAY
from brightline.telemetry.validate import ACCEPTED_SCHEMA, Validator
from brightline.world import World

_ROWS_PER_GROUP: Final = 262_144


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one file gave: rows read, accepted, and quarantined by reason."""

    file: str
    sha256: str
    ingest_id: str
    rows: int = 0
    accepted: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    quarantine_file: str | None = None
    duplicate: bool = False

    @property
    def quarantined_rows(self) -> int:
        return sum(self.quarantined.values())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read: {exc}")) from exc
    return digest.hexdigest()


def ingest_file(
    path: Path,
    world: World,
    dataset: TelemetryDataset,
    *,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> IngestReport:
    """Ingest one file. InvalidInputError when its columns are refused, StorageError when
    the dataset cannot be written: either way nothing is stored."""
    if not path.is_file():
        raise InvalidInputError(Problem(str(path), "file not found"))
    sha = file_sha256(path)
    with dataset.writing():
        previous = dataset.manifest().get(sha)
        if previous is not None:
            return IngestReport(
                file=str(path),
                sha256=sha,
                ingest_id=previous.ingest_id,
                rows=previous.rows,
                accepted=0,
                duplicate=True,
            )
        ingest_id = sha[:20]
        quarantine_path = dataset.quarantine_dir / f"{ingest_id}.jsonl"
        try:
            totals, counts = _stage(
                path,
                world,
                dataset=dataset,
                ingest_id=ingest_id,
                quarantine_path=quarantine_path,
                progress=progress,
                batch_rows=batch_rows,
            )
            dataset.publish(ingest_id)
            dataset.record(
                ManifestEntry(
                    sha256=sha,
                    file=path.name,
                    ingest_id=ingest_id,
                    rows=totals["rows"],
                    accepted=totals["accepted"],
                    quarantined=sum(counts.values()),
                    at=now.isoformat(),
                )
            )
        except BaseException:
            # Clean-up never raises: the error to report is the one that stopped the ingest.
            dataset.discard(ingest_id)
            dataset.withdraw(ingest_id)
            with contextlib.suppress(OSError):
                quarantine_path.unlink(missing_ok=True)
            raise
    quarantined = sum(counts.values())
    return IngestReport(
        file=str(path),
        sha256=sha,
        ingest_id=ingest_id,
        rows=totals["rows"],
        accepted=totals["accepted"],
        quarantined=dict(sorted(counts.items())),
        quarantine_file=str(quarantine_path) if quarantined else None,
    )


def _stage(
    path: Path,
    world: World,
    *,
    dataset: TelemetryDataset,
    ingest_id: str,
    quarantine_path: Path,
    progress: Callable[[int, int], None] | None,
    batch_rows: int,
) -> tuple[dict[str, int], Counter[str]]:
    """Validate ``path`` into the ingest's staging directory, and its refused rows into
    its quarantine file (written whole, and only if a row is refused)."""
    # Imported here: pyarrow.dataset pulls in pandas, which detection does not need.
    import pyarrow.dataset as ds

    validator = Validator(world)
    counts: Counter[str] = Counter()
    totals = {"rows": 0, "accepted": 0}
    dataset.discard(ingest_id)

    with contextlib.ExitStack() as stack:
        quarantine: TextIO | None = None

        def quarantine_rows(rows: list[dict[str, Any]]) -> None:
            nonlocal quarantine
            if quarantine is None:
                quarantine = stack.enter_context(files.writing_text(quarantine_path))
            for row in rows:
                quarantine.write(json.dumps(row, sort_keys=True, default=str) + "\n")

        def accepted_batches() -> Iterator[pa.RecordBatch]:
            for raw in _read(path, batch_rows):
                checked = validator.check(raw.batch, first_row=totals["rows"] + 1)
                totals["rows"] += raw.batch.num_rows
                totals["accepted"] += checked.accepted.num_rows
                if checked.quarantined:
                    quarantine_rows(checked.quarantined)
                counts.update(checked.reasons())
                if progress is not None:
                    progress(raw.done, raw.total)
                if checked.accepted.num_rows:
                    yield checked.accepted

        staging = dataset.staging(ingest_id)
        try:
            ds.write_dataset(
                pa.RecordBatchReader.from_batches(ACCEPTED_SCHEMA, accepted_batches()),
                staging,
                format="parquet",
                # Without the Arrow schema the text columns read back as plain strings
                # (STORED_SCHEMA), though they are written from dictionaries.
                file_options=ds.ParquetFileFormat().make_write_options(store_schema=False),
                partitioning=ds.partitioning(pa.schema([(DAY, pa.string())]), flavor="hive"),
                basename_template=f"{ingest_id}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore",
                max_rows_per_group=_ROWS_PER_GROUP,
                min_rows_per_group=min(_ROWS_PER_GROUP, 65_536),
            )
        except OSError as exc:  # pyarrow writing the staged rows; reading is _read's
            raise files.storage_error(staging, exc) from exc
    return totals, counts


def _read(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    """The file's batches; a failure to read it is the input's problem, not the
    dataset's."""
    try:
        yield from read_metering(path, batch_rows=batch_rows)
    except OSError as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read: {files.cause(exc)}")) from exc
