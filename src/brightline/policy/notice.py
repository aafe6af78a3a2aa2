"""What a denied caller is told: the customer-safe notice of a denial.

A provider's gateway shows this to its customer's caller, so it is built from public
facts only: the ids of the restrictions that deny, the public name of the policy each
one serves (its reason's ``policy``, named through :class:`Notice`) and the deployment's
appeal contact. It never reads the rest of a restriction's reason (case ids, notes), its
scope, exemptions or anything of a case: whatever an operator writes there cannot reach
a customer through it.

One function words it, :func:`denial_notice`; the API, the gateway check endpoint and
the enforcement client reach it through :meth:`Decision.customer_notice`, and the batch
endpoint for each denied row, over the :class:`Notice` that their snapshot carries (the
server's settings, signed into every bundle), so they all say the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from brightline.errors import InvalidInputError, Problem

if TYPE_CHECKING:
    from brightline.policy.decision import Decision
    from brightline.policy.snapshot import Snapshot

#: The keys of a restriction's reason that are public: its ledger entry publishes them,
#: bundles carry them, the customer notice names them. Every other key stays internal.
PUBLIC_REASON_KEYS: Final = ("policy",)
#: Said when the deployment configured no appeal contact.
NO_CONTACT: Final = "your provider's support"
#: Said when a restriction names no policy.
NO_POLICY: Final = "an acceptable-use policy"


def public_reason(reason: Mapping[str, str]) -> dict[str, str]:
    """The public part of a restriction's reason (:data:`PUBLIC_REASON_KEYS`), sorted."""
    return {key: reason[key] for key in sorted(reason) if key in PUBLIC_REASON_KEYS}


@dataclass(frozen=True, slots=True)
class Notice:
    """The deployment's public words for denials: whom a customer contacts to appeal
    (an address, a URL, empty for :data:`NO_CONTACT`) and the public name of each
    policy id (a policy without one is shown by its id, which its ledger entries
    already publish)."""

    appeal_contact: str = ""
    policy_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "policy_names", MappingProxyType(dict(sorted(self.policy_names.items())))
        )

    def policy_name(self, policy: str | None) -> str:
        if policy is None:
            return NO_POLICY
        return self.policy_names.get(policy, policy)

    @property
    def contact(self) -> str:
        return self.appeal_contact or NO_CONTACT

    def to_json(self) -> dict[str, Any]:
        return {"appeal_contact": self.appeal_contact, "policy_names": dict(self.policy_names)}

    @classmethod
    def from_json(cls, data: Any, *, name: str) -> Notice:
        """Parse the ``notice`` member of a snapshot document (absent: the default);
        InvalidInputError located at ``name`` if it is malformed."""
        if data is None:
            return cls()
        contact = data.get("appeal_contact") if isinstance(data, dict) else None
        names = data.get("policy_names") if isinstance(data, dict) else None
        if (
            not isinstance(contact, str)
            or not isinstance(names, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in names.items())
        ):
            raise InvalidInputError(
                Problem(f"{name}: notice", "expected {appeal_contact: text, policy_names: {…}}")
            )
        return cls(contact, names)


@dataclass(frozen=True, slots=True)
class CustomerNotice:
    """A denial as the customer's caller sees it: the restrictions that deny, the public
    names of their policies (in the same order, one per restriction), whom to contact to
    appeal, and a sentence saying all of it."""

    restrictions: tuple[str, ...]
    policies: tuple[str, ...]
    appeal_contact: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "restrictions": list(self.restrictions),
            "policies": list(self.policies),
            "appeal_contact": self.appeal_contact,
        }


def customer_notice(decision: Decision) -> CustomerNotice | None:
    """The customer-safe notice of ``decision``; None when it allows."""
    if not decision.denied:
        return None
    return denial_notice(decision.snapshot, decision.matched)


def denial_notice(snapshot: Snapshot, matched: Sequence[str]) -> CustomerNotice:
    """The customer-safe notice of a denial under ``snapshot`` by the restrictions
    ``matched`` (ids of ``snapshot``'s restrictions).

    A denial by restrictions names each with its policy's public name; a denial without
    one (an enforcement point failing closed on a stale policy) says that the policy in
    force could not be confirmed, and nothing of why.
    """
    notice: Notice = snapshot.notice
    contact = notice.contact
    if not matched:
        return CustomerNotice(
            (),
            (),
            contact,
            "Refused: the provider could not confirm the acceptable-use policy in force for "
            f"this request. Try again later; for help, contact {contact}.",
        )
    ids = tuple(matched)
    policies = tuple(notice.policy_name(snapshot.restriction(i).reason.get("policy")) for i in ids)
    plural = "s" if len(ids) > 1 else ""
    named = ", ".join(f"{i} ({p})" for i, p in zip(ids, policies, strict=True))
    message = (
        f"Refused under the provider's acceptable-use restriction{plural} {named}. "
        f"To appeal, contact {contact} and quote {', '.join(ids)}."
    )
    return CustomerNotice(ids, policies, contact, message)
