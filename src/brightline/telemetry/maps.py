"""Service maps: from a provider's names in a FOCUS export to the catalog's.

A map is YAML::

    services:
      - match: {ServiceName: "Azure AI Speech", SkuMeter: "Speech To Text"}
        service: ai.speech
        operation: transcribe
        unit: audio-minute      # optional: the row's ConsumedUnit otherwise
        scale: 60               # optional: quantity × scale (hours → minutes)
        region: global          # optional: the row's RegionId otherwise
    accounts: {"123456789012": sub-42}   # optional: SubAccountId → node id
    regions: {"us-east-1": us-east}      # optional: RegionId → catalog region
    units: [vCPU-Hours]                  # optional: more units rows may carry

``match`` compares exact values of any columns of the export; a value containing ``*``
is a pattern (``*`` any run of characters). The first rule whose every column matches
decides the row; a row that no rule matches is quarantined as ``unmapped_service`` and
counted under its ``ServiceName`` (and ``SkuMeter``). Accounts and regions not listed
are kept as they are. The columns a map matches on are read only to choose a rule: they
are never stored.

Starter maps ship in this package (``aws``, ``azure``, ``gcp``), loaded by name.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from brightline.errors import InvalidInputError, Problem
from brightline.telemetry.schema import MAX_CHARS, MAX_MATCH_CHARS, UNIT
from brightline.world import ID_PATTERN, SERVICE_ID_PATTERN, read_yaml

MAPS_DIR: Final = Path(__file__).resolve().parent / "maps"
#: Names of the shipped starter maps, and their aliases.
BUILTIN_MAPS: Final = {"aws": "aws", "azure": "azure", "gcp": "gcp", "google": "gcp"}
_COLUMN: Final = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_SEP: Final = "\x1f"
_NULL: Final = "\x00"
#: Unmapped names reported per file, most frequent first.
MAX_UNMAPPED_NAMES: Final = 50

_Id = Annotated[StrictStr, Field(pattern=rf"^{ID_PATTERN.pattern}$")]
_ServiceId = Annotated[StrictStr, Field(pattern=rf"^{SERVICE_ID_PATTERN.pattern}$")]
_Value = Annotated[StrictStr, Field(min_length=1, max_length=MAX_MATCH_CHARS)]
_Unit = Annotated[StrictStr, Field(min_length=1, max_length=MAX_CHARS[UNIT])]


class _RuleRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match: Annotated[
        dict[Annotated[StrictStr, Field(pattern=_COLUMN)], _Value], Field(min_length=1)
    ]
    service: _ServiceId
    operation: _ServiceId
    unit: _Unit | None = None
    scale: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0
    region: _Id | None = None


class _MapRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: StrictStr | None = None
    extends: StrictStr | None = None
    services: Annotated[list[_RuleRecord], Field(max_length=10_000)] = Field(default_factory=list)
    accounts: dict[_Value, _Id] = Field(default_factory=dict)
    regions: dict[_Value, _Id] = Field(default_factory=dict)
    units: list[_Unit] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MapRule:
    match: tuple[tuple[str, str], ...]
    service: str
    operation: str
    unit: str | None = None
    scale: float = 1.0
    region: str | None = None

    def matches(self, row: Mapping[str, str | None]) -> bool:
        for column, wanted in self.match:
            value = row.get(column)
            if value is None:
                return False
            if "*" in wanted:
                if not fnmatch.fnmatchcase(value, wanted.replace("[", "[[]")):
                    return False
            elif value != wanted:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Mapped:
    """A batch's rows mapped: catalog names, the quantity's scale, and where no rule
    matched (``unmatched``, true or false per row) with counts per provider name."""

    service: pa.Array
    operation: pa.Array
    unit: pa.Array
    scale: pa.Array
    region: pa.Array
    subscription: pa.Array
    unmatched: pa.Array
    unmapped: Counter[str]


@dataclass(frozen=True, slots=True)
class ServiceMap:
    name: str
    rules: tuple[MapRule, ...]
    accounts: Mapping[str, str]
    regions: Mapping[str, str]
    units: frozenset[str]

    @property
    def columns(self) -> tuple[str, ...]:
        """The export's columns the rules read, sorted."""
        return tuple(sorted({column for rule in self.rules for column, _ in rule.match}))

    def apply(
        self,
        columns: Mapping[str, pa.Array],
        *,
        unit: pa.Array,
        region: pa.Array,
        subscription: pa.Array,
        names: tuple[str, ...],
        counted: pa.Array,
    ) -> Mapped:
        """Map one batch. ``columns`` holds each of :attr:`columns` as text (a column
        the file lacks as nulls); an unmatched row where ``counted`` is true is counted
        under its values of the ``names`` columns."""
        rows = len(unit)
        order = self.columns
        parts = [pc.fill_null(pc.cast(columns[c], pa.string()), _NULL) for c in order]
        key = pc.binary_join_element_wise(*parts, _SEP) if len(parts) > 1 else parts[0]
        encoded = pc.dictionary_encode(key)
        chosen: list[int | None] = []
        for distinct in encoded.dictionary.to_pylist():
            values = distinct.split(_SEP)
            if len(values) != len(order):
                chosen.append(None)
                continue
            row = {c: (None if v == _NULL else v) for c, v in zip(order, values, strict=True)}
            chosen.append(next((i for i, r in enumerate(self.rules) if r.matches(row)), None))
        rule = pc.take(pa.array(chosen, pa.int32()), encoded.indices)
        unmatched = pc.is_null(rule)

        def pick(values: list[object], kind: pa.DataType) -> pa.Array:
            return pc.take(pa.array(values, kind), rule)

        service = pick([r.service for r in self.rules], pa.string())
        operation = pick([r.operation for r in self.rules], pa.string())
        mapped_unit = pc.coalesce(pick([r.unit for r in self.rules], pa.string()), _text(unit))
        scale = pc.fill_null(pick([r.scale for r in self.rules], pa.float64()), 1.0)
        mapped_region = pc.coalesce(
            pick([r.region for r in self.rules], pa.string()), _renamed(region, self.regions)
        )
        unmapped: Counter[str] = Counter()
        counted_unmatched = pc.and_kleene(unmatched, pc.fill_null(counted, False))
        if rows and pc.any(counted_unmatched).as_py():
            shown = [pc.filter(_text(columns[n]), counted_unmatched).to_pylist() for n in names]
            for values in zip(*shown, strict=True):
                unmapped[" / ".join(_shown(v) for v in values)] += 1
        return Mapped(
            service=service,
            operation=operation,
            unit=mapped_unit,
            scale=scale,
            region=mapped_region,
            subscription=_renamed(subscription, self.accounts),
            unmatched=unmatched,
            unmapped=unmapped,
        )


def _text(array: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(array.type) or pa.types.is_large_string(array.type):
        return pc.cast(array, pa.string())
    if pa.types.is_string(array.type):
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    return pc.cast(array, pa.string())


def _renamed(array: pa.Array, names: Mapping[str, str]) -> pa.Array:
    values = _text(array)
    if not names:
        return values
    keys = pa.array(list(names), pa.string())
    index = pc.index_in(values, value_set=keys)
    return pc.coalesce(pc.take(pa.array(list(names.values()), pa.string()), index), values)


def _shown(value: str | None) -> str:
    if value is None:
        return "(empty)"
    return value if len(value) <= 64 else value[:64] + "…"


def unmapped_names(counts: Counter[str]) -> dict[str, int]:
    """The most frequent unmapped names (at most MAX_UNMAPPED_NAMES), with ``(others)``."""
    top = counts.most_common(MAX_UNMAPPED_NAMES)
    out = dict(top)
    rest = sum(counts.values()) - sum(out.values())
    if rest:
        out["(others)"] = rest
    return out


def load_service_map(spec: str, *, _seen: frozenset[str] = frozenset()) -> ServiceMap:
    """A shipped map by name (``aws``, ``azure``, ``gcp``) or a map file by path.

    A map with ``extends: NAME-OR-PATH`` (a path relative to the map) adds that map's
    rules after its own, and its accounts, regions and units to its own (its own win).
    InvalidInputError naming the file, line and key of every problem.
    """
    builtin = BUILTIN_MAPS.get(spec.lower())
    path = MAPS_DIR / f"{builtin}.yaml" if builtin is not None else Path(spec)
    if builtin is None and not path.is_file():
        raise InvalidInputError(
            Problem(
                spec,
                "no such service map: give a file or one of "
                + ", ".join(sorted(set(BUILTIN_MAPS.values()))),
            )
        )
    located = read_yaml(path, name=str(path) if builtin is None else f"{builtin}.yaml")
    try:
        record = _MapRecord.model_validate(located.data)
    except ValidationError as exc:
        raise InvalidInputError(
            [Problem(located.where(tuple(error["loc"])), error["msg"]) for error in exc.errors()]
        ) from exc
    base: ServiceMap | None = None
    if record.extends is not None:
        parent = record.extends
        if parent.lower() not in BUILTIN_MAPS and not Path(parent).is_absolute():
            parent = str(path.parent / parent)
        if parent in _seen or str(path) in _seen:
            raise InvalidInputError(Problem(located.where(("extends",)), "maps extend in a loop"))
        base = load_service_map(parent, _seen=_seen | {str(path)})
    if not record.services and base is None:
        raise InvalidInputError(Problem(located.where(("services",)), "a map needs a rule"))
    rules = tuple(
        MapRule(
            match=tuple(sorted(r.match.items())),
            service=r.service,
            operation=r.operation,
            unit=r.unit,
            scale=r.scale,
            region=r.region,
        )
        for r in record.services
    )
    if base is None:
        return ServiceMap(
            name=builtin or path.name,
            rules=rules,
            accounts=dict(record.accounts),
            regions=dict(record.regions),
            units=frozenset(record.units),
        )
    return ServiceMap(
        name=builtin or path.name,
        rules=rules + base.rules,
        accounts={**base.accounts, **record.accounts},
        regions={**base.regions, **record.regions},
        units=base.units | frozenset(record.units),
    )
