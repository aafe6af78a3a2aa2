"""The values a transparency report is made of: public entries, a period, tables.

A *table* holds exact figures, computed from the public forms of ledger entries; a
*published table* is what the report shows once small counts are suppressed (see
:mod:`brightline.transparency.suppression`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final

from brightline.errors import InvalidInputError, Problem
from brightline.limits import load_json

#: A published cell: a number, a suppression marker (a string) or nothing (no data).
PublishedCell = int | float | str | None

#: Fields of a restriction that a deployment may list for the restrictions in force: what
#: an enforcement act's public form carries (``brightline.disclosure``). ``customer``
#: exists in a public form only where the deployment publishes names.
LISTABLE_FIELDS: Final = (
    "policy",
    "mode",
    "sector",
    "country",
    "scope_kind",
    "service_tags",
    "regions",
    "not_before",
    "not_after",
    "customer",
)
DEFAULT_FIELDS: Final = ("policy", "sector", "country", "service_tags")


def parse_time(text: str) -> datetime:
    """An RFC 3339 UTC time as the ledger writes it (``…Z``)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(f"{text!r} is not a time") from exc
    if value.tzinfo is None:
        raise InvalidInputError(f"{text!r} has no time zone")
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class PublicEntry:
    """One logged entry, read back from its public form: all a report may count."""

    index: int
    data: bytes
    event_type: str
    time: datetime
    public: Mapping[str, Any]

    @classmethod
    def parse(cls, index: int, data: bytes) -> PublicEntry:
        """Raises :class:`InvalidInputError` if ``data`` is not a public form."""
        try:
            form = load_json(data, where=f"entry {index}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"entry {index} is not a ledger entry: {exc}") from exc
        if not isinstance(form, dict) or not {"type", "time", "public"} <= form.keys():
            raise InvalidInputError(f"entry {index} is not a ledger entry: missing fields")
        public = form["public"] if isinstance(form["public"], dict) else {}
        return cls(index, bytes(data), str(form["type"]), parse_time(str(form["time"])), public)


@dataclass(frozen=True, slots=True)
class Period:
    """The days ``first`` to ``last``, both included, in UTC: ``[start, end)``."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidInputError(
                Problem("--to", f"{self.last} is before the start of the period ({self.first})")
            )

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)

    def __contains__(self, when: object) -> bool:
        return isinstance(when, datetime) and self.start <= when < self.end


class ColumnKind(StrEnum):
    COUNT = "count"
    #: A median number of days over the row's first column, a count of cases.
    MEDIAN_DAYS = "median-days"
    #: A count the report also lists item by item (the restrictions in force): shown as
    #: counted, whatever its size, since hiding it would hide nothing.
    LISTED = "listed"


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    values: tuple[int | float | None, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """Exact figures. With ``total`` the last row sums the others, column by column."""

    name: str
    title: str
    description: str
    label: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    kinds: tuple[ColumnKind, ...] = ()
    total: bool = False
    #: The column drawn as a bar chart, if any.
    chart_column: int | None = None

    def kind(self, column: int) -> ColumnKind:
        return self.kinds[column] if self.kinds else ColumnKind.COUNT


@dataclass(frozen=True, slots=True)
class PublishedTable:
    """A table as published: its cells after suppression."""

    name: str
    title: str
    description: str
    label: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[PublishedCell, ...]], ...]
    total: bool
    chart_column: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "label": self.label,
            "columns": list(self.columns),
            "rows": [{"label": label, "values": list(values)} for label, values in self.rows],
        }


@dataclass(frozen=True, slots=True)
class InForce:
    """A restriction in force at the end of the period, with the entry that approved it
    (whose public form carries every field listed) and the fields chosen for publication."""

    restriction: str
    entry: int
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"restriction": self.restriction, "entry": self.entry, **dict(self.fields)}


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything a report counts, exact: computed from public entries only."""

    tables: tuple[Table, ...]
    in_force: tuple[InForce, ...]
    entries_read: int


def check_fields(fields: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    unknown = [f for f in fields if f not in LISTABLE_FIELDS]
    if unknown:
        raise InvalidInputError(
            Problem(
                "transparency_fields",
                f"unknown fields {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(LISTABLE_FIELDS)}",
            )
        )
    return tuple(dict.fromkeys(fields))


def check_k(k: int) -> int:
    """k = 1 suppresses nothing; otherwise k is at least 3: ``"< 2"`` would say 1."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(Problem("k", f"k must be a whole number of at least 1, not {k!r}"))
    if k == 2:
        raise InvalidInputError(
            Problem("k", "k = 2 would show 1 as '< 2', hiding nothing: use 1 or at least 3")
        )
    return k
