"""When each restriction was in force, read from the public log: the restriction tables.

A restriction is *in force* from the moment it starts until the moment it ends, at most
once (a lifted restriction is never approved again; a promotion only turns dry-run into
enforce, keeping every other field):

- it *starts* when approved (or promoted) in ``enforce`` mode, or at its ``not_before`` if
  that is later;
- it *ends* when its lift is approved or at its ``not_after``, whichever comes first; a
  restriction that ends before it starts is never in force and counted nowhere.
- A restriction approved and lifted within one granule of the log's times (a day, say)
  has both entries at the same published time, yet the log's order says it was approved
  first: it was in force for a while. Its spell starts and ends at the same moment: it
  counts as imposed and as lifted, and is in force at no time a report holds at.

A logged entry at time ``t`` counts from just after ``t`` (a report holding at ``t`` does
not see it), while a window bound at ``t`` counts from ``t`` itself. Moments are therefore
``(t, 0)`` for "at t" and ``(t, 1)`` for "just after t", ordered as tuples; a restriction is
in force at ``t`` when ``start <= (t, 0) < end``.

Every figure of the restriction tables counts starts and ends over ``((from, 0), (to, 0)]``,
so for each value and any two times ``t0 < t1`` the stock identity holds exactly::

    in force at t1 = in force at t0 + imposed - lifted - expired   (over [t0, t1))

which anyone can check, and which series suppression (:mod:`~brightline.transparency.series`)
counts on a reader to use.

Pure: public entries in, spells and tables out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from brightline.transparency.model import ColumnKind, PublicEntry, Row, Table, parse_time

NOT_PUBLISHED: Final = "not published"
IMPOSED: Final = "imposed"
LIFTED: Final = "lifted"
EXPIRED: Final = "expired"
IN_FORCE_AT_END: Final = "in force at end"
FLOWS: Final = (IMPOSED, LIFTED, EXPIRED)
RESTRICTION_COLUMNS: Final = (*FLOWS, IN_FORCE_AT_END)

#: The restriction tables: (table name, field of the public form, words). Policy, sector
#: and country hold one value per restriction (their tables have a total row, the same in
#: all three); a restriction counts once under each of its service tags (no total row).
DIMENSIONS: Final = (
    ("restrictions-by-policy", "policy", "prohibited-use policy"),
    ("restrictions-by-sector", "sector", "customer sector"),
    ("restrictions-by-country", "country", "customer country"),
    ("restrictions-by-service-tag", "service_tags", "service tag"),
)
TABLES: Final = tuple(name for name, _, _ in DIMENSIONS)
MULTI_VALUED: Final = "restrictions-by-service-tag"
_GENERALIZED: Final = (
    " Each restriction is counted under the value its ledger entry publishes: generalized "
    "(a region for a country, public or private for a sector, a family for a service, or "
    "any) until the customers it could concern number at least the deployment's k."
)

#: ``(time, 0)``: at ``time``; ``(time, 1)``: just after ``time``.
Moment = tuple[datetime, int]


def at(when: datetime) -> Moment:
    return (when, 0)


def values(fields: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """The values a restriction counts under for the field ``key`` of its public form."""
    value = fields.get(key)
    if key == "service_tags":
        tags = sorted({str(t) for t in value or ()}) if isinstance(value, list) else []
        return tuple(tags) or (NOT_PUBLISHED,)
    return (str(value),) if value else (NOT_PUBLISHED,)


@dataclass(frozen=True, slots=True)
class Spell:
    """The one time a restriction was in force: ``start <= moment < end``."""

    restriction: str
    #: The public fields of the approval that made it enforce.
    fields: Mapping[str, Any]
    start: Moment
    end: Moment | None
    #: ``"lifted"`` or ``"expired"`` when ``end`` is set.
    ended: str | None

    def in_force(self, when: datetime) -> bool:
        return self.start <= at(when) and (self.end is None or at(when) < self.end)

    def counts(self, table: str) -> tuple[str, ...]:
        """The rows of ``table`` this restriction counts under."""
        key = next(k for name, k, _ in DIMENSIONS if name == table)
        return values(self.fields, key)


@dataclass(slots=True)
class _Replay:
    fields: dict[str, Any] = field(default_factory=dict)
    enforcing_since: datetime | None = None
    lifted_at: datetime | None = None


def restriction_spells(entries: Iterable[PublicEntry], *, as_of: datetime) -> tuple[Spell, ...]:
    """The spells of every restriction as the log stood at ``as_of`` (entries from then
    on are ignored), in order of restriction id. Counts over periods that end by
    ``as_of`` do not depend on anything logged later."""
    states: dict[str, _Replay] = {}
    for entry in entries:
        if entry.time >= as_of or not entry.event_type.startswith("restriction."):
            continue
        rid, kind = entry.public.get("restriction"), entry.public.get("kind")
        if not isinstance(rid, str):
            continue
        state = states.setdefault(rid, _Replay())
        if kind in ("approved", "promotion-approved", "bootstrapped"):
            state.fields = dict(entry.public)
            enforce = state.fields.get("mode", "enforce") == "enforce"
            if enforce and state.enforcing_since is None:
                state.enforcing_since = entry.time
        elif kind == "lift-approved" and state.enforcing_since is not None:
            state.lifted_at = state.lifted_at or entry.time
    spells = []
    for rid, state in sorted(states.items()):
        if state.enforcing_since is None:
            continue
        start: Moment = (state.enforcing_since, 1)
        if (not_before := _window(state.fields, "not_before")) is not None:
            start = max(start, at(not_before))
        lifted = None if state.lifted_at is None else (state.lifted_at, 1)
        expires = None if (na := _window(state.fields, "not_after")) is None else at(na)
        end, ended = lifted, LIFTED if lifted is not None else None
        if expires is not None and (lifted is None or expires <= lifted):
            end, ended = expires, EXPIRED
        # A lift in the granule of the approval: in force for a while (see above). A
        # window ending when it starts (not_before == not_after) is an empty one.
        if end is None or start < end or (start == end and ended == LIFTED):
            spells.append(Spell(rid, state.fields, start, end, ended))
    return tuple(spells)


def _window(fields: Mapping[str, Any], key: str) -> datetime | None:
    value = fields.get(key)
    return parse_time(str(value)) if value else None


def spell_events(spell: Spell, start: datetime, end: datetime) -> tuple[str, ...]:
    """The flow columns ``spell`` counts in over ``[start, end)``."""
    low, high = at(start), at(end)
    found = []
    if low < spell.start <= high:
        found.append(IMPOSED)
    if spell.end is not None and spell.ended is not None and low < spell.end <= high:
        found.append(spell.ended)
    return tuple(found)


def restriction_tables(spells: Iterable[Spell], *, start: datetime, as_of: datetime) -> list[Table]:
    """The four restriction tables over ``[start, as_of)``: a row for every value with a
    count, in value order."""
    counts: dict[str, defaultdict[str, Counter[str]]] = {
        name: defaultdict(Counter) for name in TABLES
    }
    for spell in spells:
        columns = [*spell_events(spell, start, as_of)]
        if spell.in_force(as_of):
            columns.append(IN_FORCE_AT_END)
        for name in TABLES if columns else ():
            for value in spell.counts(name):
                for column in columns:
                    counts[name][value][column] += 1
    tables = []
    for name, key, words in DIMENSIONS:
        rows = [
            Row(value, tuple(counts[name][value][c] for c in RESTRICTION_COLUMNS))
            for value in sorted(counts[name])
        ]
        multi = name == MULTI_VALUED
        if not multi:
            total = tuple(sum(int(r.values[c] or 0) for r in rows) for c in range(4))
            rows.append(Row("total", total))
        tables.append(
            Table(
                name=name,
                title=f"Restrictions, by {words}",
                description=(
                    f"Restrictions that came into force (approved in enforce mode, from the "
                    f"start of their window if later), were lifted or expired in the period, "
                    f"and those in force at its end, by {words}."
                    + (_GENERALIZED if key != "policy" else "")
                    + (
                        " A restriction covering services of several tags counts once under "
                        "each, so the rows do not add up to a total."
                        if multi
                        else ""
                    )
                ),
                label=words,
                columns=RESTRICTION_COLUMNS,
                rows=tuple(rows),
                kinds=(ColumnKind.COUNT,) * 3 + (ColumnKind.LISTED,),
                total=not multi,
                chart_column=3,
            )
        )
    return tables
