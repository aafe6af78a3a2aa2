"""Restrictions: what is disabled, for which subtree, where and when.

A restriction denies (``enforce``) or reports that it would deny (``dry-run``) every
request whose node is its scope or below it and not in an exempt subtree, whose
``service:operation`` matches one of its action patterns, whose region is listed
(or none are), and whose time is inside ``[not_before, not_after)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from brightline.errors import InvalidInputError, Problem
from brightline.world import Catalog

_SERVICE_PART: Final = re.compile(r"\*|[A-Za-z0-9._\-]{1,128}|[A-Za-z0-9._\-]{1,126}\.\*")
_OPERATION_PART: Final = re.compile(r"\*|[A-Za-z0-9._\-]{1,128}")


class Mode(StrEnum):
    ENFORCE = "enforce"
    DRY_RUN = "dry-run"


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True, order=True)
class ActionPattern:
    """``service:operation``; the service part is an id, a ``prefix.*`` or ``*``."""

    service: str
    operation: str

    @classmethod
    def parse(cls, text: str) -> ActionPattern:
        """Parse ``service:operation``; raises InvalidInputError with the reason."""
        service, sep, operation = text.partition(":")
        if not sep:
            raise InvalidInputError(f"{text!r} is not service:operation (no ':')")
        if ":" in operation:
            raise InvalidInputError(f"{text!r} has more than one ':'")
        if not _SERVICE_PART.fullmatch(service):
            raise InvalidInputError(
                f"{text!r}: service part must be a service id, a prefix ending in '.*' or '*'"
            )
        if not _OPERATION_PART.fullmatch(operation):
            raise InvalidInputError(f"{text!r}: operation part must be an operation name or '*'")
        return cls(service, operation)

    def __str__(self) -> str:
        return f"{self.service}:{self.operation}"

    def actions(self, catalog: Catalog) -> tuple[tuple[str, str], ...]:
        """Every ``(service, operation)`` of the catalog this pattern matches, sorted."""
        out: list[tuple[str, str]] = []
        for service_id in catalog.services_matching(self.service):
            operations = catalog.services[service_id].operations
            if self.operation == "*":
                out.extend((service_id, op) for op in operations)
            elif self.operation in operations:
                out.append((service_id, self.operation))
        return tuple(sorted(out))

    def matches(self, service: str, operation: str) -> bool:
        """Whether this pattern matches an action, by the pattern alone."""
        if self.operation not in ("*", operation):
            return False
        if self.service == "*":
            return True
        if self.service.endswith(".*"):
            return service.startswith(self.service[:-1])
        return service == self.service


@dataclass(frozen=True, slots=True)
class Restriction:
    """A validated restriction. Times are timezone-aware UTC; ``regions`` None = every region."""

    id: str
    scope: str
    actions: tuple[ActionPattern, ...]
    regions: frozenset[str] | None = None
    exempt: tuple[str, ...] = ()
    not_before: datetime | None = None
    not_after: datetime | None = None
    mode: Mode = Mode.ENFORCE
    reason: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name in ("not_before", "not_after"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidInputError(Problem(self.id, f"{name} must carry a time zone"))

    @property
    def enforcing(self) -> bool:
        return self.mode is Mode.ENFORCE

    def in_window(self, at: datetime) -> bool:
        return (self.not_before is None or self.not_before <= at) and (
            self.not_after is None or at < self.not_after
        )

    def canonical(self) -> dict[str, object]:
        """A JSON-ready form with a fixed field order, for hashing and exports."""
        return {
            "id": self.id,
            "scope": self.scope,
            "actions": [str(a) for a in self.actions],
            "regions": sorted(self.regions) if self.regions is not None else None,
            "exempt": sorted(self.exempt),
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
            "mode": self.mode.value,
            "reason": dict(sorted(self.reason.items())),
        }


def format_time(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, microseconds only when present."""
    if value is None:
        return None
    # isoformat gives the same text several times faster (the store audit formats every
    # event's time), but pads years to four digits where strftime does not. The date's
    # and the time's, each without a zone, take half the time of the aware datetime's
    # (which formats its "+00:00" only for it to be cut).
    if value.tzinfo is UTC and value.year >= 1000:
        return f"{value.date().isoformat()}T{value.time().isoformat()}Z"
    value = value.astimezone(UTC)
    if value.year >= 1000:
        return value.replace(tzinfo=None).isoformat() + "Z"
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"
