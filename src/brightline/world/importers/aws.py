"""AWS Organizations → directory nodes.

The input is what the ``aws organizations`` calls print (``--output json``, the
default), as they print it: one output per file, several outputs appended to one file,
or one bundle object holding several. Each JSON object is read for the keys it has:

==============================  ==========================================================
key                             printed by
==============================  ==========================================================
``Organization``                ``describe-organization``
``Roots``                       ``list-roots``
``Accounts``                    ``list-accounts``, ``list-accounts-for-parent``
``OrganizationalUnits``         ``list-organizational-units-for-parent``
``Children``                    ``list-children``
``Parents``                     ``list-parents``
``Tags``                        ``list-tags-for-resource``
``OrganizationalUnitsByParent`` a bundle: ``{parent id: [OU, …]}``
``AccountsByParent``            a bundle: ``{parent id: [account, …]}``
==============================  ==========================================================

The outputs of the calls that take an id (``--parent-id``, ``--child-id``,
``--resource-id``) do not repeat it, so the id must be in the file's name
(``children.ou-ab12-34cd56ef.json``, ``parents-111122223333.json``); in a bundle,
``Parents`` and ``Tags`` may instead map ids to outputs: ``{"111122223333": {"Parents":
[…]}}``. An output with a ``NextToken`` is one page of several and is refused.

A child's parent comes from its ``ParentId`` field, the file it was listed in, a
``Parents`` entry (type ``ROOT`` or ``ORGANIZATIONAL_UNIT``, exactly one) or a
``Children`` listing; sources that disagree are an error.

Mapping: root → kind ``customer``; organizational unit → ``unit``; account →
``subscription``. Every node gets ``attrs.provider = "aws"``, ``attrs.aws_type`` and
``attrs.arn``; roots get ``organization_id`` and ``management_account_id`` when known;
accounts get ``status`` / ``state`` / ``joined_method`` when present; tags become
``tag:<Key>`` attributes. E-mail addresses are not imported: Brightline does not need them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, StrictStr

from brightline.errors import Problem
from brightline.world.importers.documents import Document, JsonPath, SourceText, read_documents
from brightline.world.importers.hierarchy import Hierarchy, HierarchyBuilder
from brightline.world.load import NodeRecord
from brightline.world.model import AttrValue
from brightline.world.sources import validate_model

ROOT_ID: Final = re.compile(r"r-[0-9a-z]{4,32}")
OU_ID: Final = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")
ACCOUNT_ID: Final = re.compile(r"\d{12}")
ORGANIZATION_ID: Final = re.compile(r"o-[a-z0-9]{10,32}")
# An id in a file name: not glued to letters or digits on either side.
_ID_IN_NAME: Final = re.compile(
    r"(?<![0-9A-Za-z])(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32}|\d{12})(?![0-9A-Za-z])"
)
PARENT_TYPES: Final = {"ROOT": ROOT_ID, "ORGANIZATIONAL_UNIT": OU_ID}
CHILD_TYPES: Final = {"ORGANIZATIONAL_UNIT": "unit", "ACCOUNT": "account"}
KEYS: Final = (
    "Organization",
    "Roots",
    "Accounts",
    "OrganizationalUnits",
    "Children",
    "Parents",
    "Tags",
    "OrganizationalUnitsByParent",
    "AccountsByParent",
)


class _Loose(BaseModel):
    # AWS adds fields over time; unknown ones are ignored, known ones are checked.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Root(_Loose):
    Id: StrictStr
    Arn: StrictStr = ""
    Name: StrictStr = "Root"


class _Unit(_Loose):
    Id: StrictStr
    Arn: StrictStr = ""
    Name: StrictStr = ""
    ParentId: StrictStr | None = None


class _Account(_Loose):
    Id: StrictStr
    Arn: StrictStr = ""
    Name: StrictStr = ""
    Status: StrictStr | None = None
    State: StrictStr | None = None
    JoinedMethod: StrictStr | None = None
    ParentId: StrictStr | None = None


class _Link(_Loose):
    """An entry of ``list-parents`` (``Parents``) or ``list-children`` (``Children``)."""

    Id: StrictStr
    Type: StrictStr


class _Tag(_Loose):
    Key: StrictStr
    Value: StrictStr = ""


class _Organization(_Loose):
    Id: StrictStr | None = None
    Arn: StrictStr = ""
    MasterAccountId: StrictStr | None = None


@dataclass
class _Entity:
    kind: str  # root | unit | account
    id: str
    where: str  # the entry that first listed it
    name: str = ""
    arn: str = ""
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    parents: list[tuple[str, str]] = field(default_factory=list)  # (parent id, where)


class _Reader:
    def __init__(self) -> None:
        self.builder = HierarchyBuilder()
        self.problems = self.builder.problems
        self.entities: dict[str, _Entity] = {}
        self.tags: dict[str, list[_Tag]] = {}
        self.organization: _Organization | None = None

    # -- one document -----------------------------------------------------------------

    def read(self, document: Document) -> None:
        data = document.data
        if not isinstance(data, dict):
            self.problems.append(
                Problem(
                    document.where(),
                    "expected an `aws organizations` output as printed (a JSON object such as "
                    '{"Accounts": [...]}), not a bare list: drop --query',
                )
            )
            return
        if data.get("NextToken"):
            self.problems.append(
                Problem(
                    document.where(("NextToken",)),
                    "one page of several: run the command without --max-items / "
                    "--no-paginate so that it prints every page",
                )
            )
            return
        found = [key for key in KEYS if key in data]
        if not found:
            self.problems.append(
                Problem(
                    document.where(),
                    "not an `aws organizations` output: expected one of " + ", ".join(KEYS),
                )
            )
            return
        context = self._context(document)
        readers = {
            "Organization": self._read_organization,
            "Roots": self._read_roots,
            "Accounts": self._read_accounts,
            "OrganizationalUnits": self._read_units,
            "Children": self._read_children,
            "Parents": self._read_parents,
            "Tags": self._read_tags,
            "OrganizationalUnitsByParent": self._read_units_by_parent,
            "AccountsByParent": self._read_accounts_by_parent,
        }
        for key in found:
            readers[key](document, data[key], (key,), context)

    def _context(self, document: Document) -> str | None:
        """The id passed to ``--parent-id`` / ``--child-id`` / ``--resource-id``, which
        the user put in the file name (None if there is none; a problem if several)."""
        ids = set(_ID_IN_NAME.findall(document.name))
        if len(ids) > 1:
            self.problems.append(
                Problem(document.name, f"the file name holds several ids: {sorted(ids)}")
            )
            return None
        return ids.pop() if ids else None

    def _list(self, document: Document, value: Any, path: JsonPath, key: str) -> list[Any] | None:
        """A list, also when given as the whole output (``{"Accounts": [...]}``)."""
        if isinstance(value, dict) and key in value:
            value, path = value[key], (*path, key)
        if not isinstance(value, list):
            self.problems.append(Problem(document.where(path), f"expected the list of {key}"))
            return None
        return value

    def _items(
        self, document: Document, value: Any, path: JsonPath, key: str, model: type[_Loose]
    ) -> list[tuple[Any, JsonPath]]:
        items = self._list(document, value, path, key)
        if items is None:
            return []
        if isinstance(value, dict) and key in value:
            path = (*path, key)
        out = []
        for i, item in enumerate(items):
            parsed = validate_model(model, item, _at(document, (*path, i)), self.problems)
            if parsed is not None:
                out.append((parsed, (*path, i)))
        return out

    def _read_organization(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        if isinstance(value, dict) and isinstance(value.get("Organization"), dict):
            value, path = value["Organization"], (*path, "Organization")
        self.organization = validate_model(
            _Organization, value, lambda loc: document.where((*path, *loc)), self.problems
        )

    def _read_roots(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        for root, at in self._items(document, value, path, "Roots", _Root):
            self._entity(document, at, "root", root.Id, name=root.Name, arn=root.Arn)

    def _read_units(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        parent = context if context and not ACCOUNT_ID.fullmatch(context) else None
        for unit, at in self._items(document, value, path, "OrganizationalUnits", _Unit):
            entity = self._entity(document, at, "unit", unit.Id, name=unit.Name, arn=unit.Arn)
            if entity is not None and (unit.ParentId or parent):
                entity.parents.append((unit.ParentId or parent or "", document.where(at)))

    def _read_accounts(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        parent = context if context and not ACCOUNT_ID.fullmatch(context) else None
        for account, at in self._items(document, value, path, "Accounts", _Account):
            attrs: dict[str, AttrValue] = {}
            for name, given in (
                ("status", account.Status),
                ("state", account.State),
                ("joined_method", account.JoinedMethod),
            ):
                if given is not None:
                    attrs[name] = given
            entity = self._entity(
                document,
                at,
                "account",
                account.Id,
                name=account.Name,
                arn=account.Arn,
                attrs=attrs,
            )
            if entity is not None and (account.ParentId or parent):
                entity.parents.append((account.ParentId or parent or "", document.where(at)))

    def _read_units_by_parent(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        for parent, listed in self._keyed(document, value, path):
            self._read_units(document, listed, (*path, parent), parent)

    def _read_accounts_by_parent(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        for parent, listed in self._keyed(document, value, path):
            self._read_accounts(document, listed, (*path, parent), parent)

    def _read_children(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        if context is None or ACCOUNT_ID.fullmatch(context):
            self.problems.append(
                Problem(
                    document.where(path),
                    "a `list-children` output does not say whose children it lists: put the "
                    "--parent-id in the file name (children.ou-ab12-34cd56ef.json)",
                )
            )
            return
        for link, at in self._items(document, value, path, "Children", _Link):
            kind = CHILD_TYPES.get(link.Type)
            if kind is None:
                self.problems.append(
                    Problem(
                        document.where((*at, "Type")),
                        f"{link.Type!r} is not a child type: expected ACCOUNT or "
                        "ORGANIZATIONAL_UNIT",
                    )
                )
                continue
            entity = self._entity(document, at, kind, link.Id)
            if entity is not None:
                entity.parents.append((context, document.where(at)))

    def _read_parents(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        if isinstance(value, dict) and "Parents" not in value:
            for child, listed in self._keyed(document, value, path):
                self._parents_of(document, child, listed, (*path, child))
            return
        if context is None:
            self.problems.append(
                Problem(
                    document.where(path),
                    "a `list-parents` output does not say whose parents it lists: put the "
                    "--child-id in the file name (parents-111122223333.json), or key it by "
                    'the child in a bundle ({"Parents": {"111122223333": {...}}})',
                )
            )
            return
        self._parents_of(document, context, value, path)

    def _parents_of(self, document: Document, child: str, value: Any, path: JsonPath) -> None:
        listed = value.get("Parents") if isinstance(value, dict) else value
        if isinstance(listed, list) and len(listed) != 1:
            self.problems.append(
                Problem(document.where(path), f"expected exactly one parent for {child!r}")
            )
            return
        links = self._items(document, value, path, "Parents", _Link)
        if len(links) != 1:
            return  # reported by _items
        link, at = links[0]
        pattern = PARENT_TYPES.get(link.Type)
        if pattern is None:
            self.problems.append(
                Problem(
                    document.where((*at, "Type")),
                    f"{link.Type!r} is not a parent type: expected ROOT or ORGANIZATIONAL_UNIT",
                )
            )
            return
        if not pattern.fullmatch(link.Id):
            self.problems.append(
                Problem(document.where((*at, "Id")), f"{link.Id!r} is not a {link.Type} id")
            )
            return
        pending = self.entities.get(child)
        if pending is None:
            # Parents of a child not listed (yet): keep them for when it is.
            pending = _Entity(kind="", id=child, where=document.where(path))
            self.entities[child] = pending
        pending.parents.append((link.Id, document.where(at)))

    def _read_tags(
        self, document: Document, value: Any, path: JsonPath, context: str | None
    ) -> None:
        if isinstance(value, dict) and "Tags" not in value:
            for resource, listed in self._keyed(document, value, path):
                tags = self._items(document, listed, (*path, resource), "Tags", _Tag)
                self.tags.setdefault(resource, []).extend(t for t, _ in tags)
            return
        if context is None:
            self.problems.append(
                Problem(
                    document.where(path),
                    "a `list-tags-for-resource` output does not say whose tags it lists: put "
                    "the --resource-id in the file name (tags-111122223333.json)",
                )
            )
            return
        tags = self._items(document, value, path, "Tags", _Tag)
        self.tags.setdefault(context, []).extend(t for t, _ in tags)

    def _keyed(self, document: Document, value: Any, path: JsonPath) -> list[tuple[str, Any]]:
        if not isinstance(value, dict):
            self.problems.append(Problem(document.where(path), "expected an object keyed by id"))
            return []
        return list(value.items())

    def _entity(
        self,
        document: Document,
        at: JsonPath,
        kind: str,
        raw_id: str,
        *,
        name: str = "",
        arn: str = "",
        attrs: dict[str, AttrValue] | None = None,
    ) -> _Entity | None:
        pattern, what = {
            "root": (ROOT_ID, "root"),
            "unit": (OU_ID, "organizational unit"),
            "account": (ACCOUNT_ID, "account"),
        }[kind]
        if not pattern.fullmatch(raw_id):
            self.problems.append(
                Problem(document.where((*at, "Id")), f"{raw_id!r} is not an AWS {what} id")
            )
            return None
        entity = self.entities.get(raw_id)
        if entity is None or not entity.kind:
            known = entity
            entity = _Entity(kind=kind, id=raw_id, where=document.where(at))
            if known is not None:
                entity.parents = known.parents
            self.entities[raw_id] = entity
        elif entity.kind != kind:
            self.problems.append(
                Problem(
                    document.where(at), f"{raw_id!r} is listed as a {kind} and as a {entity.kind}"
                )
            )
            return None
        if name and entity.name and name != entity.name:
            self.problems.append(
                Problem(
                    document.where((*at, "Name")),
                    f"{raw_id!r} is named {name!r} here and {entity.name!r} at {entity.where}",
                )
            )
        entity.name = entity.name or name
        entity.arn = entity.arn or arn
        for key, given in (attrs or {}).items():
            entity.attrs.setdefault(key, given)
        return entity

    # -- all documents read -----------------------------------------------------------

    def build(self, id_prefix: str) -> Hierarchy:
        organization_id = self.organization.Id if self.organization else None
        management = self.organization.MasterAccountId if self.organization else None
        if not any(e.kind == "root" for e in self.entities.values()):
            self.problems.append(
                Problem("", "no root: give the output of `aws organizations list-roots`")
            )
        for entity in self.entities.values():
            if not entity.kind:
                self.problems.append(
                    Problem(entity.where, f"parents of {entity.id!r}, which is not listed")
                )
                continue
            attrs: dict[str, AttrValue] = {
                "provider": "aws",
                "aws_type": {"root": "root", "unit": "organizational-unit"}.get(
                    entity.kind, "account"
                ),
                "arn": entity.arn,
            }
            parent: str | None = None
            parent_where = entity.where
            if entity.kind == "root":
                org = organization_id or _organization_from_arn(entity.arn)
                if org:
                    attrs["organization_id"] = org
                if management:
                    attrs["management_account_id"] = management
                if entity.name == "Root":
                    self.builder.notes.append(
                        f"customer {id_prefix + entity.id!r} has AWS's default name 'Root': "
                        "give it a name, country and sector with --attributes FILE"
                    )
            else:
                found = self._parent(entity)
                if found is None:
                    continue
                parent, parent_where = id_prefix + found[0], found[1]
            attrs.update(entity.attrs)
            for tag in self.tags.get(entity.id, []):
                attrs[f"tag:{tag.Key}"] = tag.Value
            self.builder.add(
                entity.where,
                parent_where=parent_where,
                id=id_prefix + entity.id,
                parent=parent,
                kind={"root": "customer", "unit": "unit"}.get(entity.kind, "subscription"),
                name=entity.name,
                attrs=attrs,
            )
        return self.builder.build()

    def _parent(self, entity: _Entity) -> tuple[str, str] | None:
        """The entity's parent id and where the input gives it."""
        given: dict[str, str] = {}  # parent id → the first place that says so
        for parent, where in entity.parents:
            given.setdefault(parent, where)
        if len(given) == 1:
            return next(iter(given.items()))
        if not given:
            self.problems.append(
                Problem(
                    entity.where,
                    f"{entity.id!r} has no parent: give its ParentId, list it in a file named "
                    "after its parent, or give `list-parents` or `list-children` outputs",
                )
            )
        else:
            self.problems.append(
                Problem(
                    entity.where,
                    f"{entity.id!r} has different parents: "
                    + "; ".join(f"{p} ({w})" for p, w in given.items()),
                )
            )
        return None


def read_aws_organizations(sources: Sequence[SourceText], *, id_prefix: str = "") -> Hierarchy:
    """Read ``aws organizations`` outputs (shapes in the module docstring).

    ``id_prefix`` is put before every node id. Raises InvalidInputError naming every
    problem with its file and JSON path (malformed JSON, bad ids or parent types,
    missing or disagreeing parents, truncated pages).
    """
    reader = _Reader()
    for document in read_documents(sources):
        reader.read(document)
    return reader.build(id_prefix)


def _at(document: Document, path: JsonPath) -> Callable[[JsonPath], str]:
    """Locate a pydantic error path inside the item at ``path``."""
    return lambda loc: document.where((*path, *loc))


def _organization_from_arn(arn: str) -> str | None:
    # arn:aws:organizations::111111111111:root/o-exampleorgid/r-examplerootid
    for part in arn.split("/"):
        if ORGANIZATION_ID.fullmatch(part):
            return part
    return None


def aws_organizations_records(
    text: str, *, name: str = "aws-organizations.json", id_prefix: str = ""
) -> list[NodeRecord]:
    """The records of :func:`read_aws_organizations` for one file's text, parents first."""
    return list(read_aws_organizations([SourceText(name, text)], id_prefix=id_prefix).records)
