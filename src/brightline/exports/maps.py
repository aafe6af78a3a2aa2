"""Mapping files: how Brightline's services and regions are named in AWS IAM, Azure and
Google Cloud.

A restriction names the provider's own services (``storage.blob:read``); a cloud's
policy language names its own actions (``s3:GetObject``) or resource types
(``Microsoft.Storage/storageAccounts``). A mapping file (YAML or JSON; format in
docs/exports.md) says how one becomes the other. The defaults shipped in
``brightline/exports/maps/`` cover the typical provider naming of the example catalog;
a provider's own file is laid over them service by service (``extends: none`` starts
from nothing instead).

A service that is absent from the map, or mapped to ``null``, is *not exportable*: the
exporters report it, never drop it silently. A region is written as its own id unless
the map renames it; a name that is not a valid region name of the target cloud is not
exportable either, since a condition on a misspelled region would never match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Final, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from brightline.errors import InvalidInputError, Problem
from brightline.world import SERVICE_ID_PATTERN, LocatedYaml, parse_yaml, read_yaml
from brightline.world.sources import validate_model

AWS_DEFAULT_MAP: Final = "aws-scp.yaml"
AZURE_DEFAULT_MAP: Final = "azure-policy.yaml"
GCP_DEFAULT_MAP: Final = "gcp-org-policy.yaml"

#: ``eu-west-1``, ``us-gov-west-1``, ``ap-southeast-4``, ``cn-north-1``…
AWS_REGION: Final = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
#: ``westeurope``, ``eastus2``, ``germanywestcentral``…
AZURE_LOCATION: Final = re.compile(r"[a-z][a-z0-9]{1,63}")
#: ``europe-west1``, ``us-central1``, ``northamerica-northeast2``, or a value group of
#: gcp.resourceLocations: ``in:europe-locations``, ``in:europe-west1-locations``.
GCP_LOCATION: Final = re.compile(r"[a-z]+(-[a-z]+)+[0-9]{1,2}|in:[a-z0-9-]+-locations")

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")
_ServiceId = Annotated[StrictStr, Field(pattern=rf"^{SERVICE_ID_PATTERN.pattern}$")]
_IamPrefix = Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
# An action name, wildcards allowed: relative (``Get*``) or with its prefix (``s3:Get*``).
_IamAction = Annotated[
    StrictStr, Field(pattern=r"^([a-z0-9][a-z0-9-]{0,63}:)?[A-Za-z0-9*?]{1,128}$")
]
_RelativeIamAction = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9*?]{1,128}$")]
_ResourceType = Annotated[
    StrictStr, Field(pattern=r"^[A-Za-z][A-Za-z0-9.]*/[A-Za-z0-9]+(/[A-Za-z0-9]+)*$")
]
_Kind = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
_GoogleService = Annotated[
    StrictStr, Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.googleapis\.com$")
]
_GoogleResourceType = Annotated[
    StrictStr, Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.googleapis\.com/[A-Z][A-Za-z0-9]*$")
]
# Custom constraints: "The max length of the condition is 1000 characters" (REST reference
# of organizations.customConstraints).
_Cel = Annotated[StrictStr, Field(min_length=1, max_length=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _AwsService(_Strict):
    prefixes: list[_IamPrefix] = Field(default_factory=list)
    operations: dict[_ServiceId, Annotated[list[_IamAction], Field(min_length=1)]] = Field(
        default_factory=dict
    )
    note: StrictStr = ""

    @model_validator(mode="after")
    def _complete(self) -> _AwsService:
        if not self.prefixes and not self.operations:
            raise ValueError("give prefixes, operations or both (or null: not exportable)")
        for op, actions in self.operations.items():
            if not self.prefixes and any(":" not in a for a in actions):
                raise ValueError(
                    f"operation {op!r}: an action without 'prefix:' needs the service's prefixes"
                )
        return self


class _AwsMap(_Strict):
    extends: Literal["default", "none"] = "default"
    operations: dict[_ServiceId, list[_RelativeIamAction]] = Field(default_factory=dict)
    services: dict[_ServiceId, _AwsService | None] = Field(default_factory=dict)
    regions: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class _AzureCondition(_Strict):
    types: Annotated[list[_ResourceType], Field(min_length=1)]
    kinds: list[_Kind] = Field(default_factory=list)


class _AzureService(_AzureCondition):
    operations: dict[_ServiceId, _AzureCondition] = Field(default_factory=dict)
    note: StrictStr = ""


class _AzureMap(_Strict):
    extends: Literal["default", "none"] = "default"
    services: dict[_ServiceId, _AzureService | None] = Field(default_factory=dict)
    regions: dict[StrictStr, StrictStr] = Field(default_factory=dict)


_MethodType = Literal["CREATE", "UPDATE", "DELETE"]


def _create_only() -> list[_MethodType]:
    return ["CREATE"]


class _GcpRule(_Strict):
    resource_type: _GoogleResourceType
    method_types: Annotated[list[_MethodType], Field(min_length=1)] = Field(
        default_factory=_create_only
    )
    condition: _Cel

    @model_validator(mode="after")
    def _create(self) -> _GcpRule:
        # "UPDATE only custom constraints are not supported. Use CREATE or CREATE, UPDATE."
        if "CREATE" not in self.method_types:
            raise ValueError("method_types must include CREATE (Google refuses UPDATE alone)")
        if len(set(self.method_types)) != len(self.method_types):
            raise ValueError("method_types repeats a value")
        return self


class _GcpService(_Strict):
    service: _GoogleService | None = None
    operations: dict[_ServiceId, Annotated[list[_GcpRule], Field(min_length=1)]] = Field(
        default_factory=dict
    )
    note: StrictStr = ""

    @model_validator(mode="after")
    def _complete(self) -> _GcpService:
        if self.service is None and not self.operations:
            raise ValueError("give service, operations or both (or null: not exportable)")
        return self


class _GcpMap(_Strict):
    extends: Literal["default", "none"] = "default"
    services: dict[_ServiceId, _GcpService | None] = Field(default_factory=dict)
    regions: dict[StrictStr, StrictStr] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Mapped(Generic[_T]):
    """What a map gives for some operations of one service.

    ``found``: the target's names (IAM action patterns, or Azure conditions); ``missing``:
    operation → why it cannot be expressed; ``note``: the map's remark on precision.
    """

    found: tuple[_T, ...] = ()
    missing: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    note: str = ""


@dataclass(frozen=True, slots=True)
class AwsService:
    """IAM names of one Brightline service: whole-service prefixes and per-operation actions."""

    prefixes: tuple[str, ...]
    operations: Mapping[str, tuple[str, ...]]
    note: str = ""


@dataclass(frozen=True, slots=True)
class AwsActionMap:
    """Brightline services → IAM actions, and Brightline regions → AWS region codes.

    ``services[id] is None`` records a service known to have no IAM equivalent.
    """

    operations: Mapping[str, tuple[str, ...]]
    services: Mapping[str, AwsService | None]
    regions: Mapping[str, str]

    def iam_actions(self, service: str, operations: tuple[str, ...], *, whole: bool) -> Mapped[str]:
        """IAM action patterns for some operations of a service.

        ``whole`` says the restriction covers every operation the catalog lists for the
        service: then each of its prefixes is denied entirely (``s3:*``), plus any
        operation action under another prefix. Otherwise each operation takes its own
        actions from the service entry, else the map's generic ``operations`` joined to
        each prefix; an operation with neither is missing.
        """
        entry = self.services.get(service)
        if entry is None:
            reason = "mapped to null" if service in self.services else "not in the map"
            return Mapped(missing=dict.fromkeys(operations, f"service {reason}: no IAM action"))
        actions: set[str] = set()
        missing: dict[str, str] = {}
        whole_prefixes = entry.prefixes if whole else ()
        actions.update(f"{prefix}:*" for prefix in whole_prefixes)
        for op in operations:
            names = entry.operations.get(op) or (
                self.operations.get(op, ()) if entry.prefixes else ()
            )
            if not names and not whole_prefixes:
                missing[op] = "no IAM action mapped for this operation"
            for name in names:
                full = [name] if ":" in name else [f"{p}:{name}" for p in entry.prefixes]
                # Under a prefix denied whole, an action adds nothing.
                actions.update(a for a in full if a.split(":", 1)[0] not in whole_prefixes)
        return Mapped(tuple(sorted(actions)), missing, entry.note)

    def region(self, region: str) -> str | None:
        """The AWS region code for a Brightline region, or None when it is not one."""
        code = self.regions.get(region, region)
        return code if AWS_REGION.fullmatch(code) else None


@dataclass(frozen=True, slots=True)
class AzureCondition:
    """Resource types (and, optionally, ``kind`` values) that stand for a service."""

    types: tuple[str, ...]
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AzureService:
    whole: AzureCondition
    operations: Mapping[str, AzureCondition]
    note: str = ""


@dataclass(frozen=True, slots=True)
class AzureTypeMap:
    """Brightline services → Azure resource types, and regions → Azure locations."""

    services: Mapping[str, AzureService | None]
    regions: Mapping[str, str]

    def conditions(
        self, service: str, operations: tuple[str, ...], *, whole: bool
    ) -> Mapped[AzureCondition]:
        """Resource conditions for some operations of a service.

        Azure Policy judges resources as they are created or changed, not API operations:
        only a restriction of the whole service, or an operation the map ties to resource
        types of its own (``compute.vm: create``), can be expressed.
        """
        entry = self.services.get(service)
        if entry is None:
            reason = "mapped to null" if service in self.services else "not in the map"
            return Mapped(
                missing=dict.fromkeys(operations, f"service {reason}: no Azure resource type")
            )
        if whole:
            return Mapped((entry.whole,), note=entry.note)
        found: list[AzureCondition] = []
        missing: dict[str, str] = {}
        for op in operations:
            condition = entry.operations.get(op)
            if condition is None:
                missing[op] = (
                    "Azure Policy cannot select one operation of a service, only resources "
                    "being created or changed (restrict the whole service, or map the "
                    "operation to resource types)"
                )
            elif condition not in found:
                found.append(condition)
        return Mapped(tuple(found), missing, entry.note)

    def region(self, region: str) -> str | None:
        """The Azure location for a Brightline region, or None when it is not one."""
        name = self.regions.get(region, region)
        return name if AZURE_LOCATION.fullmatch(name) else None


@dataclass(frozen=True, slots=True, order=True)
class GcpRule:
    """What Google Cloud Organization Policy can deny for a service or an operation.

    ``service`` set: the whole Google service, through ``gcp.restrictServiceUsage``.
    Otherwise a custom constraint: ``method_types`` of ``resource_type`` where the CEL
    ``condition`` holds.
    """

    service: str = ""
    resource_type: str = ""
    method_types: tuple[str, ...] = ()
    condition: str = ""


@dataclass(frozen=True, slots=True)
class GcpService:
    service: str | None
    operations: Mapping[str, tuple[GcpRule, ...]]
    note: str = ""


@dataclass(frozen=True, slots=True)
class GcpServiceMap:
    """Brightline services → Google service names and resource types; regions → locations."""

    services: Mapping[str, GcpService | None]
    regions: Mapping[str, str]

    def rules(self, service: str, operations: tuple[str, ...], *, whole: bool) -> Mapped[GcpRule]:
        """What denies some operations of a service.

        A restriction of the whole service denies its Google service name (when the map
        gives one); otherwise each operation needs custom-constraint rules of its own.
        """
        entry = self.services.get(service)
        if entry is None:
            reason = "mapped to null" if service in self.services else "not in the map"
            return Mapped(
                missing=dict.fromkeys(operations, f"service {reason}: no Google service name")
            )
        if whole and entry.service is not None:
            return Mapped((GcpRule(service=entry.service),), note=entry.note)
        found: list[GcpRule] = []
        missing: dict[str, str] = {}
        for op in operations:
            rules = entry.operations.get(op)
            if not rules:
                missing[op] = (
                    "gcp.restrictServiceUsage denies whole services, and custom constraints "
                    "judge resources being created or changed, not API calls (map the "
                    "operation to a resource type)"
                    if entry.service is not None
                    else "no Google service name for gcp.restrictServiceUsage and no "
                    "resource type for this operation"
                )
                continue
            found.extend(r for r in rules if r not in found)
        return Mapped(tuple(found), missing, entry.note)

    def region(self, region: str) -> str | None:
        """The Google Cloud location for a Brightline region, or None when it is not one."""
        name = self.regions.get(region, region)
        return name if GCP_LOCATION.fullmatch(name) else None


def load_gcp_map(path: Path | None = None) -> GcpServiceMap:
    """The default Google Cloud map, with the file at ``path`` (if any) laid over it."""
    default = _validated(_GcpMap, _source(None, GCP_DEFAULT_MAP))
    given = _validated(_GcpMap, _source(path, GCP_DEFAULT_MAP)) if path else None
    services: dict[str, GcpService | None] = {}
    regions: dict[str, str] = {}
    for layer in _layers(default, given):
        for service_id, entry in layer.services.items():
            services[service_id] = (
                None
                if entry is None
                else GcpService(
                    service=entry.service,
                    operations=MappingProxyType(
                        {
                            op: tuple(
                                GcpRule(
                                    resource_type=r.resource_type,
                                    method_types=tuple(r.method_types),
                                    condition=r.condition,
                                )
                                for r in rules
                            )
                            for op, rules in entry.operations.items()
                        }
                    ),
                    note=entry.note,
                )
            )
        regions.update(layer.regions)
    return GcpServiceMap(services=MappingProxyType(services), regions=MappingProxyType(regions))


def load_aws_map(path: Path | None = None) -> AwsActionMap:
    """The default AWS map, with the file at ``path`` (if any) laid over it.

    Raises InvalidInputError naming the file, line and field of every problem.
    """
    default = _validated(_AwsMap, _source(None, AWS_DEFAULT_MAP))
    given = _validated(_AwsMap, _source(path, AWS_DEFAULT_MAP)) if path else None
    layers = _layers(default, given)
    operations: dict[str, tuple[str, ...]] = {}
    services: dict[str, AwsService | None] = {}
    regions: dict[str, str] = {}
    for layer in layers:
        operations.update((op, tuple(names)) for op, names in layer.operations.items())
        for service_id, entry in layer.services.items():
            services[service_id] = (
                None
                if entry is None
                else AwsService(
                    prefixes=tuple(entry.prefixes),
                    operations=MappingProxyType(
                        {op: tuple(names) for op, names in entry.operations.items()}
                    ),
                    note=entry.note,
                )
            )
        regions.update(layer.regions)
    return AwsActionMap(
        operations=MappingProxyType(operations),
        services=MappingProxyType(services),
        regions=MappingProxyType(regions),
    )


def load_azure_map(path: Path | None = None) -> AzureTypeMap:
    """The default Azure map, with the file at ``path`` (if any) laid over it."""
    default = _validated(_AzureMap, _source(None, AZURE_DEFAULT_MAP))
    given = _validated(_AzureMap, _source(path, AZURE_DEFAULT_MAP)) if path else None
    layers = _layers(default, given)
    services: dict[str, AzureService | None] = {}
    regions: dict[str, str] = {}
    for layer in layers:
        for service_id, entry in layer.services.items():
            services[service_id] = (
                None
                if entry is None
                else AzureService(
                    whole=_condition(entry),
                    operations=MappingProxyType(
                        {op: _condition(c) for op, c in entry.operations.items()}
                    ),
                    note=entry.note,
                )
            )
        regions.update(layer.regions)
    return AzureTypeMap(services=MappingProxyType(services), regions=MappingProxyType(regions))


def _condition(record: _AzureCondition) -> AzureCondition:
    return AzureCondition(types=tuple(record.types), kinds=tuple(record.kinds))


def _source(path: Path | None, default: str) -> LocatedYaml:
    if path is not None:
        return read_yaml(path, name=str(path))
    text = resources.files("brightline.exports").joinpath("maps", default).read_text("utf-8")
    return parse_yaml(text, name=default)


def _validated(model: type[_M], source: LocatedYaml) -> _M:
    problems: list[Problem] = []
    data = {} if source.data is None else source.data
    record = validate_model(model, data, source.where, problems)
    if record is None:
        raise InvalidInputError(problems)
    return record


def _layers(default: _M, given: _M | None) -> list[_M]:
    if given is None:
        return [default]
    return [default, given] if getattr(given, "extends", "default") == "default" else [given]
