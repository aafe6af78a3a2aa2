"""Ingesting metering files into the dataset: stream, validate, quarantine, publish.

Each file is read in batches (bounded memory); accepted rows are staged and moved into
place only when the whole file has been read, so a refused or interrupted file leaves
the dataset as it was. A file whose content (SHA-256) was ingested before is skipped:
its usage is never counted twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final, TextIO

import pyarrow as pa

from brightline.errors import InvalidInputError, Problem
from brightline.telemetry.dataset import ManifestEntry, TelemetryDataset
from brightline.telemetry.formats import BATCH_ROWS, read_metering
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
    """Ingest one file. InvalidInputError when its columns are refused (nothing stored)."""
    if not path.is_file():
        raise InvalidInputError(Problem(str(path), "file not found"))
    sha = file_sha256(path)
    ingest_id = sha[:20]
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
    # Imported here: pyarrow.dataset pulls in pandas, which detection does not need.
    import pyarrow.dataset as ds

    validator = Validator(world)
    counts: Counter[str] = Counter()
    totals = {"rows": 0, "accepted": 0}
    quarantine_path = dataset.quarantine_dir / f"{ingest_id}.jsonl"
    dataset.discard(ingest_id)
    dataset.quarantine_dir.mkdir(parents=True, exist_ok=True)

    def accepted_batches(quarantine: TextIO) -> Iterator[pa.RecordBatch]:
        for raw in read_metering(path, batch_rows=batch_rows):
            checked = validator.check(raw.batch, first_row=totals["rows"] + 1)
            totals["rows"] += raw.batch.num_rows
            totals["accepted"] += checked.accepted.num_rows
            for row in checked.quarantined:
                quarantine.write(json.dumps(row, sort_keys=True, default=str) + "\n")
            counts.update(checked.reasons())
            if progress is not None:
                progress(raw.done, raw.total)
            if checked.accepted.num_rows:
                yield checked.accepted

    try:
        with quarantine_path.open("w", encoding="utf-8") as quarantine:
            reader = pa.RecordBatchReader.from_batches(
                ACCEPTED_SCHEMA, accepted_batches(quarantine)
            )
            ds.write_dataset(
                reader,
                dataset.staging(ingest_id),
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
    except BaseException:
        dataset.discard(ingest_id)
        quarantine_path.unlink(missing_ok=True)
        raise
    dataset.publish(ingest_id)
    quarantined = sum(counts.values())
    if not quarantined:
        quarantine_path.unlink(missing_ok=True)
    dataset.record(
        ManifestEntry(
            sha256=sha,
            file=path.name,
            ingest_id=ingest_id,
            rows=totals["rows"],
            accepted=totals["accepted"],
            quarantined=quarantined,
            at=now.isoformat(),
        )
    )
    return IngestReport(
        file=str(path),
        sha256=sha,
        ingest_id=ingest_id,
        rows=totals["rows"],
        accepted=totals["accepted"],
        quarantined=dict(sorted(counts.items())),
        quarantine_file=str(quarantine_path) if quarantined else None,
    )
