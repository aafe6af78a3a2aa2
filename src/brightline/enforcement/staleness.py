"""How old an enforcement point's policy may get, and what it does past that.

The age of the bundle held is measured from the last time the server *confirmed* it
current: every answer of ``/v1/bundles/current`` (a new bundle or "not modified")
carries a note signed with the log's key saying which bundle was in force when the
server last checked its store. A server that answers 304 forever without that note,
replays an old note, or cannot reach its database stops moving the time forward, and
once ``max_staleness`` has passed the client is *stale*: :attr:`Client.stale` is true,
the metrics say so, the ``on_stale`` callback is called, and the configured mode applies:

- ``keep``: keep deciding with the last good bundle (and keep saying it is stale);
- ``deny``: also deny every request to the services ``deny_services`` lists (ids,
  ``prefix.*`` or ``*``), with a decision whose ``reason`` says the bundle is stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from brightline.errors import InvalidInputError, Problem
from brightline.policy import ActionPattern

#: For new deployments: an hour without confirmation is stale.
DEFAULT_MAX_STALENESS: Final = timedelta(hours=1)


class StaleMode(StrEnum):
    KEEP = "keep"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Staleness:
    """The staleness configuration of an enforcement point."""

    max_staleness: timedelta = DEFAULT_MAX_STALENESS
    mode: StaleMode = StaleMode.KEEP
    deny_services: tuple[str, ...] = ()
    _patterns: tuple[ActionPattern, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        problems = []
        if self.max_staleness <= timedelta(0):
            problems.append(Problem("max_staleness", "must be more than 0 seconds"))
        patterns = []
        for i, service in enumerate(self.deny_services):
            try:
                patterns.append(ActionPattern.parse(f"{service}:*"))
            except InvalidInputError:
                message = f"{service!r} is not a service id, prefix.* or *"
                problems.append(Problem(f"deny_services[{i}]", message))
        if self.mode is StaleMode.DENY and not self.deny_services:
            problems.append(Problem("deny_services", "the deny mode needs the services to deny"))
        if problems:
            raise InvalidInputError(problems)
        object.__setattr__(self, "_patterns", tuple(patterns))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Staleness:
        """From a gateway's configuration: ``{"max_staleness": SECONDS, "mode": "keep" |
        "deny", "deny_services": [...]}``, every key optional; InvalidInputError naming
        what does not fit."""
        unknown = set(data) - {"max_staleness", "mode", "deny_services"}
        if unknown:
            raise InvalidInputError(
                [Problem(k, "unknown staleness setting") for k in sorted(unknown)]
            )
        seconds = data.get("max_staleness", DEFAULT_MAX_STALENESS.total_seconds())
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise InvalidInputError(Problem("max_staleness", "a number of seconds"))
        try:
            mode = StaleMode(data.get("mode", StaleMode.KEEP.value))
        except ValueError as exc:
            raise InvalidInputError(Problem("mode", "keep or deny")) from exc
        services = data.get("deny_services", ())
        if isinstance(services, str) or not all(isinstance(s, str) for s in services):
            raise InvalidInputError(Problem("deny_services", "a list of service ids"))
        return cls(timedelta(seconds=seconds), mode, tuple(services))

    def denies(self, service: str) -> bool:
        """Whether a stale client denies ``service`` (never in the keep mode)."""
        return self.mode is StaleMode.DENY and any(p.matches(service, "*") for p in self._patterns)


@dataclass(frozen=True, slots=True)
class StalenessChange:
    """What ``on_stale`` is called with, when the client becomes stale or fresh again."""

    stale: bool
    age: timedelta
    confirmed_at: datetime | None
    version: str | None


@dataclass
class ClientMetrics:
    """Counters of an enforcement point (the gauges are :class:`Client` properties);
    :meth:`Client.register_metrics` exports both to Prometheus."""

    bundles_installed: int = 0
    bundles_refused: int = 0
    became_stale: int = 0
    stale_denials: int = 0
