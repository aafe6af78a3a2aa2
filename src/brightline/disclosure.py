"""What each ledger entry publishes: one allow-list per event type, one derivation per field.

A ledger entry's public form (``{"v", "type", "time", "commitment", "public"}``) is
published forever. Its ``public`` member is decided here and nowhere else:

- :data:`PUBLIC_FIELDS` lists, for every event type the code writes, the only fields its
  entries may publish;
- each field is computed by one derivation of its family (``restriction``, ``case``,
  ``signal``, ``principal``, ``world``) from the event's private record (its outbox
  payload) and the :class:`Facts` the ledger sync knows about the event: the world it was
  made against, the restriction or the case as they stood once it happened, and whether
  the deployment publishes customer names. A derivation picks named values; it never
  copies a record, so a key added to a record is not published until someone adds it here.

A type missing from the table is refused with :class:`LedgerIntegrityError`, which stops
the sync: nothing of an unknown type is ever published.

Pure: no store, clock or I/O. The ledger sync (``brightline.service.ledger``) gathers the
facts and is the only caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.policy import ActionPattern
from brightline.world import World

__all__ = [
    "PUBLIC_FIELDS",
    "PUBLIC_NODE_ATTRS",
    "PUBLIC_NODE_FIELDS",
    "Facts",
    "public_fields",
    "published",
]

#: Node attributes published for the nodes an entry concerns, each looked up on the node
#: and then its ancestors (the nearest value wins): enough for transparency counts by
#: sector and country, never a name or an id.
PUBLIC_NODE_ATTRS: Final = ("sector", "country")
#: The fields of one published node (the items of ``nodes``).
PUBLIC_NODE_FIELDS: Final = frozenset({"kind", *PUBLIC_NODE_ATTRS})

_RESTRICTION: Final = frozenset(
    {
        "restriction",
        "kind",
        "case",
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
_CASE: Final = frozenset({"case", "policies", "nodes"})

#: Every event type the code writes, and the only fields its public form may hold.
PUBLIC_FIELDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "world.imported": frozenset({"counts"}),
        "principal.role-granted": frozenset({"role"}),
        # Sic: the type a revocation has always been written with; kept so that entries
        # already published and new ones agree.
        "principal.role-revokeed": frozenset({"role"}),
        # The first principal of an empty store: the type and time only (its name is
        # private; the ledger proves that bootstrapping happened once, and when).
        "principal.bootstrapped": frozenset(),
        "signal.received": frozenset({"signal", "source", "policies", "nodes"}),
        "restriction.proposed": _RESTRICTION,
        "restriction.approved": _RESTRICTION,
        "restriction.rejected": _RESTRICTION,
        "restriction.lift-proposed": _RESTRICTION,
        "restriction.lift-approved": _RESTRICTION,
        "restriction.lift-rejected": _RESTRICTION,
        "restriction.promotion-proposed": _RESTRICTION,
        "restriction.promotion-approved": _RESTRICTION,
        "restriction.promotion-rejected": _RESTRICTION,
        "restriction.guard-approved": _RESTRICTION | {"guard"},
        "case.opened": _CASE | {"signals"},
        "case.signal-attached": _CASE | {"signals"},
        "case.assigned": _CASE,
        "case.unassigned": _CASE,
        "case.review-started": _CASE,
        "case.evidence-added": _CASE | {"evidence"},
        "case.usage-accessed": _CASE | {"access"},
        "case.task-added": _CASE,
        "case.task-done": _CASE,
        "case.finding-recorded": _CASE | {"policy", "outcome"},
        "case.plan-attached": _CASE | {"exceeds_limits"},
        "case.decided": _CASE | {"decision"},
        "case.appealed": _CASE,
        "case.appeal-decided": _CASE | {"appeal"},
        "case.closed": _CASE,
        "transparency.released": frozenset(),
    }
)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the ledger sync knows about an event besides its record, as of the event.

    ``world`` is the world the change was made against (the latest imported before it);
    ``restriction`` the restriction's body in effect once a restriction event happened
    (needed only when its record carries none: a proposal records the body it proposes);
    ``case_policies`` and ``case_nodes`` the case's once a case event happened. Nothing
    here is published except through a derivation of a field the table allows.
    """

    world: World | None = None
    restriction: Mapping[str, Any] | None = None
    case_policies: tuple[str, ...] = ()
    case_nodes: tuple[str, ...] = ()
    customer_names: bool = False


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
    scope's sector in a world without one, is left out). Raises LedgerIntegrityError for
    a type the table does not list, or a record that lacks what its type must publish.
    """
    fields = public_fields(event_type)
    derivations = _DERIVATIONS[event_type.partition(".")[0]]
    public: dict[str, Any] = {}
    for name in sorted(fields):
        derive = derivations[name]  # every field of the table has one (tested)
        try:
            value = derive(record, facts)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise LedgerIntegrityError(
                f"a {event_type} record lacks what its public {name!r} needs: {exc!r}"
            ) from exc
        if value is not _OMIT:
            public[name] = value
    return public


# -- derivations ----------------------------------------------------------------------------

#: Returned by a derivation when the field is left out of the public form.
_OMIT: Final = object()

_Derivation = Callable[[Mapping[str, Any], Facts], object]


def _public_node(world: World, node: str) -> dict[str, Any]:
    """Kind, sector and country (inherited) of one node: the one ancestor walk."""
    item: dict[str, Any] = {"kind": world.directory[node].kind}
    for attr in PUBLIC_NODE_ATTRS:
        value = _inherited(world, node, attr)
        if value is not _OMIT:
            item[attr] = value
    return item


def _inherited(world: World, node: str, attr: str) -> object:
    for ancestor in world.directory.ancestors(node):
        value = world.directory[ancestor].attrs.get(attr)
        if value is not None:
            return value
    return _OMIT


def _public_nodes(world: World | None, nodes: Iterable[str]) -> list[dict[str, Any]]:
    """Each known node's kind, sector and country, deduplicated, in first-seen order."""
    if world is None:
        return []
    seen: list[dict[str, Any]] = []
    for node in nodes:
        if node in world.directory:
            item = _public_node(world, node)
            if item not in seen:
                seen.append(item)
    return seen


# Restriction events publish the body they propose, or else the one in effect once they
# happened (an approval records none), with its service *tags* rather than ids and its
# scope's kind, sector and country rather than its id.


def _body(record: Mapping[str, Any], facts: Facts) -> Mapping[str, Any] | None:
    """The body a proposal records, else the one in effect once the event happened."""
    body = record.get("restriction_body")
    if body is None:
        body = facts.restriction
    return body if isinstance(body, Mapping) else None


def _from_body(derive: Callable[[Mapping[str, Any]], object]) -> _Derivation:
    def derivation(record: Mapping[str, Any], facts: Facts) -> object:
        body = _body(record, facts)
        return _OMIT if body is None else derive(body)

    return derivation


def _policy(body: Mapping[str, Any]) -> object:
    reason = body.get("reason") or {}
    return reason.get("policy") if isinstance(reason, Mapping) else None


def _service_tags(record: Mapping[str, Any], facts: Facts) -> object:
    body, world = _body(record, facts), facts.world
    if body is None or world is None:
        return _OMIT
    tags: set[str] = set()
    for text in body.get("actions") or ():
        try:
            pattern = ActionPattern.parse(str(text))
        except InvalidInputError:
            continue
        for service in world.catalog.services_matching(pattern.service):
            tags.update(world.catalog.services[service].tags)
    return sorted(tags)


def _from_scope(derive: Callable[[World, str], object]) -> _Derivation:
    def derivation(record: Mapping[str, Any], facts: Facts) -> object:
        body, world = _body(record, facts), facts.world
        if body is None or world is None:
            return _OMIT
        scope = str(body.get("scope", ""))
        return derive(world, scope) if scope in world.directory else _OMIT

    return derivation


def _customer(record: Mapping[str, Any], facts: Facts) -> object:
    if not facts.customer_names:
        return _OMIT
    return _from_scope(lambda w, scope: w.directory[w.directory.root(scope)].name)(record, facts)


_RESTRICTION_DERIVATIONS: Final[Mapping[str, _Derivation]] = {
    "restriction": lambda r, f: str(r.get("restriction", "")),
    # None on a guard approval, whose record has no kind (published as null).
    "kind": lambda r, f: r.get("kind"),
    # Links a restriction to its case (a number), so that a transparency report can time
    # a case from its first report to enforcement.
    "case": lambda r, f: r["case"] if r.get("case") is not None else _OMIT,
    "policy": _from_body(_policy),
    "mode": _from_body(lambda b: b.get("mode", "enforce")),
    "regions": _from_body(lambda b: sorted(b["regions"]) if b.get("regions") else None),
    "not_before": _from_body(lambda b: b.get("not_before")),
    "not_after": _from_body(lambda b: b.get("not_after")),
    "service_tags": _service_tags,
    "scope_kind": _from_scope(lambda w, scope: w.directory[scope].kind),
    "sector": _from_scope(lambda w, scope: _inherited(w, scope, "sector")),
    "country": _from_scope(lambda w, scope: _inherited(w, scope, "country")),
    "customer": _customer,
    # The blast-radius guard is the only guard there is.
    "guard": lambda r, f: "blast-radius",
}


def _signals(record: Mapping[str, Any], facts: Facts) -> object:
    data = record["data"]
    return list(data["signals"]) if "signals" in data else [data["signal"]]


# Case events publish the case's id (a number linking its events, never a title), its
# policies and its nodes' kind, sector and country as they stood once the event happened,
# and per move one closed value: an evidence kind, a finding's outcome, a decision kind…
_CASE_DERIVATIONS: Final[Mapping[str, _Derivation]] = {
    "case": lambda r, f: r["case"],
    "policies": lambda r, f: sorted(f.case_policies),
    "nodes": lambda r, f: _public_nodes(f.world, f.case_nodes),
    "signals": _signals,
    "evidence": lambda r, f: r["data"]["evidence"]["kind"],
    # Recorded only for a per-subscription breakdown, which needs a stated purpose.
    "access": lambda r, f: "per-subscription usage",
    "policy": lambda r, f: r["data"]["policy"],
    "outcome": lambda r, f: r["data"]["outcome"],
    "exceeds_limits": lambda r, f: r["data"]["exceeds_limits"],
    "decision": lambda r, f: r["data"]["kind"],
    "appeal": lambda r, f: r["data"]["outcome"],
}


def _source(record: Mapping[str, Any], facts: Facts) -> object:
    """Whether a person or a detector raised a signal, never who or what kind of person
    (an employee report is the most retaliation-sensitive fact there is)."""
    source = record["source"]
    if source not in ("person", "detector"):
        raise ValueError(f"a signal's public source is person or detector, not {source!r}")
    return source


_SIGNAL_DERIVATIONS: Final[Mapping[str, _Derivation]] = {
    "signal": lambda r, f: r["signal"],
    "source": _source,
    "policies": lambda r, f: sorted(r["policies"]),
    "nodes": lambda r, f: _public_nodes(f.world, r["nodes"]),
}


def _counts(record: Mapping[str, Any], facts: Facts) -> object:
    """How many nodes, services and regions an import added, changed…: numbers only."""
    counts = record.get("counts", {})
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values()):
        raise ValueError(f"counts must be numbers: {counts!r}")
    return {str(k): v for k, v in counts.items()}


_DERIVATIONS: Final[Mapping[str, Mapping[str, _Derivation]]] = MappingProxyType(
    {
        "restriction": _RESTRICTION_DERIVATIONS,
        "case": _CASE_DERIVATIONS,
        "signal": _SIGNAL_DERIVATIONS,
        "principal": {"role": lambda r, f: r["role"]},
        "world": {"counts": _counts},
        # Transparency releases publish their type and time only (their record, what a
        # report showed and hid, is committed to, never published).
        "transparency": {},
    }
)
