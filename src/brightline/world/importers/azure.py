"""Azure management groups → directory nodes.

The input is the JSON printed by
``az account management-group show --name GROUP --expand --recurse``: a management group
with ``id``, ``name``, ``displayName``, ``type`` (``Microsoft.Management/managementGroups``),
``tenantId``, ``details`` (with ``parent``) and ``children``; each child is a management
group of the same shape or a subscription, whose ``type`` is
``Microsoft.Management/managementGroups/subscriptions`` (older CLIs: ``/subscriptions``)
and whose ``name`` is the subscription id. The older ``childType``/``childId`` spelling
(``ManagementGroup``/``Subscription``) is accepted too. ``children`` may be ``null``.

Mapping: the group named on the command line → kind ``customer`` (a root of the
directory); every management group below it → ``unit``; every subscription →
``subscription``. Node ids are the groups' ``name`` and the subscriptions' ids (a GUID).
Attributes: ``provider = "azure"``, ``azure_type`` (``management-group`` or
``subscription``), ``azure_id`` (the full resource id) and ``tenant_id``; the top group
also gets ``azure_parent`` when ``details.parent`` names one.
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import ValidationError

from brightline.errors import InvalidInputError, Problem
from brightline.limits import load_json
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


def azure_management_group_records(
    text: str, *, name: str = "management-groups.json", id_prefix: str = ""
) -> list[NodeRecord]:
    """Parse ``az account management-group show --expand --recurse`` JSON into node records.

    Records come parents first. ``id_prefix`` is put before every node id. Raises
    InvalidInputError naming every problem (malformed JSON, unknown child types, ids that
    are not valid node ids, a subscription or group listed twice).
    """
    try:
        data = load_json(text, where=name)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            Problem(f"{name}:{exc.lineno}", f"malformed JSON: {exc.msg} (column {exc.colno})")
        ) from exc
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise InvalidInputError(Problem(name, "expected a management group (a JSON object)"))
    if _kind(data) != "group":
        raise InvalidInputError(
            Problem(f"{name}: type", "the top level must be a management group")
        )
    tenant = data.get("tenantId")
    records: list[NodeRecord] = []
    seen: dict[str, str] = {}

    # Iterative walk: management-group trees may be up to 6 levels deep, but input is input.
    stack: list[tuple[dict[str, Any], str | None, str]] = [(data, None, "")]
    while stack:
        item, parent, path = stack.pop()
        where = f"{name}: {path or '(top)'}"
        kind = _kind(item)
        raw_id = item.get("name")
        resource_id = item.get("id", item.get("childId"))
        if kind == "subscription" and not isinstance(raw_id, str) and isinstance(resource_id, str):
            raw_id = resource_id.rstrip("/").rsplit("/", 1)[-1]
        if kind is None:
            problems.append(Problem(where, f"unknown child type {_type(item)!r}"))
            continue
        if not isinstance(raw_id, str) or not raw_id:
            problems.append(Problem(where, "missing name"))
            continue
        node_id = id_prefix + raw_id
        if node_id in seen:
            problems.append(Problem(where, f"{raw_id!r} is listed twice (also at {seen[node_id]})"))
            continue
        seen[node_id] = path or "(top)"
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
        try:
            records.append(
                NodeRecord(
                    id=node_id,
                    parent=parent,
                    kind="customer"
                    if parent is None
                    else ("unit" if kind == "group" else "subscription"),
                    name=display if isinstance(display, str) else "",
                    attrs=attrs,
                )
            )
        except ValidationError as exc:
            messages = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
            problems.append(Problem(where, f"{raw_id!r} cannot be a node id: {messages}"))
            continue
        children = item.get("children") or []
        if not isinstance(children, list):
            problems.append(Problem(where, "children must be a list"))
            continue
        if kind == "subscription" and children:
            problems.append(Problem(where, "a subscription cannot have children"))
            continue
        for i in reversed(range(len(children))):
            child = children[i]
            child_path = f"{path}.children[{i}]" if path else f"children[{i}]"
            if not isinstance(child, dict):
                problems.append(Problem(f"{name}: {child_path}", "expected an object"))
                continue
            stack.append((child, node_id, child_path))
    if problems:
        raise InvalidInputError(problems)
    return records


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
