"""Azure management groups → directory nodes.

The input is the JSON printed by
``az account management-group show --name GROUP --expand --recurse``: a management group
with ``id``, ``name``, ``displayName``, ``type`` (``Microsoft.Management/managementGroups``),
``tenantId``, ``details`` (with ``parent``) and ``children``; each child is a management
group of the same shape or a subscription, whose ``type`` is
``Microsoft.Management/managementGroups/subscriptions`` (older CLIs: ``/subscriptions``)
and whose ``name`` is the subscription id. The older ``childType``/``childId`` spelling
(``ManagementGroup``/``Subscription``) is accepted too. A child's ``children`` may be
``null``.

The REST API's shape (``GET …/managementGroups/{id}?$expand=children&$recurse=true``)
is read as well: the same fields under ``properties`` (``properties.displayName``,
``properties.tenantId``, ``properties.details.parent``, ``properties.children``).

A top group whose ``children`` is missing or ``null`` was exported without
``--expand --recurse`` (or ``$expand=children``): it is refused, since importing it would
remove the group's whole subtree. An empty group must say ``"children": []``.

Mapping: the group named on the command line → kind ``customer`` (a root of the
directory); every management group below it → ``unit``; every subscription →
``subscription``. Node ids are the groups' ``name`` and the subscriptions' ids (a GUID).
Attributes: ``provider = "azure"``, ``azure_type`` (``management-group`` or
``subscription``), ``azure_id`` (the full resource id) and ``tenant_id``; the top group
also gets ``azure_parent`` when ``details.parent`` names one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from brightline.errors import Problem
from brightline.world.importers.documents import Document, JsonPath, SourceText, read_documents
from brightline.world.importers.hierarchy import Hierarchy, HierarchyBuilder
from brightline.world.load import NodeRecord
from brightline.world.model import AttrValue

GROUP_TYPES: Final = frozenset(
    {"microsoft.management/managementgroups", "managementgroup", "managementgroups"}
)
SUBSCRIPTION_TYPES: Final = frozenset(
    {
        "microsoft.management/managementgroups/subscriptions",
        "/subscriptions",
        "subscription",
        "subscriptions",
    }
)
EXPORT_COMMAND: Final = "az account management-group show --name GROUP --expand --recurse"


def read_azure_management_groups(
    sources: Sequence[SourceText], *, id_prefix: str = ""
) -> Hierarchy:
    """Read management-group exports (shape in the module docstring): each JSON value in
    ``sources`` is one top group, a customer.

    ``id_prefix`` is put before every node id. Raises InvalidInputError naming every
    problem with its file and JSON path (malformed JSON, an export without children,
    unknown child types, ids that are not valid node ids, a group listed twice).
    """
    builder = HierarchyBuilder()
    for document in read_documents(sources):
        _read_top(document, builder, id_prefix)
    return builder.build()


def _read_top(document: Document, builder: HierarchyBuilder, id_prefix: str) -> None:
    data = document.data
    if isinstance(data, list):
        builder.problems.append(
            Problem(
                document.where(),
                "a list of management groups (`az account management-group list`) has no "
                f"hierarchy: export each top group with `{EXPORT_COMMAND}`",
            )
        )
        return
    if not isinstance(data, dict):
        builder.problems.append(Problem(document.where(), "expected a management group"))
        return
    data = _flatten(data)
    if _kind(data) != "group":
        builder.problems.append(
            Problem(document.where(("type",)), "the top level must be a management group")
        )
        return
    if data.get("children") is None:
        builder.problems.append(
            Problem(
                document.where(_children_key(document.data)),
                "no children: the group was exported without --expand --recurse, and "
                "importing it would remove everything below it; export it with "
                f"`{EXPORT_COMMAND}` (REST: `?$expand=children&$recurse=true`); "
                'an empty group must say "children": []',
            )
        )
        return
    tenant = data.get("tenantId")
    groups_below = 0
    groups_with_children = 0
    # Iterative walk: management-group trees may be up to 6 levels deep, but input is input.
    stack: list[tuple[dict[str, Any], str | None, JsonPath]] = [(document.data, None, ())]
    while stack:
        raw, parent, path = stack.pop()
        item = _flatten(raw)
        children_key = _children_key(raw)
        where = document.where(path)
        kind = _kind(item)
        raw_id = item.get("name")
        resource_id = item.get("id", item.get("childId"))
        if kind == "subscription" and not isinstance(raw_id, str) and isinstance(resource_id, str):
            raw_id = resource_id.rstrip("/").rsplit("/", 1)[-1]
        if kind is None:
            builder.problems.append(Problem(where, f"unknown child type {_type(item)!r}"))
            continue
        if not isinstance(raw_id, str) or not raw_id:
            builder.problems.append(Problem(where, "missing name"))
            continue
        node_id = id_prefix + raw_id
        attrs: dict[str, AttrValue] = {
            "provider": "azure",
            "azure_type": "management-group" if kind == "group" else "subscription",
        }
        if isinstance(resource_id, str):
            attrs["azure_id"] = resource_id
        if isinstance(tenant, str):
            attrs["tenant_id"] = tenant
        if parent is None:
            above = (data.get("details") or {}).get("parent") or {}
            if isinstance(above, dict) and isinstance(above.get("name"), str):
                attrs["azure_parent"] = above["name"]
        display = item.get("displayName")
        if node_id in builder:
            builder.problems.append(Problem(where, f"{raw_id!r} is listed twice"))
            continue
        builder.add(
            where,
            id=node_id,
            parent=parent,
            kind="customer" if parent is None else ("unit" if kind == "group" else "subscription"),
            name=display if isinstance(display, str) else "",
            attrs=attrs,
        )
        children = item.get("children") or []
        if not isinstance(children, list):
            builder.problems.append(Problem(where, "children must be a list"))
            continue
        if kind == "subscription" and children:
            builder.problems.append(Problem(where, "a subscription cannot have children"))
            continue
        if parent is not None and kind == "group":
            groups_below += 1
            groups_with_children += bool(children)
        for i in reversed(range(len(children))):
            child = children[i]
            child_path = (*path, *children_key, i)
            if not isinstance(child, dict):
                builder.problems.append(Problem(document.where(child_path), "expected an object"))
                continue
            stack.append((child, node_id, child_path))
    if groups_below and not groups_with_children:
        builder.notes.append(
            f"{document.name}: none of the {groups_below} management groups below "
            f"{data.get('name')!r} lists children; if they are not empty, the export lacked "
            f"--recurse: export with `{EXPORT_COMMAND}`"
        )


def _flatten(item: dict[str, Any]) -> dict[str, Any]:
    """The REST shape keeps a group's fields under ``properties``; lift them up."""
    properties = item.get("properties")
    if isinstance(properties, dict):
        return {**{k: v for k, v in item.items() if k != "properties"}, **properties}
    return item


def _children_key(item: dict[str, Any]) -> JsonPath:
    return ("properties", "children") if isinstance(item.get("properties"), dict) else ("children",)


def _type(item: dict[str, Any]) -> str:
    value = item.get("type", item.get("childType", ""))
    return value if isinstance(value, str) else ""


def _kind(item: dict[str, Any]) -> str | None:
    value = _type(item).lower()
    if value in GROUP_TYPES:
        return "group"
    if value in SUBSCRIPTION_TYPES:
        return "subscription"
    return None


def azure_management_group_records(
    text: str, *, name: str = "management-groups.json", id_prefix: str = ""
) -> list[NodeRecord]:
    """The records of :func:`read_azure_management_groups` for one file's text, parents first."""
    return list(read_azure_management_groups([SourceText(name, text)], id_prefix=id_prefix).records)
