"""Parsing ``restrictions.yaml`` and checking restrictions against a world.

Errors name the file, the line and the restriction id and field, and every problem
found is reported at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError

from brightline.errors import InvalidInputError, Problem
from brightline.policy.restriction import ActionPattern, Mode, Restriction
from brightline.world import ID_PATTERN, Catalog, LocatedYaml, World, parse_yaml, read_yaml
from brightline.world.sources import bulk_allocation, pydantic_problems, validate_model

RESTRICTIONS_FILE = "restrictions.yaml"

Id = Annotated[StrictStr, Field(pattern=rf"^{ID_PATTERN.pattern}$")]


def _to_datetime(value: Any) -> Any:
    """Accept YAML timestamps, dates (midnight UTC) and RFC 3339 strings; refuse naive times."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"not an RFC 3339 time: {value!r}") from exc
    else:
        raise ValueError(f"expected a time, got {type(value).__name__}")
    if dt.tzinfo is None:
        raise ValueError("time must carry a time zone (for example 2025-09-25T00:00:00Z)")
    return dt.astimezone(UTC)


Time = Annotated[datetime, BeforeValidator(_to_datetime)]
ReasonValue = Annotated[StrictStr, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]


class RestrictionRecord(BaseModel):
    """One restriction as written in ``restrictions.yaml`` or a proposal file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    scope: Id
    actions: Annotated[list[StrictStr], Field(min_length=1)]
    regions: Annotated[list[Id], Field(min_length=1)] | None = None
    exempt: list[Id] = Field(default_factory=list)
    not_before: Time | None = None
    not_after: Time | None = None
    mode: Mode = Mode.ENFORCE
    reason: dict[StrictStr, ReasonValue] = Field(default_factory=dict)


def load_restrictions(path: Path, world: World) -> tuple[Restriction, ...]:
    """Load a restrictions file (a YAML list) and check it against ``world``."""
    if not path.is_file():
        raise InvalidInputError(Problem(str(path), "file not found"))
    with bulk_allocation():
        return parse_restrictions(read_yaml(path), world)


def parse_restrictions_text(text: str, world: World, *, name: str) -> tuple[Restriction, ...]:
    with bulk_allocation():
        return parse_restrictions(parse_yaml(text, name=name), world)


def parse_restrictions(source: LocatedYaml, world: World) -> tuple[Restriction, ...]:
    """Every restriction of a parsed file, or InvalidInputError listing every problem.

    The file is a list of restrictions, or one restriction as a mapping (a proposal file);
    either way each problem names the line of the value at fault.
    """
    data = source.data
    if data is None:
        return ()
    items: list[tuple[Any, Callable[[Sequence[str | int]], str], str]]
    if isinstance(data, dict):
        items = [(data, source.where, "")]  # one restriction: its fields are at the top
    elif isinstance(data, list):
        items = [(item, _item_where(source, i), f"item {i}") for i, item in enumerate(data)]
    else:
        raise InvalidInputError(Problem(source.where(()), "expected a list of restrictions"))
    problems: list[Problem] = []
    restrictions: list[Restriction] = []
    seen: dict[str, str] = {}
    actions: dict[str, tuple[ActionPattern | None, str | None]] = {}
    for item, where, label in items:
        record, failed = _validate_record(item, where, problems)
        if record is None:
            continue
        if "id" not in failed:
            if record.id in seen:
                problems.append(
                    Problem(
                        where(("id",)),
                        f"duplicate restriction id {record.id!r} (first at {seen[record.id]})",
                    )
                )
                continue
            seen[record.id] = label
        restriction = build_restriction(
            record, world, problems, where, unchecked=failed, actions=actions
        )
        if restriction is not None:
            restrictions.append(restriction)
    if problems:
        raise InvalidInputError(problems)
    return tuple(restrictions)


def _item_where(source: LocatedYaml, item: int) -> Callable[[Sequence[str | int]], str]:
    return lambda loc: source.where((item, *loc))


#: Valid values standing in for required fields that failed validation, so that the
#: restriction's other fields can still be checked against the world; the fields they
#: stand in for are never checked or built.
_STAND_INS: Final[dict[str, Any]] = {"id": "-", "scope": "-", "actions": ["*:*"]}


def _validate_record(
    item: Any, where: Callable[[Sequence[str | int]], str], problems: list[Problem]
) -> tuple[RestrictionRecord | None, frozenset[str]]:
    """The record and the set of its fields that failed validation (problems appended).

    One bad field (a time without a zone, a misspelt mode) must not hide what is wrong
    with the others: when fields fail, the record is validated again without them, and
    returned with them named, for :func:`build_restriction` to check the rest. None when
    the item is not a mapping or nothing can be salvaged.
    """
    try:
        return RestrictionRecord.model_validate(item), frozenset()
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, where))
        failed = frozenset(str(error["loc"][0]) for error in exc.errors() if error["loc"])
    if not isinstance(item, dict):
        return None, failed
    rest = {k: v for k, v in item.items() if k not in failed}
    stand_ins = {k: v for k, v in _STAND_INS.items() if k not in rest}
    salvaged = validate_model(RestrictionRecord, rest | stand_ins, where, [])
    return salvaged, failed | frozenset(stand_ins)


def build_restriction(
    record: RestrictionRecord,
    world: World,
    problems: list[Problem],
    where: Callable[[Sequence[str | int]], str] = lambda loc: ".".join(map(str, loc)),
    *,
    unchecked: frozenset[str] = frozenset(),
    actions: dict[str, tuple[ActionPattern | None, str | None]] | None = None,
) -> Restriction | None:
    """Check a parsed record against the world; append problems and return None if any.

    ``unchecked`` names fields that already failed validation (their values stand in):
    they are neither checked nor reported again. ``actions``, when given, keeps what
    :func:`_action` found for each action text, for the next records of the same file.
    """
    start = len(problems)
    label = "restriction" if "id" in unchecked else f"restriction {record.id!r}"

    def fail(loc: Sequence[str | int], message: str) -> None:
        problems.append(Problem(where(loc), f"{label}: {message}"))

    directory, catalog = world.directory, world.catalog
    scope_known = "scope" not in unchecked and record.scope in directory
    if "scope" not in unchecked and not scope_known:
        fail(("scope",), f"unknown node {record.scope!r}")
    patterns: list[ActionPattern] = []
    for j, text in enumerate(() if "actions" in unchecked else record.actions):
        known = actions.get(text) if actions is not None else None
        if known is None:
            known = _action(text, catalog)
            if actions is not None:
                actions[text] = known
        pattern, problem = known
        if problem is not None:
            fail(("actions", j), problem)
        if pattern is not None:
            patterns.append(pattern)
    for j, region in enumerate(record.regions or ()):
        if region not in catalog.regions:
            fail(("regions", j), f"unknown region {region!r}")
    for j, node in enumerate(record.exempt):
        if node not in directory:
            fail(("exempt", j), f"unknown node {node!r}")
        elif scope_known and (node == record.scope or not directory.is_within(node, record.scope)):
            fail(("exempt", j), f"exempt node {node!r} is not below scope {record.scope!r}")
    if (
        record.not_before is not None
        and record.not_after is not None
        and record.not_after <= record.not_before
    ):
        fail(("not_after",), "not_after must be later than not_before")
    if len(problems) > start or unchecked:
        return None
    return Restriction(
        id=record.id,
        scope=record.scope,
        actions=tuple(dict.fromkeys(patterns)),
        regions=frozenset(record.regions) if record.regions is not None else None,
        exempt=tuple(sorted(set(record.exempt))),
        not_before=record.not_before,
        not_after=record.not_after,
        mode=record.mode,
        reason=MappingProxyType(dict(sorted(record.reason.items()))),
    )


def _action(text: str, catalog: Catalog) -> tuple[ActionPattern | None, str | None]:
    """The pattern of an action text and the problem with it, if any (checked against
    the catalog). A text that does not parse has no pattern."""
    try:
        pattern = ActionPattern.parse(text)
    except InvalidInputError as exc:
        return None, str(exc)
    services = catalog.services_matching(pattern.service)
    if not services:
        return pattern, f"{text!r} matches no service in the catalog"
    if not pattern.actions(catalog):
        return pattern, (
            f"{text!r}: unknown operation {pattern.operation!r} "
            f"for {', '.join(services[:5])}{'…' if len(services) > 5 else ''}"
        )
    return pattern, None


def restriction_from_mapping(data: dict[str, Any], world: World) -> Restriction:
    """Validate one restriction given as plain data (from the store or an API body)."""
    problems: list[Problem] = []
    record, failed = _validate_record(data, lambda loc: ".".join(map(str, loc)), problems)
    restriction = (
        build_restriction(record, world, problems, unchecked=failed) if record is not None else None
    )
    if restriction is None:  # every problem was appended
        raise InvalidInputError(problems)
    return restriction
