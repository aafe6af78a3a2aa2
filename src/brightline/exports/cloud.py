"""What the cloud exports share: gaps, per-restriction reports and mapping actions.

An export to a cloud's own policy language can rarely say everything a restriction says.
Whatever it cannot say is a :class:`Gap`, reported in the manifest and never dropped
silently: the decision API must still cover it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from brightline import files
from brightline.exports.maps import Mapped
from brightline.policy import Restriction
from brightline.world import Catalog

_T = TypeVar("_T")


class ServiceLookup(Protocol[_T]):
    """A map's answer for some operations of one service (``whole``: all of them)."""

    def __call__(self, service: str, operations: tuple[str, ...], *, whole: bool) -> Mapped[_T]: ...


class Status(StrEnum):
    """How much of a restriction an export carries."""

    EXPORTED = "exported"
    PARTIAL = "partial"  # some actions, regions or nodes are gaps
    NOT_EXPORTED = "not-exported"  # nothing of it could be expressed
    DRY_RUN = "dry-run-not-exported"  # dry-run restrictions never deny: not exported
    OUT_OF_WINDOW = "out-of-window"  # (Azure) not in force at the export time


@dataclass(frozen=True, slots=True, order=True)
class Gap:
    """Part of a restriction that the target cannot express.

    ``item`` names the part: ``storage.archive:read`` (an action), ``region westeurope``,
    ``scope unit-7``, ``exempt sub-1``, ``account 111111111111``, ``time window``.
    """

    restriction: str
    item: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"restriction": self.restriction, "item": self.item, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RestrictionReport:
    """One restriction in an export manifest: what carries it, and what it lacks."""

    id: str
    status: Status
    targets: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "targets": list(self.targets),
            "policies": list(self.policies),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class MappedActions(Generic[_T]):
    """The target's names for every action of a restriction, plus its gaps and notes."""

    found: tuple[_T, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...]


def operations_by_service(
    restriction: Restriction, catalog: Catalog
) -> dict[str, tuple[tuple[str, ...], bool]]:
    """service → (the operations the restriction covers, whether that is all of them)."""
    covered: dict[str, set[str]] = {}
    for pattern in restriction.actions:
        for service, operation in pattern.actions(catalog):
            covered.setdefault(service, set()).add(operation)
    out: dict[str, tuple[tuple[str, ...], bool]] = {}
    for service, operations in sorted(covered.items()):
        listed = catalog.services[service].operations
        out[service] = (tuple(sorted(operations)), operations >= set(listed))
    return out


def map_actions(
    restriction: Restriction,
    catalog: Catalog,
    lookup: ServiceLookup[_T],
) -> MappedActions[_T]:
    """Map every action a restriction covers with ``lookup(service, operations, whole)``.

    Found names keep their first-seen order without repeats; every missing operation
    becomes a gap ``service:operation``.
    """
    found: dict[_T, None] = {}
    gaps: list[Gap] = []
    notes: list[str] = []
    for service, (operations, whole) in operations_by_service(restriction, catalog).items():
        mapped = lookup(service, operations, whole=whole)
        found.update(dict.fromkeys(mapped.found))
        reasons = set(mapped.missing.values())
        if whole and len(mapped.missing) == len(operations) and len(reasons) == 1:
            # The whole service, for one reason: one gap, not one per operation.
            gaps.append(Gap(restriction.id, f"{service}:*", reasons.pop()))
        else:
            gaps.extend(
                Gap(restriction.id, f"{service}:{op}", reason)
                for op, reason in sorted(mapped.missing.items())
            )
        if mapped.note and mapped.found:
            notes.append(f"{service}: {mapped.note}")
    return MappedActions(tuple(found), tuple(gaps), tuple(notes))


def map_regions(
    restriction: Restriction, rename: Callable[[str], str | None], cloud: str
) -> tuple[tuple[str, ...] | None, tuple[Gap, ...]]:
    """The target's names for a restriction's regions (None = every region), and gaps."""
    if restriction.regions is None:
        return None, ()
    names: set[str] = set()
    gaps: list[Gap] = []
    for region in sorted(restriction.regions):
        name = rename(region)
        if name is None:
            gaps.append(
                Gap(
                    restriction.id,
                    f"region {region}",
                    f"not {cloud} region name; map it under `regions:` in the map file",
                )
            )
        else:
            names.add(name)
    return tuple(sorted(names)), tuple(gaps)


def status_of(exported: bool, gaps: Iterable[Gap]) -> Status:
    if not exported:
        return Status.NOT_EXPORTED
    return Status.PARTIAL if any(True for _ in gaps) else Status.EXPORTED


def minified(document: Mapping[str, Any]) -> str:
    """JSON with no whitespace: how AWS measures a policy's size."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


def write_text(path: Path, text: str) -> Path:
    """Write ``path`` whole (:mod:`brightline.files`)."""
    return files.write_file(path, text)


def remove_stale(directory: Path, pattern: str, keep: Iterable[Path]) -> None:
    """Delete files of an earlier export (ours by name) that this export does not write.

    A stale policy left beside the new ones could be deployed by mistake.
    """
    kept = {p.resolve() for p in keep}
    if not directory.is_dir():
        return
    for path in directory.glob(pattern):
        if path.is_file() and path.resolve() not in kept:
            path.unlink()
