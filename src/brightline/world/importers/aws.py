"""AWS Organizations → directory nodes.

The input is one JSON document bundling what the ``aws organizations`` calls return::

    {
      "Organization": {...},            # optional: `describe-organization` (the object
                                        #   under "Organization", or the whole output)
      "Roots": [{"Id": "r-ab12", "Arn": "…", "Name": "Root"}],          # `list-roots`
      "OrganizationalUnits": [{"Id": "ou-ab12-34cd56ef", "Arn": "…", "Name": "…",
                               "ParentId": "r-ab12"}],
      "Accounts": [{"Id": "111122223333", "Arn": "…", "Name": "…", "Email": "…",
                    "Status": "ACTIVE", "ParentId": "ou-ab12-34cd56ef"}],
      "Parents": {"111122223333": [{"Id": "ou-ab12-34cd56ef",
                                    "Type": "ORGANIZATIONAL_UNIT"}]},   # optional `list-parents`
      "Tags": {"111122223333": [{"Key": "cost-center", "Value": "cc-17"}]}  # optional
    }

A child's parent is its ``ParentId`` if present, else its ``Parents`` entry (the
output of ``list-parents --child-id``), else the key it is listed under in
``OrganizationalUnitsByParent`` / ``AccountsByParent`` (``{parent id: [...]}``, the
outputs of ``list-organizational-units-for-parent`` / ``list-accounts-for-parent``).

Mapping: root → kind ``customer``; organizational unit → ``unit``; account →
``subscription``. Every node gets ``attrs.provider = "aws"``, ``attrs.aws_type`` and
``attrs.arn``; roots get ``organization_id`` and ``management_account_id`` when known;
accounts get ``status`` / ``state`` / ``joined_method`` when present; tags become
``tag:<Key>`` attributes. E-mail addresses are not imported: Brightline does not need them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from brightline.errors import InvalidInputError, Problem
from brightline.limits import load_json
from brightline.world.load import NodeRecord
from brightline.world.model import AttrValue
from brightline.world.sources import validate_model

ROOT_ID: Final = re.compile(r"r-[0-9a-z]{4,32}")
OU_ID: Final = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")
ACCOUNT_ID: Final = re.compile(r"\d{12}")
ORGANIZATION_ID: Final = re.compile(r"o-[a-z0-9]{10,32}")


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


class _Parent(_Loose):
    Id: StrictStr
    Type: StrictStr = ""


class _Tag(_Loose):
    Key: StrictStr
    Value: StrictStr = ""


class _Organization(_Loose):
    Id: StrictStr | None = None
    Arn: StrictStr = ""
    MasterAccountId: StrictStr | None = None


class _Document(_Loose):
    Organization: _Organization | None = None
    Roots: list[_Root] = Field(min_length=1)
    OrganizationalUnits: list[_Unit] = Field(default_factory=list)
    OrganizationalUnitsByParent: dict[StrictStr, list[_Unit]] = Field(default_factory=dict)
    Accounts: list[_Account] = Field(default_factory=list)
    AccountsByParent: dict[StrictStr, list[_Account]] = Field(default_factory=dict)
    Parents: dict[StrictStr, list[_Parent] | dict[StrictStr, list[_Parent]]] = Field(
        default_factory=dict
    )
    Tags: dict[StrictStr, list[_Tag] | dict[StrictStr, list[_Tag]]] = Field(default_factory=dict)


def aws_organizations_records(
    text: str, *, name: str = "aws-organizations.json", id_prefix: str = ""
) -> list[NodeRecord]:
    """Parse an AWS Organizations export (shape in the module docstring) into node records.

    Records come parents first. ``id_prefix`` is put before every node id. Raises
    InvalidInputError naming every problem (malformed JSON, bad ids, missing parents).
    """
    problems: list[Problem] = []
    try:
        data = load_json(text, where=name)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            Problem(f"{name}:{exc.lineno}", f"malformed JSON: {exc.msg} (column {exc.colno})")
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("Organization"), dict):
        data = {
            **data,
            "Organization": data["Organization"].get("Organization", data["Organization"]),
        }
    doc = validate_model(_Document, data, lambda loc: _where(name, loc), problems)
    if doc is None:
        raise InvalidInputError(problems)

    parents = {child: _parent_list(value) for child, value in doc.Parents.items()}
    tags = {resource: _tag_list(value) for resource, value in doc.Tags.items()}
    units: list[tuple[_Unit, str, str | None]] = [
        (u, f"OrganizationalUnits[{i}]", u.ParentId) for i, u in enumerate(doc.OrganizationalUnits)
    ]
    for unit_parent, listed_units in doc.OrganizationalUnitsByParent.items():
        units += [
            (u, f"OrganizationalUnitsByParent.{unit_parent}[{i}]", u.ParentId or unit_parent)
            for i, u in enumerate(listed_units)
        ]
    accounts: list[tuple[_Account, str, str | None]] = [
        (a, f"Accounts[{i}]", a.ParentId) for i, a in enumerate(doc.Accounts)
    ]
    for account_parent, listed_accounts in doc.AccountsByParent.items():
        accounts += [
            (a, f"AccountsByParent.{account_parent}[{i}]", a.ParentId or account_parent)
            for i, a in enumerate(listed_accounts)
        ]

    organization_id = doc.Organization.Id if doc.Organization else None
    management = doc.Organization.MasterAccountId if doc.Organization else None
    records: dict[str, NodeRecord] = {}
    order: list[str] = []

    def add(
        where: str, raw_id: str, pattern: re.Pattern[str], what: str, record: dict[str, Any]
    ) -> None:
        if not pattern.fullmatch(raw_id):
            problems.append(Problem(f"{name}: {where}.Id", f"{raw_id!r} is not an AWS {what} id"))
            return
        node_id = id_prefix + raw_id
        if node_id in records:
            if records[node_id].model_dump() != _record(node_id, record).model_dump():
                problems.append(
                    Problem(
                        f"{name}: {where}.Id", f"{what} {raw_id!r} is listed twice, differently"
                    )
                )
            return
        for tag in tags.get(raw_id, []):
            record["attrs"][f"tag:{tag.Key}"] = tag.Value
        try:
            records[node_id] = _record(node_id, record)
        except ValueError as exc:
            problems.append(Problem(f"{name}: {where}", str(exc)))
            return
        order.append(node_id)

    for i, root in enumerate(doc.Roots):
        attrs: dict[str, AttrValue] = {"provider": "aws", "aws_type": "root", "arn": root.Arn}
        org = organization_id or _organization_from_arn(root.Arn)
        if org:
            attrs["organization_id"] = org
        if management:
            attrs["management_account_id"] = management
        add(
            f"Roots[{i}]",
            root.Id,
            ROOT_ID,
            "root",
            {"parent": None, "kind": "customer", "name": root.Name, "attrs": attrs},
        )

    def parent_of(child: str, given: str | None, where: str) -> str | None:
        if given:
            return id_prefix + given
        listed = parents.get(child)
        if listed:
            if len(listed) != 1:
                problems.append(Problem(f"{name}: Parents.{child}", "expected exactly one parent"))
                return None
            return id_prefix + listed[0].Id
        problems.append(
            Problem(
                f"{name}: {where}",
                f"{child!r} has no parent: give ParentId, a Parents entry "
                "or list it under …ByParent",
            )
        )
        return None

    for unit, where, given in units:
        parent = parent_of(unit.Id, given, where)
        if parent is not None:
            add(
                where,
                unit.Id,
                OU_ID,
                "organizational unit",
                {
                    "parent": parent,
                    "kind": "unit",
                    "name": unit.Name,
                    "attrs": {
                        "provider": "aws",
                        "aws_type": "organizational-unit",
                        "arn": unit.Arn,
                    },
                },
            )
    for account, where, given in accounts:
        parent = parent_of(account.Id, given, where)
        if parent is None:
            continue
        attrs = {"provider": "aws", "aws_type": "account", "arn": account.Arn}
        for key, value in (
            ("status", account.Status),
            ("state", account.State),
            ("joined_method", account.JoinedMethod),
        ):
            if value is not None:
                attrs[key] = value
        add(
            where,
            account.Id,
            ACCOUNT_ID,
            "account",
            {"parent": parent, "kind": "subscription", "name": account.Name, "attrs": attrs},
        )
    if problems:
        raise InvalidInputError(problems)
    return _parents_first([records[i] for i in order])


def _record(node_id: str, fields: Mapping[str, Any]) -> NodeRecord:
    try:
        return NodeRecord.model_validate({"id": node_id, **fields})
    except ValidationError as exc:
        messages = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
        raise ValueError(f"node {node_id!r}: {messages}") from exc


def _where(name: str, loc: tuple[str | int, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return f"{name}: {path}" if path else name


def _parent_list(value: list[_Parent] | dict[str, list[_Parent]]) -> list[_Parent]:
    return value.get("Parents", []) if isinstance(value, dict) else value


def _tag_list(value: list[_Tag] | dict[str, list[_Tag]]) -> list[_Tag]:
    return value.get("Tags", []) if isinstance(value, dict) else value


def _organization_from_arn(arn: str) -> str | None:
    # arn:aws:organizations::111111111111:root/o-exampleorgid/r-examplerootid
    for part in arn.split("/"):
        if ORGANIZATION_ID.fullmatch(part):
            return part
    return None


def _parents_first(records: list[NodeRecord]) -> list[NodeRecord]:
    """Order records so that each parent precedes its children (stable otherwise)."""
    by_id = {r.id: r for r in records}
    done: set[str] = set()
    out: list[NodeRecord] = []
    for record in records:
        chain: list[NodeRecord] = []
        current: NodeRecord | None = record
        while current is not None and current.id not in done and current not in chain:
            chain.append(current)
            current = by_id.get(current.parent) if current.parent is not None else None
        for item in reversed(chain):
            done.add(item.id)
            out.append(item)
    return out
