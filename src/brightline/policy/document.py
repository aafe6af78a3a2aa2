"""The snapshot document: the JSON form of a Snapshot that snapshot files and bundles carry.

``format``, ``at``, ``world_version``, ``version`` (the Snapshot's SHA-256), the
snapshot's canonical form (``nodes``, ``services``, ``regions``, ``restrictions``, each
with the public part of its reason only) and the ``notice`` that words its denials for
customers (:mod:`brightline.policy.notice`; optional, not part of the version), from
which :func:`snapshot_from_document` rebuilds an equal Snapshot, checking its version.
Pure: no store, no I/O.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from pydantic import ValidationError

from brightline.errors import InvalidInputError, Problem
from brightline.policy.notice import Notice
from brightline.policy.restriction import format_time
from brightline.policy.snapshot import Snapshot
from brightline.world import Catalog, NodeRecord, Region, Service, World, build_directory

#: /2: restrictions carry the public part of their reason only, and a ``notice``.
SNAPSHOT_FORMAT: Final = "brightline.snapshot/2"


def snapshot_document(snapshot: Snapshot, *, at: datetime, world_version: int) -> dict[str, Any]:
    """The document of ``snapshot``, compiled from the state at ``at`` of world
    ``world_version``."""
    return {
        "format": SNAPSHOT_FORMAT,
        "at": format_time(at),
        "world_version": world_version,
        "version": snapshot.version,
        **snapshot.canonical(),
        "notice": snapshot.notice.to_json(),
    }


def snapshot_from_document(data: Any, *, name: str = "snapshot") -> Snapshot:
    """Rebuild the Snapshot of a document; InvalidInputError (located at ``name``) if it is
    malformed or its content does not hash to its ``version``."""
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise InvalidInputError(Problem(name, f"not a {SNAPSHOT_FORMAT} document"))
    try:
        records = [
            (
                i + 1,
                NodeRecord(id=n[0], parent=n[1], kind=n[2], name=n[3], attrs=n[4]),
            )
            for i, n in enumerate(data["nodes"])
        ]
        services = {
            s[0]: Service(id=s[0], operations=tuple(s[1]), tags=frozenset(s[2]))
            for s in data["services"]
        }
        regions = {r[0]: Region(id=r[0], country=r[1]) for r in data["regions"]}
        restrictions = list(data["restrictions"])
        notice = Notice.from_json(data.get("notice"), name=name)
    except (KeyError, IndexError, TypeError, ValidationError) as exc:
        raise InvalidInputError(Problem(name, f"malformed snapshot: {exc}")) from exc
    world = World(
        directory=build_directory(records, file=name),
        catalog=Catalog(services=MappingProxyType(services), regions=MappingProxyType(regions)),
    )
    snapshot = Snapshot.from_records(world, restrictions, notice=notice)
    if snapshot.version != data.get("version"):
        raise InvalidInputError(
            Problem(name, "the snapshot's content does not match its version (edited or damaged)")
        )
    return snapshot
