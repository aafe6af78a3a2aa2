"""Ingesting metering files into the dataset: stream, validate, quarantine, replace, publish.

Each file is read in batches (bounded memory); accepted rows are staged and moved into
place only when the whole file has been read, and the manifest entry, written last, is
what makes the ingest count. Rows of earlier deliveries for the periods the file covers
are replaced at the same step (:mod:`brightline.telemetry.redelivery`). A refused file,
or one whose rows, quarantine, replacements or manifest entry cannot be written (a full
disk, a read-only file system: a :class:`~brightline.errors.StorageError` naming the file
and the cause), leaves the dataset as it was; a killed ingest leaves at most rows without
an entry, which the same file's next ingest replaces. A file whose content (SHA-256) was
ingested before is skipped: its usage is never counted twice.
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
from brightline.errors import InvalidInputError, Problem, StorageError
from brightline.telemetry import redelivery, rollups
from brightline.telemetry.dataset import STAGING_DIR, ManifestEntry, TelemetryDataset
from brightline.telemetry.focus import shown_columns
from brightline.telemetry.formats import BATCH_ROWS, MeteringFile, RawBatch, read_metering
from brightline.telemetry.maps import ServiceMap, unmapped_names
from brightline.telemetry.schema import DAY
from brightline.telemetry.units import DEFAULT_UNITS
from brightline.telemetry.validate import ACCEPTED_SCHEMA, Validator
from brightline.world import World

_ROWS_PER_GROUP: Final = 262_144


@dataclass(frozen=True, slots=True)
class Replaced:
    """Rows of one earlier ingest that this one replaced."""

    ingest_id: str
    file: str
    rows: int


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one file gave: rows read, accepted, skipped (charges that are not usage, by
    kind), quarantined by reason (unmapped ones also by provider name), the columns
    dropped unread, and the earlier rows it replaced."""

    file: str
    sha256: str
    ingest_id: str
    rows: int = 0
    accepted: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    quarantine_file: str | None = None
    duplicate: bool = False
    skipped: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    dropped_columns: tuple[str, ...] = ()
    absent_map_columns: tuple[str, ...] = ()
    replaced: tuple[Replaced, ...] = ()
    replaced_days: tuple[str, ...] = ()

    @property
    def quarantined_rows(self) -> int:
        return sum(self.quarantined.values())

    @property
    def skipped_rows(self) -> int:
        return sum(self.skipped.values())

    @property
    def replaced_rows(self) -> int:
        return sum(r.rows for r in self.replaced)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read: {exc}")) from exc
    return digest.hexdigest()


@dataclass(slots=True)
class _Totals:
    rows: int = 0
    accepted: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)


def ingest_file(
    path: Path,
    world: World,
    dataset: TelemetryDataset,
    *,
    now: datetime,
    service_map: ServiceMap | None = None,
    delivery: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> IngestReport:
    """Ingest one file. InvalidInputError when its columns are refused, StorageError when
    the dataset cannot be written: either way nothing is stored (and nothing replaced).

    ``delivery`` names the files ingested together (default: this file alone); a file
    replaces the rows of earlier ingests of other deliveries for the periods it covers.
    """
    if not path.is_file():
        raise InvalidInputError(Problem(str(path), "file not found"))
    sha = file_sha256(path)
    with dataset.writing():
        manifest = dataset.manifest()
        previous = manifest.get(sha)
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
        delivery = delivery or ingest_id
        same_delivery = {e.ingest_id for e in manifest.values() if e.delivery == delivery}
        quarantine_path = dataset.quarantine_dir / f"{ingest_id}.jsonl"
        units = DEFAULT_UNITS | (service_map.units if service_map is not None else frozenset())
        replacement: redelivery.Replacement | None = None
        changed: list[str] = []
        try:
            metering = _open(path, service_map, batch_rows)
            totals = _stage(
                path,
                metering,
                Validator(world, units=units),
                dataset=dataset,
                ingest_id=ingest_id,
                quarantine_path=quarantine_path,
                progress=progress,
            )
            staging_root = dataset.root / STAGING_DIR
            replacement = redelivery.plan(
                staged=dataset.staging(ingest_id),
                root=dataset.root,
                work=staging_root / f"{ingest_id}.rewritten",
                aside=staging_root / f"{ingest_id}.replaced",
                same_delivery={*same_delivery, ingest_id},
            )
            changed = sorted({*_staged_days(dataset.staging(ingest_id)), *replacement.days()})
            changed = [d.removeprefix(f"{DAY}=") for d in changed]
            # The rollups of the days this ingest changes are rewritten before the entry
            # that makes it count; a writer killed before then leaves them pending.
            rollups.mark(dataset.root, changed)
            # New rows first, then the replaced ones go: a crash in between counts a
            # period twice until the same file is ingested again, never loses it.
            dataset.publish(ingest_id)
            replacement.apply()
            rollups.refresh(dataset.root, changed)
            dataset.record(
                ManifestEntry(
                    sha256=sha,
                    file=path.name,
                    ingest_id=ingest_id,
                    rows=totals.rows,
                    accepted=totals.accepted,
                    quarantined=sum(totals.quarantined.values()),
                    at=now.isoformat(),
                    delivery=delivery,
                    replaced=replacement.removed_by_ingest(),
                )
            )
        except BaseException:
            # Clean-up never raises: the error to report is the one that stopped the ingest.
            if replacement is not None:
                replacement.undo()
                replacement.discard()
            dataset.discard(ingest_id)
            dataset.withdraw(ingest_id)
            with contextlib.suppress(OSError):
                quarantine_path.unlink(missing_ok=True)
            if changed:
                rollups.settle(dataset.root, changed)
            raise
        replacement.discard()
        # The ingest counts: a marker left behind only costs the next writer a recompute.
        with contextlib.suppress(StorageError):
            rollups.clear(dataset.root)
    names = {e.ingest_id: e.file for e in manifest.values()}
    quarantined = sum(totals.quarantined.values())
    return IngestReport(
        file=str(path),
        sha256=sha,
        ingest_id=ingest_id,
        rows=totals.rows,
        accepted=totals.accepted,
        quarantined=dict(sorted(totals.quarantined.items())),
        quarantine_file=str(quarantine_path) if quarantined else None,
        skipped=dict(sorted(totals.skipped.items())),
        unmapped=unmapped_names(totals.unmapped),
        dropped_columns=tuple(shown_columns(metering.dropped)),
        absent_map_columns=metering.absent,
        replaced=tuple(
            Replaced(ingest_id=i, file=names.get(i, "(rows kept by retention)"), rows=n)
            for i, n in replacement.removed_by_ingest().items()
        ),
        replaced_days=tuple(d.removeprefix(f"{DAY}=") for d in replacement.days()),
    )


def _open(path: Path, service_map: ServiceMap | None, batch_rows: int) -> MeteringFile:
    try:
        return read_metering(path, service_map=service_map, batch_rows=batch_rows)
    except OSError as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read: {files.cause(exc)}")) from exc


def _stage(
    path: Path,
    metering: MeteringFile,
    validator: Validator,
    *,
    dataset: TelemetryDataset,
    ingest_id: str,
    quarantine_path: Path,
    progress: Callable[[int, int], None] | None,
) -> _Totals:
    """Validate the file into the ingest's staging directory, and its refused rows into
    its quarantine file (written whole, and only if a row is refused)."""
    # Imported here: pyarrow.dataset pulls in pandas, which detection does not need.
    import pyarrow.dataset as ds

    totals = _Totals()
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
            for raw in _read(path, metering):
                checked = validator.check(
                    raw.batch, rows=raw.rows, lines=raw.lines, field_names=metering.field_names
                )
                totals.rows += raw.read
                totals.accepted += checked.accepted.num_rows
                totals.skipped.update(raw.skipped)
                totals.unmapped.update(raw.unmapped)
                if checked.quarantined:
                    quarantine_rows(checked.quarantined)
                totals.quarantined.update(checked.reasons())
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
    return totals


def _read(path: Path, metering: MeteringFile) -> Iterator[RawBatch]:
    """The file's batches; a failure to read it is the input's problem, not the
    dataset's."""
    try:
        yield from metering.batches
    except OSError as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read: {files.cause(exc)}")) from exc


def _staged_days(staged: Path) -> list[str]:
    """The ``day=…`` directories of an ingest's staged rows."""
    if not staged.is_dir():
        return []
    return sorted(d.name for d in staged.iterdir() if d.name.startswith(f"{DAY}="))
