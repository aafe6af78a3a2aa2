"""Google Cloud resource hierarchy (organization → folders → projects) → directory nodes.

Every JSON value in the input files is read; a list is read item by item. An item is
recognised by its fields, so the outputs below may be given in any number of files:

- ``gcloud organizations list --format=json``: ``{"name": "organizations/456",
  "displayName": "example.com", "lifecycleState": "ACTIVE", "owner":
  {"directoryCustomerId": "C03xxxx"}, "creationTime": …}``;
- ``gcloud resource-manager folders list --format=json`` (once per parent: it does not
  recurse): ``{"name": "folders/123", "parent": "organizations/456", "displayName": …,
  "lifecycleState": "ACTIVE", "createTime": …}`` (API v3 spells the state ``state``);
- ``gcloud projects list --format=json``: ``{"projectId": "my-project",
  "projectNumber": "415104041262", "name": "My Project", "parent": {"type": "folder",
  "id": "123"}, "lifecycleState": "ACTIVE", "labels": {…}, "createTime": …}``; the
  API v3 form (``"name": "projects/415104041262"``, ``"displayName"``, ``"parent":
  "folders/123"``, ``"state"``) is read too;
- a Cloud Asset Inventory export (``gcloud asset export --content-type=resource``, JSON
  Lines; or ``gcloud asset list --content-type=resource --format=json``): ``{"name":
  "//cloudresourcemanager.googleapis.com/folders/123", "asset_type"|"assetType":
  "cloudresourcemanager.googleapis.com/Folder", "resource": {"parent": …, "data": {the
  resource as above}}, "ancestors": ["folders/123", "organizations/456"]}``;
- ``gcloud asset search-all-resources --format=json`` results: ``{"name": …,
  "assetType": …, "displayName": …, "state": …, "parentFullResourceName": …}``.

Assets of other types are skipped (and counted in a note).

Mapping: organization → kind ``customer``, node id ``organizations:456``; folder →
``unit``, ``folders:123``; project → ``subscription``, its project id (what billing
exports name). Attributes: ``provider = "gcp"``, ``gcp_type``, ``gcp_name``
(``folders/123``, ``projects/415104041262``), ``project_number``, ``lifecycle_state``,
``directory_customer_id`` (organizations) and ``label:<key>`` for labels.

Projects and folders pending deletion (``DELETE_REQUESTED``, ``DELETE_IN_PROGRESS``) are
kept, marked by ``lifecycle_state``: Google can restore them for 30 days, and a
restriction on one must still hold if it is restored. They leave the directory when
they no longer appear in the exports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from brightline.errors import Problem
from brightline.world.importers.documents import Document, JsonPath, SourceText, read_documents
from brightline.world.importers.hierarchy import Hierarchy, HierarchyBuilder
from brightline.world.model import AttrValue

_SERVICE: Final = "//cloudresourcemanager.googleapis.com/"
ASSET_TYPES: Final = {
    "cloudresourcemanager.googleapis.com/Organization": "organization",
    "cloudresourcemanager.googleapis.com/Folder": "folder",
    "cloudresourcemanager.googleapis.com/Project": "project",
}
STATES: Final = frozenset(
    {
        "ACTIVE",
        "DELETE_REQUESTED",
        "DELETE_IN_PROGRESS",
        "LIFECYCLE_STATE_UNSPECIFIED",
        "STATE_UNSPECIFIED",
    }
)
PENDING_DELETE: Final = frozenset({"DELETE_REQUESTED", "DELETE_IN_PROGRESS"})
_RESOURCE_NAME: Final = re.compile(r"(organizations|folders|projects)/([0-9A-Za-z-]+)")
PROJECT_ID: Final = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_KIND_OF: Final = {"organization": "customer", "folder": "unit", "project": "subscription"}


@dataclass
class _Resource:
    type: str  # organization | folder | project
    key: str  # "organizations/456", "folders/123", or the project id
    where: str
    name: str = ""
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)  # parent name → where


class _Reader:
    def __init__(self) -> None:
        self.builder = HierarchyBuilder()
        self.problems = self.builder.problems
        self.resources: dict[str, _Resource] = {}
        self.skipped: dict[str, int] = {}

    def read(self, document: Document) -> None:
        data = document.data
        if isinstance(data, list):
            for i, item in enumerate(data):
                self._item(document, item, (i,))
        else:
            self._item(document, data, ())

    def _item(self, document: Document, item: Any, path: JsonPath) -> None:
        where = document.where(path)
        if not isinstance(item, dict):
            self.problems.append(Problem(where, "expected a JSON object"))
            return
        asset_type = item.get("assetType", item.get("asset_type"))
        if asset_type is not None:
            self._asset(document, item, path, asset_type)
            return
        name = item.get("name")
        if "projectId" in item:
            self._resource(document, "project", item, path)
        elif isinstance(name, str) and name.startswith("organizations/"):
            self._resource(document, "organization", item, path)
        elif isinstance(name, str) and name.startswith("folders/"):
            self._resource(document, "folder", item, path)
        else:
            self.problems.append(
                Problem(
                    where,
                    "not a Google Cloud organization, folder, project or asset: expected "
                    "`projectId`, `name: organizations/…` or `folders/…`, or `assetType`",
                )
            )

    def _asset(self, document: Document, item: dict[str, Any], path: JsonPath, kind: Any) -> None:
        resource_type = ASSET_TYPES.get(kind) if isinstance(kind, str) else None
        if resource_type is None:
            self.skipped[str(kind)] = self.skipped.get(str(kind), 0) + 1
            return
        resource = item.get("resource")
        data_path: JsonPath = (*path, "resource", "data")
        data = resource.get("data") if isinstance(resource, dict) else None
        if not isinstance(data, dict):
            data, data_path = {}, path
        full_name = item.get("name")
        relative = _relative(full_name)
        if relative is None:
            self.problems.append(
                Problem(
                    document.where((*path, "name")),
                    f"{full_name!r} is not a Resource Manager name "
                    "(//cloudresourcemanager.googleapis.com/folders/123)",
                )
            )
            return
        merged: dict[str, Any] = {"name": relative, **data}
        if resource_type == "project":
            number = relative.split("/", 1)[1]
            merged["name"] = data.get("name", "")
            merged.setdefault("projectNumber", number if number.isdigit() else None)
            if "projectId" not in data and not number.isdigit():
                merged["projectId"] = number
            if "displayName" in item:
                merged.setdefault("displayName", item["displayName"])
        else:
            merged["name"] = relative
            if "displayName" in item:
                merged.setdefault("displayName", item["displayName"])
        if "state" in item and "lifecycleState" not in merged:
            merged.setdefault("state", item["state"])
        if "parent" not in data:
            parent = None
            if isinstance(resource, dict):
                parent = resource.get("parent")
            parent = parent or item.get("parentFullResourceName")
            ancestors = item.get("ancestors")
            if not parent and isinstance(ancestors, list) and len(ancestors) > 1:
                parent = ancestors[1]
            if parent:
                merged["parent"] = parent
        if isinstance(item.get("labels"), dict):
            merged.setdefault("labels", item["labels"])
        self._resource(document, resource_type, merged, data_path, asset_path=path)

    def _resource(
        self,
        document: Document,
        resource_type: str,
        item: dict[str, Any],
        path: JsonPath,
        *,
        asset_path: JsonPath | None = None,
    ) -> None:
        def at(*key: str | int) -> str:
            return document.where((*path, *key))

        where = document.where(asset_path if asset_path is not None else path)
        attrs: dict[str, AttrValue] = {"provider": "gcp", "gcp_type": resource_type}
        name = item.get("name")
        display = item.get("displayName")
        if resource_type == "project":
            project_id = item.get("projectId")
            if not isinstance(project_id, str) or not PROJECT_ID.fullmatch(project_id):
                self.problems.append(
                    Problem(
                        at("projectId"),
                        f"{project_id!r} is not a project id (6–30 lowercase letters, digits "
                        "and hyphens); give `gcloud projects list --format=json` or an asset "
                        "export with --content-type=resource",
                    )
                )
                return
            key = project_id
            number = item.get("projectNumber")
            if isinstance(name, str) and name.startswith("projects/"):  # API v3
                number = number or name.removeprefix("projects/")
                name = display
            elif display is not None and not name:
                name = display
            if number is not None:
                if not isinstance(number, str | int) or not str(number).isdigit():
                    self.problems.append(Problem(at("projectNumber"), "expected digits"))
                    return
                attrs["project_number"] = str(number)
                attrs["gcp_name"] = f"projects/{number}"
        else:
            prefix = "organizations/" if resource_type == "organization" else "folders/"
            if not isinstance(name, str) or not re.fullmatch(rf"{prefix}\d+", name):
                self.problems.append(
                    Problem(at("name"), f"{name!r} is not a {resource_type} name ({prefix}123)")
                )
                return
            key = name
            attrs["gcp_name"] = name
            name = display
            owner = item.get("owner")
            if isinstance(owner, dict) and isinstance(owner.get("directoryCustomerId"), str):
                attrs["directory_customer_id"] = owner["directoryCustomerId"]
        state = item.get("lifecycleState", item.get("state"))
        if state is not None:
            if state not in STATES:
                self.problems.append(
                    Problem(
                        at("lifecycleState" if "lifecycleState" in item else "state"),
                        f"unknown lifecycle state {state!r}; expected one of {sorted(STATES)}",
                    )
                )
                return
            attrs["lifecycle_state"] = state
        labels = item.get("labels")
        if isinstance(labels, dict):
            for label, value in sorted(labels.items()):
                if isinstance(value, str):
                    attrs[f"label:{label}"] = value
        parent = self._parent(item.get("parent"), at("parent"), resource_type)
        resource = self.resources.get(key)
        if resource is None:
            resource = _Resource(type=resource_type, key=key, where=where)
            self.resources[key] = resource
        resource.name = resource.name or (name if isinstance(name, str) else "")
        for attr, value in attrs.items():
            resource.attrs.setdefault(attr, value)
        if parent is not None:
            resource.parents.setdefault(parent, at("parent"))

    def _parent(self, value: Any, where: str, resource_type: str) -> str | None:
        if value is None or resource_type == "organization":
            return None
        if isinstance(value, dict):
            kind, number = value.get("type"), value.get("id")
            names = {"organization": "organizations", "folder": "folders"}
            if kind not in names or not isinstance(number, str) or not number.isdigit():
                self.problems.append(
                    Problem(
                        where,
                        f"expected {{type: organization|folder, id: digits}}, got {value!r}",
                    )
                )
                return None
            return f"{names[kind]}/{number}"
        relative = _relative(value)
        if relative is None or relative.startswith("projects/"):
            self.problems.append(
                Problem(where, f"{value!r} is not a parent (folders/123 or organizations/456)")
            )
            return None
        return relative

    def build(self, id_prefix: str) -> Hierarchy:
        pending: list[str] = []
        for resource in self.resources.values():
            parent: str | None = None
            parent_where = resource.where
            if resource.type != "organization":
                if len(resource.parents) != 1:
                    self.problems.append(
                        Problem(
                            resource.where,
                            f"{resource.key!r} has "
                            + (
                                "no parent (a project outside an organization cannot be "
                                "imported from Google Cloud's exports)"
                                if not resource.parents
                                else "different parents: "
                                + "; ".join(f"{p} ({w})" for p, w in resource.parents.items())
                            ),
                        )
                    )
                    continue
                [(given, parent_where)] = resource.parents.items()
                parent = id_prefix + _node_id(given)
            if resource.attrs.get("lifecycle_state") in PENDING_DELETE:
                pending.append(f"{resource.type} {resource.key}")
            self.builder.add(
                resource.where,
                parent_where=parent_where,
                id=id_prefix + _node_id(resource.key),
                parent=parent,
                kind=_KIND_OF[resource.type],
                name=resource.name,
                attrs=resource.attrs,
            )
        missing = sorted(
            {
                p
                for r in self.resources.values()
                for p in r.parents
                if p.startswith("organizations/") and p not in self.resources
            }
        )
        if missing:
            self.problems.append(
                Problem(
                    "",
                    f"organizations not in the input: {', '.join(missing)}; add "
                    "`gcloud organizations list --format=json`",
                )
            )
        if pending:
            self.builder.notes.append(
                f"{len(pending)} pending deletion (kept, marked lifecycle_state; Google can "
                f"restore them for 30 days): {', '.join(pending)}"
            )
        if self.skipped:
            self.builder.notes.append(
                "assets of other types skipped: "
                + ", ".join(f"{n} {t}" for t, n in sorted(self.skipped.items()))
            )
        return self.builder.build()


def read_gcp_resource_manager(sources: Sequence[SourceText], *, id_prefix: str = "") -> Hierarchy:
    """Read Google Cloud organizations, folders and projects (shapes in the module
    docstring). ``id_prefix`` is put before every node id. Raises InvalidInputError
    naming every problem with its file and JSON path."""
    reader = _Reader()
    for document in read_documents(sources):
        reader.read(document)
    return reader.build(id_prefix)


def _relative(value: Any) -> str | None:
    """``//cloudresourcemanager.googleapis.com/folders/123`` or ``folders/123`` →
    ``folders/123``; None for anything else."""
    if not isinstance(value, str):
        return None
    value = value.removeprefix(_SERVICE)
    return value if _RESOURCE_NAME.fullmatch(value) else None


def _node_id(key: str) -> str:
    """``organizations/456`` → ``organizations:456`` (``/`` is not allowed in node ids);
    a project id stays as it is."""
    return key.replace("/", ":")
