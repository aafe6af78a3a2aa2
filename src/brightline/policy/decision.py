"""Requests and decisions: the values that go in and out of ``Snapshot.decide``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from brightline.errors import InvalidInputError
from brightline.policy.restriction import Effect

if TYPE_CHECKING:
    from brightline.policy.notice import CustomerNotice
    from brightline.policy.snapshot import Snapshot


class Request(NamedTuple):
    """One call to decide: who (node) does what (service, operation) where (region) when (at).

    A NamedTuple rather than a dataclass: gateways build one per API call, so it must be
    cheap. ``at`` must be timezone-aware; see :meth:`checked`.
    """

    node: str
    service: str
    operation: str
    region: str
    at: datetime

    @classmethod
    def checked(cls, node: str, service: str, operation: str, region: str, at: datetime) -> Request:
        """Build a request, refusing a naive time."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidInputError("request time must carry a time zone")
        return cls(node, service, operation, region, at)


class Decision(NamedTuple):
    """The answer to a request.

    ``matched`` lists the enforcing restrictions that deny it and ``would_deny`` the
    dry-run ones that would, both sorted by id. ``effect`` is DENY exactly when
    ``matched`` is not empty or ``reason`` is set. ``version`` names the snapshot that
    decided. ``reason`` says why a request was denied without a restriction (an
    enforcement point failing closed: its bundle is stale); None otherwise.
    """

    effect: Effect
    matched: tuple[str, ...]
    would_deny: tuple[str, ...]
    version: str
    request: Request
    snapshot: Snapshot
    reason: str | None = None

    @classmethod
    def fail_closed(cls, decision: Decision, *, reason: str) -> Decision:
        """``decision`` turned into a denial for ``reason``, keeping what the snapshot
        found (its dry-run matches) so that the explanation still says it."""
        return decision._replace(effect=Effect.DENY, reason=reason)

    @property
    def denied(self) -> bool:
        return self.effect is Effect.DENY

    def explain(self) -> str:
        """A sentence or two saying why, naming the restrictions and what made them apply."""
        from brightline.policy.explain import explain

        return explain(self)

    def customer_notice(self) -> CustomerNotice | None:
        """What the customer's caller may be told of a denial (None when allowed): the
        restrictions, their policies' public names and how to appeal, never the internal
        reason; see :mod:`brightline.policy.notice`."""
        from brightline.policy.notice import customer_notice

        return customer_notice(self)

    def to_dict(self) -> dict[str, object]:
        request = self.request
        notice = self.customer_notice()
        return {
            "effect": self.effect.value,
            "matched": list(self.matched),
            "would_deny": list(self.would_deny),
            "version": self.version,
            **({} if self.reason is None else {"reason": self.reason}),
            "request": {
                "node": request.node,
                "service": request.service,
                "operation": request.operation,
                "region": request.region,
                "at": request.at.isoformat(),
            },
            "explanation": self.explain(),
            "customer_notice": None if notice is None else notice.to_json(),
        }
