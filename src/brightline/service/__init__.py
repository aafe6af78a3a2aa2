"""Use cases: they tie the domains, the store and the clock together.

The ways in (``cli``, ``api``, ``web``) call one of these per request and render the
result; every business rule about state lives here or in the domains.
"""

from brightline.service.database import DatabaseStatus, upgrade_database
from brightline.service.lifecycle import EventKind, Phase, RestrictionState, Status
from brightline.service.restrictions import (
    RestrictionView,
    approve_restriction,
    lift_restriction,
    list_restrictions,
    propose_restrictions,
    propose_restrictions_file,
    reject_restriction,
    show_restriction,
)
from brightline.service.snapshots import (
    StoreSnapshot,
    compile_snapshot_at,
    notice_of,
    read_snapshot,
    snapshot_at,
    write_snapshot,
)
from brightline.service.world_diff import WorldDiff, diff_worlds
from brightline.service.worlds import (
    DEFAULT_REMOVAL_LIMIT,
    CloudHierarchy,
    ExportResult,
    ImportResult,
    RemovalGuard,
    current_world,
    export_world,
    import_hierarchy,
    import_world,
)
from brightline.store import Store, StoreUnavailableError, open_store, upgrade

__all__ = [
    "DEFAULT_REMOVAL_LIMIT",
    "CloudHierarchy",
    "DatabaseStatus",
    "EventKind",
    "ExportResult",
    "ImportResult",
    "Phase",
    "RemovalGuard",
    "RestrictionState",
    "RestrictionView",
    "Status",
    "Store",
    "StoreSnapshot",
    "StoreUnavailableError",
    "WorldDiff",
    "approve_restriction",
    "compile_snapshot_at",
    "current_world",
    "diff_worlds",
    "export_world",
    "import_hierarchy",
    "import_world",
    "lift_restriction",
    "list_restrictions",
    "notice_of",
    "open_store",
    "propose_restrictions",
    "propose_restrictions_file",
    "read_snapshot",
    "reject_restriction",
    "show_restriction",
    "snapshot_at",
    "upgrade",
    "upgrade_database",
    "write_snapshot",
]
