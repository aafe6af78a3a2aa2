"""The store audit's last step: the restrictions in force, as the store and the ledger say.

The store's side replays each restriction's events through its lifecycle
(``brightline.service.lifecycle``), as the audit matches them with their outbox events.
The ledger's side reads only public forms, as an outside auditor would: each enforcement
act (approved, promotion approved, lift approved) names a restriction by its reference
``R-<n>`` and publishes the body in effect. Once the audit has walked the ledger's last
entry, :meth:`Restrictions.compare` requires, for every restriction, that its last act
publish what ``brightline.disclosure`` publishes of the store's state now — phase (active
or lifted), policy, mode, regions and window — so that both sides agree on what is in
force at any time. A difference is returned as a :class:`Divergence`; the caller raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from brightline.disclosure import Facts, Granularity, published, reference
from brightline.errors import ConflictError
from brightline.service.lifecycle import APPROVED_PHASES, Phase, RestrictionState, Status, apply
from brightline.store import StoredEvent
from brightline.store.history import LoggedEntry
from brightline.store.outbox import canonical_json

#: What the comparison reads of an enforcement act's public form.
ENFORCED: Final = ("policy", "mode", "regions", "not_before", "not_after")
#: Body keys no enforced field reads without a world (the audit publishes without one):
#: left out of the cache key, so that restrictions differing only there share a result.
_UNREAD: Final = ("id", "scope", "actions", "exempt")

#: ``("active", the enforced fields as JSON)`` or ``("lifted", b"")``.
_Enforced = tuple[str, bytes]
#: An enforcement entry's reference, kind and what it enforces (:func:`act_fields`).
ActFields = tuple[object, object, _Enforced]


@dataclass(frozen=True, slots=True)
class Divergence:
    """What differs, the event to name (a row or an outbox event) and its ledger entry."""

    detail: str
    event: str
    entry: LoggedEntry | None


class Restrictions:
    def __init__(self, granularity: Granularity) -> None:
        self.granularity = granularity
        #: Each restriction's public reference (``R-<rank>``, ranked by first event).
        self.refs: dict[str, str] = {}
        self.states: dict[str, RestrictionState] = {}
        self.last: dict[str, int] = {}
        #: Per reference: its last enforcement entry and what it publishes.
        self.acts: dict[str, tuple[LoggedEntry, _Enforced]] = {}
        self.compared = (0, 0)
        self._published: dict[bytes, _Enforced] = {}
        self._texts: dict[bytes, bytes] = {}

    def replay(self, event: StoredEvent) -> str | None:
        """Apply one more event of the store; what is wrong with it, if anything."""
        state = self.states.get(event.restriction_id)
        expected = 1 if state is None else state.revision + 1
        if event.revision != expected:
            return f"revision {expected} of {event.restriction_id} was expected"
        try:
            self.states[event.restriction_id] = apply(state, event)
        except (ConflictError, ValueError) as exc:
            return f"the history breaks its lifecycle: {exc}"
        if state is None:  # its first event
            self.refs[event.restriction_id] = reference(len(self.refs) + 1)
        self.last[event.restriction_id] = event.seq
        return None

    def act(self, event: StoredEvent, entry: LoggedEntry) -> str | None:
        """Record enforcement entry ``entry``, which logs ``event``; what is wrong with it,
        if anything: it must name the restriction's reference and the event's kind."""
        fields = self.act_fields(entry.public)
        return fields if isinstance(fields, str) else self.record_act(event, entry, fields)

    def record_act(self, event: StoredEvent, entry: LoggedEntry, fields: ActFields) -> str | None:
        """:meth:`act` with the entry's public form read already (:meth:`act_fields`)."""
        restriction, kind, enforced = fields
        ref = self.refs[event.restriction_id]
        if restriction != ref or kind != event.kind:
            return (
                f"its entry names {restriction!r} {kind!r} where "
                f"the store gives {ref!r} {event.kind!r}"
            )
        self.acts[ref] = (entry, enforced)
        return None

    def as_of_now(self) -> Restrictions:
        """A copy of the store's side as replayed so far (the ledger's side, the acts,
        recorded later): what :meth:`compare` compares once the ledger's last entry is
        passed, while the walk goes on through the events not yet logged."""
        copy = Restrictions(self.granularity)
        copy.refs, copy.states, copy.last = dict(self.refs), dict(self.states), dict(self.last)
        copy._published, copy._texts = self._published, self._texts
        return copy

    def compare(self, size: int, now: datetime) -> Divergence | None:
        """The store's restrictions against the ledger's acts, once the walk has passed the
        ledger's last entry (``size`` entries in all its logs); counts those approved and
        in force at ``now``."""
        for ref in sorted(self.acts.keys() - set(self.refs.values())):
            entry = self.acts[ref][0]
            return Divergence(
                f"{entry.name()} enforces {ref}, which the store does not hold", ref, entry
            )
        approved = in_force = 0
        for rid, ref in self.refs.items():
            state = self.states[rid]
            expected = self._store_says(state, ref)
            act = self.acts.get(ref)
            got = None if act is None else act[1]
            if expected != got:
                row = f"restriction_events seq {self.last[rid]}"
                return Divergence(
                    f"the restrictions in force differ at ledger size {size}: {rid} ({ref}) is "
                    f"{_says(expected)} by the store ({row}) but {_says(got)} by the ledger"
                    + ("" if act is None else f" ({act[0].name()})"),
                    row,
                    None if act is None else act[0],
                )
            if expected is not None:
                approved += 1
                enforcing = state.phase in APPROVED_PHASES and state.mode == "enforce"
                in_force += enforcing and state.status(now) is Status.IN_FORCE
        self.compared = (approved, in_force)
        return None

    def _store_says(self, state: RestrictionState, ref: str) -> _Enforced | None:
        """What the store's state of a restriction makes its last act publish."""
        if state.phase is Phase.LIFTED:
            return ("lifted", b"")
        if state.phase not in APPROVED_PHASES:
            return None  # never approved: no enforcement act
        body = {k: v for k, v in state.body.items() if k not in _UNREAD}
        # One per restriction approved: equal texts are equal bodies, which publish the
        # same (orjson's text, several times faster; the standard library's where it refuses).
        try:
            key = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # orjson.JSONEncodeError: integers beyond 64 bits
            key = b"~" + canonical_json(body).encode()
        if key not in self._published:
            facts = Facts(restriction=body, reference=ref, granularity=self.granularity)
            fields = published("restriction.approved", {"kind": "approved"}, facts)
            self._published[key] = self._enforced(fields)
        return self._published[key]

    def act_fields(self, public: bytes) -> ActFields | str:
        """What :meth:`compare` reads of an enforcement entry's public form: the
        restriction it names, its kind and what it enforces; or what is wrong with it."""
        try:
            form = orjson.loads(public)
        except orjson.JSONDecodeError as exc:
            return f"its entry's public form does not parse: {exc}"
        fields = form.get("public") if isinstance(form, dict) else None
        if not isinstance(fields, dict):
            return "its entry publishes nothing"
        return fields.get("restriction"), fields.get("kind"), self._enforced(fields)

    def _enforced(self, fields: Mapping[str, Any]) -> _Enforced:
        if fields.get("kind") == "lift-approved":
            return ("lifted", b"")
        text = orjson.dumps([fields.get(name) for name in ENFORCED])
        # Kept until the end, once per restriction: as the equal text kept already, or a
        # copy of its length. orjson's bytes keep the buffer it wrote into (2 KiB, however
        # short the text): 800 MB, and a tenth of the walk's time, at a million changes.
        kept = self._texts.get(text)
        if kept is None:
            kept = bytes(memoryview(text))
            self._texts[kept] = kept
        return ("active", kept)


def _says(enforced: _Enforced | None) -> str:
    if enforced is None:
        return "never approved"
    if enforced[0] == "lifted":
        return "lifted"
    values = orjson.loads(enforced[1])
    fields = ", ".join(f"{n} {canonical_json(v)}" for n, v in zip(ENFORCED, values, strict=True))
    return f"active ({fields})"
