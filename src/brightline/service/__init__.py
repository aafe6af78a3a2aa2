"""Use cases: they tie the domains, the store and the clock together.

The ways in (``cli``, ``api``, ``web``) call one of these per request and render the
result; every business rule about state lives here or in the domains.

Importing this package loads none of them: each public name is imported from its module
on first use (:data:`_EXPORTS`), so that a use case that needs no database (deciding a
file of requests against world files) does not load the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from brightline.service.database import DatabaseStatus, upgrade_database
    from brightline.service.lifecycle import EventKind, Phase, RestrictionState, Status
    from brightline.service.notices import notice_of
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

#: Each public name and the module that defines it.
_EXPORTS: Final = {
    "DEFAULT_REMOVAL_LIMIT": "brightline.service.worlds",
    "CloudHierarchy": "brightline.service.worlds",
    "DatabaseStatus": "brightline.service.database",
    "EventKind": "brightline.service.lifecycle",
    "ExportResult": "brightline.service.worlds",
    "ImportResult": "brightline.service.worlds",
    "Phase": "brightline.service.lifecycle",
    "RemovalGuard": "brightline.service.worlds",
    "RestrictionState": "brightline.service.lifecycle",
    "RestrictionView": "brightline.service.restrictions",
    "Status": "brightline.service.lifecycle",
    "Store": "brightline.store",
    "StoreSnapshot": "brightline.service.snapshots",
    "StoreUnavailableError": "brightline.store",
    "WorldDiff": "brightline.service.world_diff",
    "approve_restriction": "brightline.service.restrictions",
    "compile_snapshot_at": "brightline.service.snapshots",
    "current_world": "brightline.service.worlds",
    "diff_worlds": "brightline.service.world_diff",
    "export_world": "brightline.service.worlds",
    "import_hierarchy": "brightline.service.worlds",
    "import_world": "brightline.service.worlds",
    "lift_restriction": "brightline.service.restrictions",
    "notice_of": "brightline.service.notices",
    "list_restrictions": "brightline.service.restrictions",
    "open_store": "brightline.store",
    "propose_restrictions": "brightline.service.restrictions",
    "propose_restrictions_file": "brightline.service.restrictions",
    "read_snapshot": "brightline.service.snapshots",
    "reject_restriction": "brightline.service.restrictions",
    "show_restriction": "brightline.service.restrictions",
    "snapshot_at": "brightline.service.snapshots",
    "upgrade": "brightline.store",
    "upgrade_database": "brightline.service.database",
    "write_snapshot": "brightline.service.snapshots",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
