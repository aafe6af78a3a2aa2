"""What changes between two worlds: nodes and services added, changed, moved, removed.

Pure. A node whose parent changed is *moved* (even if other fields changed too); a node
whose kind, name or attributes changed under the same parent is *changed*. Order alone
is not a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from brightline.world import Directory, Node, Region, Service, World


@dataclass(frozen=True, slots=True)
class Change:
    """One difference; ``before``/``after`` are None for an addition/removal."""

    id: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class WorldDiff:
    added_nodes: tuple[Node, ...] = ()
    changed_nodes: tuple[Change, ...] = ()
    moved_nodes: tuple[Change, ...] = ()
    removed_nodes: tuple[Node, ...] = ()
    added_services: tuple[Service, ...] = ()
    changed_services: tuple[Change, ...] = ()
    removed_services: tuple[Service, ...] = ()
    added_regions: tuple[Region, ...] = ()
    changed_regions: tuple[Change, ...] = ()
    removed_regions: tuple[Region, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in self.__dataclass_fields__)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__}

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": {
                "added": [_node(n) for n in self.added_nodes],
                "changed": [_change(c, _node) for c in self.changed_nodes],
                "moved": [_change(c, _node) for c in self.moved_nodes],
                "removed": [_node(n) for n in self.removed_nodes],
            },
            "services": {
                "added": [_service(s) for s in self.added_services],
                "changed": [_change(c, _service) for c in self.changed_services],
                "removed": [_service(s) for s in self.removed_services],
            },
            "regions": {
                "added": [_region(r) for r in self.added_regions],
                "changed": [_change(c, _region) for c in self.changed_regions],
                "removed": [_region(r) for r in self.removed_regions],
            },
        }


def _node(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "parent": node.parent,
        "kind": node.kind,
        "name": node.name,
        "attrs": dict(sorted(node.attrs.items())),
    }


def _service(service: Service) -> dict[str, Any]:
    return {
        "id": service.id,
        "operations": list(service.operations),
        "tags": sorted(service.tags),
        **({"units": list(service.units)} if service.units else {}),
    }


def _region(region: Region) -> dict[str, Any]:
    return {"id": region.id, "country": region.country}


def _change(change: Change, render: Any) -> dict[str, Any]:
    return {"id": change.id, "before": render(change.before), "after": render(change.after)}


def diff_worlds(before: World | None, after: World) -> WorldDiff:
    """The difference from ``before`` (None: an empty world) to ``after``; sorted by id."""
    new_nodes = after.directory
    old_nodes = before.directory if before is not None else Directory({})
    added, changed, moved = [], [], []
    # Nodes are built only for what differs on the columns: most nodes do not.
    ids = new_nodes.ids
    for node_id in map(ids.__getitem__, new_nodes.differing(old_nodes)):
        new = new_nodes[node_id]
        old = old_nodes.get(node_id)
        if old is None:
            added.append(new)
        elif old.parent != new.parent:
            moved.append(Change(node_id, old, new))
        elif (old.kind, old.name, old.attrs) != (new.kind, new.name, new.attrs):
            changed.append(Change(node_id, old, new))
    # Every node of ``before`` is still here unless fewer of the new nodes were there before.
    removed = (
        [old_nodes[node_id] for node_id in set(old_nodes.ids).difference(ids)]
        if len(ids) - len(added) < len(old_nodes)
        else []
    )
    added.sort(key=_id)
    changed.sort(key=_id)
    moved.sort(key=_id)
    removed.sort(key=_id)
    old_services = dict(before.catalog.services) if before is not None else {}
    old_regions = dict(before.catalog.regions) if before is not None else {}
    s_added, s_changed, s_removed = _compare(old_services, dict(after.catalog.services))
    r_added, r_changed, r_removed = _compare(old_regions, dict(after.catalog.regions))
    return WorldDiff(
        added_nodes=tuple(added),
        changed_nodes=tuple(changed),
        moved_nodes=tuple(moved),
        removed_nodes=tuple(removed),
        added_services=tuple(s_added),
        changed_services=tuple(s_changed),
        removed_services=tuple(s_removed),
        added_regions=tuple(r_added),
        changed_regions=tuple(r_changed),
        removed_regions=tuple(r_removed),
    )


def _id(item: Node | Change) -> str:
    return item.id


def _compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[Any], list[Change], list[Any]]:
    added = [new[k] for k in sorted(new.keys() - old.keys())]
    removed = [old[k] for k in sorted(old.keys() - new.keys())]
    changed = [
        Change(k, old[k], new[k]) for k in sorted(old.keys() & new.keys()) if old[k] != new[k]
    ]
    return added, changed, removed
