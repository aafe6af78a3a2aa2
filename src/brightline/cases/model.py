"""Signals, findings, decisions and appeals: the values a case is made of."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from brightline.cases.evidence import check_sha256, check_title, check_url
from brightline.errors import InvalidInputError, Problem
from brightline.world import ID_PATTERN

MAX_TEXT: Final = 4000


class SourceKind(StrEnum):
    """Who a signal came from. Only ``person`` or ``detector`` ever leaves the store."""

    EMPLOYEE = "employee"
    JOURNALIST = "journalist"
    NGO = "ngo"
    REGULATOR = "regulator"
    ANONYMOUS = "anonymous"
    #: Filed through the public channel (``/report``): no sign-in, a receipt to follow
    #: up with, and a contact only if the reporter left one.
    PUBLIC = "public"
    DETECTOR = "detector"

    @property
    def public(self) -> str:
        return "detector" if self is SourceKind.DETECTOR else "person"


#: Fields that could expose a reporter to retaliation: kept in the store, visible to the
#: case admin only, never in exports, notifications or the public ledger form.
RETALIATION_SENSITIVE: Final = frozenset({"reporter", "source_kind", "contact", "organization"})


class FindingOutcome(StrEnum):
    SUBSTANTIATED = "substantiated"
    NOT_SUBSTANTIATED = "not-substantiated"
    INCONCLUSIVE = "inconclusive"


class DecisionKind(StrEnum):
    RESTRICT = "restrict"
    NO_RESTRICTION = "no-restriction"


class AppealOutcome(StrEnum):
    UPHELD = "upheld"
    LIFT = "lift"


def check_text(value: str, where: str, *, limit: int = MAX_TEXT) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise InvalidInputError(Problem(where, f"must be 1–{limit} characters"))
    if "\x00" in value:
        # PostgreSQL cannot store NUL in text (SQLite can): refused alike on both.
        raise InvalidInputError(Problem(where, "must not contain NUL (U+0000) characters"))
    return value


def check_ids(values: Sequence[str], where: str) -> tuple[str, ...]:
    if not values:
        raise InvalidInputError(Problem(where, "at least one is required"))
    bad = [v for v in values if not ID_PATTERN.fullmatch(v)]
    if bad:
        raise InvalidInputError(Problem(where, f"not valid ids: {', '.join(map(repr, bad))}"))
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True, slots=True)
class Reference:
    """A URL, a document hash, or both, with a short label."""

    label: str
    url: str | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        check_title(self.label, "reference label")
        if self.url is not None:
            check_url(self.url, "reference url")
        if self.sha256 is not None:
            check_sha256(self.sha256, "reference sha256")
        if self.url is None and self.sha256 is None:
            raise InvalidInputError(Problem("reference", "give a URL or a SHA-256"))

    @classmethod
    def parse(cls, text: str) -> Reference:
        """``https://…`` or ``sha256:<hex>``, optionally prefixed ``label=``."""
        label, sep, value = text.partition("=")
        if not sep or label.startswith(("http", "sha256")):
            label, value = "reference", text
        if value.startswith("sha256:"):
            return cls(label=label, sha256=value.removeprefix("sha256:"))
        return cls(label=label, url=value)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "url": self.url, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Signal:
    """A report from a person or an alert from detection, naming nodes and policies."""

    source_kind: SourceKind
    nodes: tuple[str, ...]
    policies: tuple[str, ...]
    summary: str
    references: tuple[Reference, ...] = ()
    alert_id: str | None = None

    def __post_init__(self) -> None:
        # A public report names its subject in words; the investigator who triages it
        # links nodes when opening or attaching a case (``service.cases.open_case``).
        if self.nodes or self.source_kind is not SourceKind.PUBLIC:
            object.__setattr__(self, "nodes", check_ids(self.nodes, "nodes"))
        object.__setattr__(self, "policies", check_ids(self.policies, "policies"))
        object.__setattr__(self, "summary", check_text(self.summary, "summary"))


@dataclass(frozen=True, slots=True)
class ReporterIdentity:
    """Who reported; stored apart from the report and shown to the case admin only."""

    name: str
    contact: str | None = None
    organization: str | None = None

    def __post_init__(self) -> None:
        check_text(self.name, "reporter name", limit=200)

    def __repr__(self) -> str:  # never leak a reporter into logs or tracebacks
        return "ReporterIdentity(<hidden>)"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "contact": self.contact, "organization": self.organization}


@dataclass(frozen=True, slots=True)
class Finding:
    policy: str
    outcome: FindingOutcome
    rationale: str
    evidence: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_ids([self.policy], "policy")
        object.__setattr__(self, "rationale", check_text(self.rationale, "rationale"))


@dataclass(frozen=True, slots=True)
class CaseDecision:
    kind: DecisionKind
    rationale: str
    restrictions: tuple[str, ...] = ()
    plans: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "rationale", check_text(self.rationale, "rationale"))
        if self.kind is DecisionKind.RESTRICT and not self.restrictions:
            raise InvalidInputError(Problem("restrictions", "a restrict decision names them"))
        if self.kind is DecisionKind.NO_RESTRICTION and self.restrictions:
            raise InvalidInputError(Problem("restrictions", "a no-restriction decision has none"))
