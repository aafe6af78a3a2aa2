"""What each ledger entry publishes: one allow-list per event type, one derivation per field.

A ledger entry's public form (``{"v", "type", "time", "commitment", "public"}``) is
published forever. Its time and its ``public`` member are decided here and nowhere else.

The model: **enforcement acts are public at the deployment's granularity; investigations
never individually.**

- A restriction approved, promoted to enforce or lifted publishes its enforcement facts:
  an opaque reference (``R-<n>``, never the operator's id), policy, mode, regions, time
  window, and its scope's country, sector and kind and its services' tags *generalized*
  (:mod:`brightline.generalization`) until they cover at least k customers of the
  directory.
- A bundle issued to the enforcement points publishes the snapshot ``version`` and the
  payload ``digest`` it names (two hashes of what the gateways enforce, which say nothing
  to anyone without the bundle), so that a gateway can check that the policy it was
  given is in the log. Not its serial: that is its issue time to the microsecond.
- Every other event (proposals, rejections, guard approvals, cases, signals, principals,
  API keys, world imports) publishes its type, its day and its commitment only: the log
  proves it happened and what record it committed to, and says nothing of it.
- The one entry about the log itself, ``ledger.continued`` (entry 0 of a log that
  continues a sealed one), publishes the sealed log's origin, final size and root and
  the SHA-256 of its final checkpoint: what that checkpoint already says, nothing more.
- Every time is rounded down to the day (or week, or month) in UTC.

:data:`PUBLIC_FIELDS` lists every event type the code writes and the only fields its
entries may publish; each field is computed by one derivation of its family from the
event's private record (its outbox payload) and the :class:`Facts` the ledger sync
gathers. A derivation picks named values; it never copies a record, so a key added to a
record is not published until someone adds it here. A type missing from the table is
refused with :class:`LedgerIntegrityError`, which stops the sync: nothing of an unknown
type is ever published. To publish a new type, add it to the table and, if it publishes
any field, a derivation for each field under its family in ``_DERIVATIONS``.

Pure: no store, clock or I/O. The ledger sync (``brightline.service.ledger``) gathers the
facts and is the only caller.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any, Final

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.generalization import (
    CustomerIndex,
    Generalized,
    ScopeFacts,
    SectorClasses,
    TimeGranularity,
    floor_time,
    generalize,
)
from brightline.policy import ActionPattern, format_time
from brightline.world import World

__all__ = [
    "BUNDLE_FIELDS",
    "ENFORCEMENT_FIELDS",
    "PUBLIC_FIELDS",
    "Facts",
    "Granularity",
    "public_fields",
    "public_time",
    "published",
    "reference",
]

#: What an enforcement act publishes: the restriction as the deployment enforces it.
ENFORCEMENT_FIELDS: Final = frozenset(
    {
        "restriction",
        "kind",
        "policy",
        "mode",
        "regions",
        "not_before",
        "not_after",
        "service_tags",
        "scope_kind",
        "sector",
        "country",
        # Only where the deployment opts in (Settings.ledger_publishes_customer_names).
        "customer",
    }
)
#: What a bundle's issue publishes: its snapshot version and payload digest.
BUNDLE_FIELDS: Final = frozenset({"version", "digest"})
#: Type, day and commitment only.
_NOTHING: Final[frozenset[str]] = frozenset()
#: What a log that continues a sealed one says about it (``brightline.ledger.chain``).
_CONTINUED: Final = frozenset({"origin", "size", "root", "checkpoint_sha256"})

#: Every event type the code writes, and the only fields its public form may hold.
PUBLIC_FIELDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        # Enforcement acts.
        "restriction.approved": ENFORCEMENT_FIELDS,
        # The policy handed to the enforcement points, by its hashes.
        "bundle.issued": BUNDLE_FIELDS,
        "restriction.promotion-approved": ENFORCEMENT_FIELDS,
        "restriction.lift-approved": ENFORCEMENT_FIELDS,
        # An example world's restriction put in force on an empty store (no four eyes):
        # published as an act, under its own kind, so that nobody mistakes it for one.
        "restriction.bootstrapped": ENFORCEMENT_FIELDS,
        # Steps towards an act, or acts not taken: proposals name what an investigation
        # suspected, rejections what it did not carry.
        "restriction.proposed": _NOTHING,
        "restriction.rejected": _NOTHING,
        "restriction.lift-proposed": _NOTHING,
        "restriction.lift-rejected": _NOTHING,
        "restriction.promotion-proposed": _NOTHING,
        "restriction.promotion-rejected": _NOTHING,
        "restriction.guard-approved": _NOTHING,
        # Investigations: never individually (a customer cleared, a reporter's timing).
        "signal.received": _NOTHING,
        "case.opened": _NOTHING,
        "case.signal-attached": _NOTHING,
        "case.assigned": _NOTHING,
        "case.unassigned": _NOTHING,
        "case.review-started": _NOTHING,
        "case.evidence-added": _NOTHING,
        "case.usage-accessed": _NOTHING,
        "case.task-added": _NOTHING,
        "case.task-done": _NOTHING,
        "case.finding-recorded": _NOTHING,
        "case.plan-attached": _NOTHING,
        "case.decided": _NOTHING,
        "case.appealed": _NOTHING,
        "case.appeal-decided": _NOTHING,
        "case.closed": _NOTHING,
        # Administration.
        "world.imported": _NOTHING,
        "principal.bootstrapped": _NOTHING,
        "principal.role-granted": _NOTHING,
        # Sic: the type a revocation has always been written with.
        "principal.role-revokeed": _NOTHING,
        # An API key created or revoked: the record names the key's id, principal and
        # roles (never its secret or the secret's hash); the entry says only when.
        "apikey.created": _NOTHING,
        "apikey.revoked": _NOTHING,
        # A transparency report's releases: its differentially private figures with the
        # noise drawn (brightline.service.private_figures), and what its restriction
        # tables showed and hid, under "suppression" (brightline.service.transparency).
        # The records are for auditors and later reports; the entry says when, no more.
        "transparency.released": _NOTHING,
        # The log itself (issue 15, point 6): entry 0 of a log that continues a sealed one
        # (brightline.ledger.chain) publishes what a verifier needs to walk back to it and
        # nothing of who sealed it: the sealed log's origin, final size and root and the
        # hash of its final checkpoint, all four already public on that checkpoint.
        "ledger.continued": _CONTINUED,
    }
)

#: The enforcement acts: the event types whose public form is an act of enforcement
#: (what the store audit and the transparency reports count from the ledger).
ENFORCEMENT_ACTS: Final = frozenset(
    t for t, fields in PUBLIC_FIELDS.items() if fields is ENFORCEMENT_FIELDS
)


@dataclass(frozen=True, slots=True)
class Granularity:
    """How precise the deployment's public forms are, decided once for the deployment:
    entries are public forever, and two entries of one restriction published at different
    granularities could be intersected.

    ``k``: a restriction's generalized scope covers at least this many customers (1 or
    less generalizes nothing); ``time``: the granule times are rounded down to;
    ``customer_names``: enforcement acts also name the customer (the root of the scope),
    which k cannot protect: a name is one customer; ``sectors``: the public and private
    sector classes.
    """

    k: int = 5
    time: TimeGranularity = TimeGranularity.DAY
    customer_names: bool = False
    sectors: SectorClasses = field(default_factory=SectorClasses)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the ledger sync knows about an event besides its record.

    ``world`` is the world a restriction's scope is generalized against (the sync passes
    the world its proposal was made against, the same for every entry of a restriction);
    ``index`` its :class:`CustomerIndex`, if the sync keeps one per world (else built
    here); ``restriction`` the restriction's body in effect once the event happened
    (needed only when its record carries none); ``reference`` the restriction's opaque
    reference (:func:`reference`). Nothing here is published except through a derivation
    of a field the table allows.
    """

    world: World | None = None
    index: CustomerIndex | None = None
    restriction: Mapping[str, Any] | None = None
    reference: str | None = None
    granularity: Granularity = field(default_factory=Granularity)


def reference(rank: int) -> str:
    """A restriction's public reference: ``R-<rank>``, where ``rank`` (from 1) orders the
    restrictions of the store by their first event. It says how many restrictions were
    proposed before this one, which the log's ``restriction.proposed`` entries say
    anyway, and nothing the operator wrote in its id."""
    if rank < 1:
        raise InvalidInputError(f"a restriction's rank counts from 1, not {rank}")
    return f"R-{rank}"


def public_time(at: datetime, granularity: TimeGranularity) -> str:
    """An entry's published time: the start of its day (week, month) in UTC, RFC 3339."""
    return format_time(floor_time(at, granularity)) or ""


def public_fields(event_type: str) -> frozenset[str]:
    """The fields entries of ``event_type`` may publish; LedgerIntegrityError if the table
    does not list the type (nothing of an unknown type is ever published)."""
    fields = PUBLIC_FIELDS.get(event_type)
    if fields is None:
        raise LedgerIntegrityError(
            f"no disclosure rule for ledger event type {event_type!r}: an event of a type "
            "that brightline.disclosure.PUBLIC_FIELDS does not list is never published"
        )
    return fields


def published(event_type: str, record: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    """The ``public`` member of the entry logging an event of ``event_type``.

    ``record`` is the event's outbox payload. Holds only fields that
    ``PUBLIC_FIELDS[event_type]`` allows (a field whose facts are missing, such as a
    scope no longer in the world, is left out). Raises LedgerIntegrityError for a type
    the table does not list, or a record or facts lacking what its type must publish.
    """
    fields = public_fields(event_type)
    derivations = _DERIVATIONS.get(event_type.partition(".")[0], {})
    event = _Event(record, facts)
    public: dict[str, Any] = {}
    for name in sorted(fields):
        derive = derivations[name]  # every field of the table has one (tested)
        try:
            value = derive(event)
        except (KeyError, TypeError, AttributeError, ValueError, InvalidInputError) as exc:
            raise LedgerIntegrityError(
                f"a {event_type} record lacks what its public {name!r} needs: {exc!r}"
            ) from exc
        if value is not _OMIT:
            public[name] = value
    return public


# -- derivations ----------------------------------------------------------------------------

#: Returned by a derivation when the field is left out of the public form.
_OMIT: Final = object()


class _Event:
    """One event's record and facts, with what several derivations share computed once."""

    def __init__(self, record: Mapping[str, Any], facts: Facts) -> None:
        self.record = record
        self.facts = facts

    @cached_property
    def body(self) -> Mapping[str, Any] | None:
        """The body a proposal records, else the one in effect once the event happened."""
        body = self.record.get("restriction_body")
        if body is None:
            body = self.facts.restriction
        return body if isinstance(body, Mapping) else None

    @cached_property
    def scope(self) -> str | None:
        """The scope node, if the body and the world know it."""
        world = self.facts.world
        if self.body is None or world is None:
            return None
        scope = str(self.body.get("scope", ""))
        return scope if scope in world.directory else None

    @cached_property
    def generalized(self) -> Generalized | None:
        world, scope = self.facts.world, self.scope
        if world is None or scope is None:
            return None
        index = self.facts.index or CustomerIndex.of(world.directory)
        return generalize(
            ScopeFacts.of(world.directory, scope),
            _service_tags(self.body or {}, world),
            index=index,
            k=self.facts.granularity.k,
            sectors=self.facts.granularity.sectors,
        )


_Derivation = Callable[[_Event], object]


def _service_tags(body: Mapping[str, Any], world: World) -> list[str]:
    tags: set[str] = set()
    for text in body.get("actions") or ():
        try:
            pattern = ActionPattern.parse(str(text))
        except InvalidInputError:
            continue
        for service in world.catalog.services_matching(pattern.service):
            tags.update(world.catalog.services[service].tags)
    return sorted(tags)


def _from_body(derive: Callable[[Mapping[str, Any]], object]) -> _Derivation:
    def derivation(event: _Event) -> object:
        return _OMIT if event.body is None else derive(event.body)

    return derivation


def _generalized(derive: Callable[[Generalized], object]) -> _Derivation:
    def derivation(event: _Event) -> object:
        return _OMIT if event.generalized is None else derive(event.generalized)

    return derivation


def _policy(body: Mapping[str, Any]) -> object:
    reason = body.get("reason") or {}
    return reason.get("policy") if isinstance(reason, Mapping) else None


def _window(key: str) -> _Derivation:
    """A window's bound, rounded down like entry times (None if open)."""

    def derivation(event: _Event) -> object:
        if event.body is None:
            return _OMIT
        value = event.body.get(key)
        if value is None:
            return None
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return public_time(at, event.facts.granularity.time)

    return derivation


def _reference(event: _Event) -> object:
    if event.facts.reference is None:
        raise ValueError("the sync gave no reference for the restriction")
    return event.facts.reference


def _customer(event: _Event) -> object:
    world, scope = event.facts.world, event.scope
    if not event.facts.granularity.customer_names or world is None or scope is None:
        return _OMIT
    return world.directory[world.directory.root(scope)].name


# Enforcement acts publish the body in effect once they happened (the one promoted, the
# one lifted), with its service *tags* rather than ids and its scope's kind, sector and
# country rather than its id, each generalized together.
_RESTRICTION_DERIVATIONS: Final[Mapping[str, _Derivation]] = MappingProxyType(
    {
        "restriction": _reference,
        "kind": lambda e: str(e.record["kind"]),
        "policy": _from_body(_policy),
        "mode": _from_body(lambda b: b.get("mode", "enforce")),
        "regions": _from_body(lambda b: sorted(b["regions"]) if b.get("regions") else None),
        "not_before": _window("not_before"),
        "not_after": _window("not_after"),
        "service_tags": _generalized(lambda g: list(g.service_tags)),
        "scope_kind": _generalized(lambda g: g.scope_kind),
        "sector": _generalized(lambda g: g.sector),
        "country": _generalized(lambda g: g.country),
        "customer": _customer,
    }
)


def _origin(event: _Event) -> object:
    """A log's name, as on the first line of its checkpoints."""
    origin = event.record["origin"]
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise ValueError(f"a log's origin is one non-empty line, not {origin!r}")
    return origin


def _size(event: _Event) -> object:
    size = event.record["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"a sealed log's size is a positive number, not {size!r}")
    return size


def _digest(key: str, *, encoding: str) -> _Derivation:
    """A SHA-256 digest, exactly as ``brightline.ledger.chain`` writes it (base64 or hex):
    32 bytes and nothing else, so that the field cannot carry anything but a hash."""

    def derivation(event: _Event) -> object:
        text = event.record[key]
        if not isinstance(text, str):
            raise ValueError(f"{key} is not text: {text!r}")
        raw = base64.b64decode(text, validate=True) if encoding == "base64" else bytes.fromhex(text)
        encoded = base64.b64encode(raw).decode() if encoding == "base64" else raw.hex()
        if len(raw) != hashlib.sha256().digest_size or encoded != text:
            raise ValueError(f"{key} is not a SHA-256 digest in {encoding}: {text!r}")
        return text

    return derivation


# A log that continues a sealed one publishes the sealed log's final checkpoint, by
# reference: the origin, size and root printed on it and the hash of the signed note.
# Nothing in it is about a customer or an investigation; who sealed it stays private.
_LEDGER_DERIVATIONS: Final[Mapping[str, _Derivation]] = MappingProxyType(
    {
        "origin": _origin,
        "size": _size,
        "root": _digest("root", encoding="base64"),
        "checkpoint_sha256": _digest("checkpoint_sha256", encoding="hex"),
    }
)

_BUNDLE_DERIVATIONS: Final[Mapping[str, _Derivation]] = MappingProxyType(
    {
        "version": _digest("version", encoding="hex"),
        "digest": _digest("digest", encoding="hex"),
    }
)

#: Derivations by family (the part of the type before the dot); a family whose types
#: publish nothing needs none.
_DERIVATIONS: Final[Mapping[str, Mapping[str, _Derivation]]] = MappingProxyType(
    {
        "restriction": _RESTRICTION_DERIVATIONS,
        "ledger": _LEDGER_DERIVATIONS,
        "bundle": _BUNDLE_DERIVATIONS,
    }
)
