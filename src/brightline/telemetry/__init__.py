"""Metering telemetry: the schema, reading and validating files, the Parquet dataset and
its daily rollups, retention with holds. Only usage metadata: never customer content."""

from brightline.telemetry.dataset import ManifestEntry, TelemetryDataset
from brightline.telemetry.formats import (
    FOCUS_MAPPING,
    FileFormat,
    MeteringFile,
    file_format,
    read_metering,
)
from brightline.telemetry.ingest import IngestReport, Replaced, file_sha256, ingest_file
from brightline.telemetry.maps import BUILTIN_MAPS, ServiceMap, load_service_map
from brightline.telemetry.retention import (
    DEFAULT_RETENTION_DAYS,
    HoldsFile,
    HoldSource,
    PruneReport,
    StaticHolds,
    prune,
)
from brightline.telemetry.rollups import (
    ROLLUP_SCHEMA,
    RollupReport,
    check_rollups,
    rebuild_rollups,
    rollups_cover,
)
from brightline.telemetry.schema import COLUMNS, DAY, HOURS, MAX_CHARS, METERING_SCHEMA, Reason
from brightline.telemetry.units import DEFAULT_UNITS
from brightline.telemetry.validate import Checked, Validator

__all__ = [
    "BUILTIN_MAPS",
    "COLUMNS",
    "DAY",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_UNITS",
    "FOCUS_MAPPING",
    "HOURS",
    "MAX_CHARS",
    "METERING_SCHEMA",
    "ROLLUP_SCHEMA",
    "Checked",
    "FileFormat",
    "HoldSource",
    "HoldsFile",
    "IngestReport",
    "ManifestEntry",
    "MeteringFile",
    "PruneReport",
    "Reason",
    "Replaced",
    "RollupReport",
    "ServiceMap",
    "StaticHolds",
    "TelemetryDataset",
    "Validator",
    "check_rollups",
    "file_format",
    "file_sha256",
    "ingest_file",
    "load_service_map",
    "prune",
    "read_metering",
    "rebuild_rollups",
    "rollups_cover",
]
