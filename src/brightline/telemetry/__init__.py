"""Metering telemetry: the schema, reading and validating files, the Parquet dataset,
retention with holds. Only usage metadata: never customer content."""

from brightline.telemetry.dataset import ManifestEntry, TelemetryDataset
from brightline.telemetry.formats import FOCUS_MAPPING, FileFormat, file_format, read_metering
from brightline.telemetry.ingest import IngestReport, file_sha256, ingest_file
from brightline.telemetry.retention import (
    DEFAULT_RETENTION_DAYS,
    HoldsFile,
    HoldSource,
    PruneReport,
    StaticHolds,
    prune,
)
from brightline.telemetry.schema import COLUMNS, DAY, METERING_SCHEMA, Reason
from brightline.telemetry.validate import Checked, Validator

__all__ = [
    "COLUMNS",
    "DAY",
    "DEFAULT_RETENTION_DAYS",
    "FOCUS_MAPPING",
    "METERING_SCHEMA",
    "Checked",
    "FileFormat",
    "HoldSource",
    "HoldsFile",
    "IngestReport",
    "ManifestEntry",
    "PruneReport",
    "Reason",
    "StaticHolds",
    "TelemetryDataset",
    "Validator",
    "file_format",
    "file_sha256",
    "ingest_file",
    "prune",
    "read_metering",
]
