"""From public ledger entries to exact figures: the only source of every count.

Pure: entries, a period and the time the figures hold at (``as_of``) in, figures out.
Entries at or after ``as_of`` are ignored. What each event type publishes is decided by
``brightline.disclosure``; this module reads only that, never the store, so that anyone
holding the log's tiles gets the same figures.

Only enforcement acts publish anything (a restriction approved, promoted, lifted, with its
generalized facts under an opaque reference), so only enforcement is counted here:
restrictions imposed, lifted, expired and in force, by policy, sector, country and
service tag, and the list of those in force. Investigations (reports, cases, findings,
appeals, how long they took) publish nothing individually and cannot be counted from the
log.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from brightline.transparency.model import (
    Figures,
    InForce,
    Period,
    PublicEntry,
    Row,
    Table,
    check_fields,
    parse_time,
)
from brightline.transparency.suppression import Place

NOT_PUBLISHED: Final = "not published"
RESTRICTION_COLUMNS: Final = ("imposed", "lifted", "expired", "in force at end")
_ACTIVE: Final = frozenset({"active", "lift-proposed", "promotion-proposed"})
_BY_ONE_VALUE: Final = ("policy", "sector", "country")

#: Figures published in more than one place (see :func:`~brightline.transparency.
#: suppression.suppress_tables`): the restriction tables by policy, sector and country
#: count the same restrictions, so their totals are equal.
COPIES: Final[tuple[tuple[Place, ...], ...]] = tuple(
    tuple((f"restrictions-by-{n}", None, c) for n in _BY_ONE_VALUE) for c in range(4)
)


@dataclass(slots=True)
class _Restriction:
    phase: str = "proposed"
    fields: dict[str, Any] = field(default_factory=dict)
    approval: int | None = None
    approved_at: datetime | None = None
    lifted_at: datetime | None = None

    @property
    def enforcing(self) -> bool:
        return self.approval is not None and self.fields.get("mode", "enforce") == "enforce"

    def window(self, key: str) -> datetime | None:
        value = self.fields.get(key)
        return parse_time(str(value)) if value else None

    def in_force(self, at: datetime) -> bool:
        not_before, not_after = self.window("not_before"), self.window("not_after")
        return (
            self.phase in _ACTIVE
            and self.enforcing
            and (not_before is None or at >= not_before)
            and (not_after is None or at < not_after)
        )

    def enforced_from(self) -> datetime | None:
        if not self.enforcing or self.approved_at is None:
            return None
        not_before = self.window("not_before")
        return max(self.approved_at, not_before) if not_before else self.approved_at


@dataclass(slots=True)
class _Tally:
    """Running counts while the entries are replayed in log order."""

    period: Period
    as_of: datetime
    restrictions: dict[str, _Restriction] = field(default_factory=dict)
    # Events as (the restriction's fields, column).
    restriction_events: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    def in_period(self, when: datetime) -> bool:
        return when in self.period and when < self.as_of


def compute_figures(
    entries: Iterable[PublicEntry],
    *,
    period: Period,
    as_of: datetime,
    fields: Sequence[str],
) -> Figures:
    """Exact figures for ``period`` as the log stood at ``as_of`` (at most the period's end).

    ``fields`` are the restriction fields listed for each restriction in force.
    """
    fields = check_fields(list(fields))
    as_of = min(as_of, period.end)
    tally = _Tally(period, as_of)
    read = 0
    for entry in entries:
        read += 1
        if entry.time >= as_of:
            continue
        if entry.event_type.partition(".")[0] == "restriction":
            _restriction(tally, entry)
    return Figures(
        tables=tuple(_restriction_tables(tally)),
        in_force=_in_force(tally, fields),
        entries_read=read,
    )


# -- replay ------------------------------------------------------------------------------


_PHASE_AFTER: Final = {
    "proposed": "proposed",
    "approved": "active",
    "rejected": "rejected",
    "lift-proposed": "lift-proposed",
    "lift-approved": "lifted",
    "lift-rejected": "active",
    "promotion-proposed": "promotion-proposed",
    "promotion-approved": "active",
    "promotion-rejected": "active",
}


def _restriction(tally: _Tally, entry: PublicEntry) -> None:
    public = entry.public
    rid, kind = public.get("restriction"), public.get("kind")
    if not isinstance(rid, str) or kind not in _PHASE_AFTER:
        return  # e.g. restriction.guard-approved: no change of phase
    state = tally.restrictions.setdefault(rid, _Restriction())
    was_enforcing = state.enforcing
    state.phase = _PHASE_AFTER[str(kind)]
    here = tally.in_period(entry.time)
    if kind in ("approved", "promotion-approved"):
        # The approval's public form carries the body in effect from then on.
        state.fields = dict(public)
        state.approval = entry.index
        if state.enforcing and not was_enforcing:
            state.approved_at = entry.time
            if here:
                tally.restriction_events.append((state.fields, "imposed"))
    elif kind == "lift-approved":
        state.lifted_at = entry.time
        if here and was_enforcing:
            tally.restriction_events.append((state.fields, "lifted"))


# -- tables ------------------------------------------------------------------------------


def _with_total(rows: list[Row], width: int) -> tuple[Row, ...]:
    total = tuple(sum(int(r.values[c] or 0) for r in rows) for c in range(width))
    return (*rows, Row("total", total))


def _values(fields: Mapping[str, Any], dimension: str) -> list[str]:
    value = fields.get(dimension)
    if dimension == "service_tags":
        tags = [str(t) for t in value or ()] if isinstance(value, list) else []
        return tags or [NOT_PUBLISHED]
    return [str(value)] if value else [NOT_PUBLISHED]


_DIMENSIONS: Final = (
    ("policy", "policy", "prohibited-use policy"),
    ("sector", "sector", "customer sector"),
    ("country", "country", "customer country"),
    ("service-tag", "service_tags", "service tag"),
)
_GENERALIZED: Final = (
    " Each restriction is counted under the value its ledger entry publishes: generalized "
    "(a region for a country, public or private for a sector, a family for a service, or "
    "any) until the customers it could concern number at least the deployment's k."
)


def _restriction_tables(tally: _Tally) -> list[Table]:
    expired: list[dict[str, Any]] = []
    in_force: list[dict[str, Any]] = []
    for state in tally.restrictions.values():
        if state.in_force(tally.as_of):
            in_force.append(state.fields)
        not_after = state.window("not_after")
        started = state.enforced_from()
        if (
            not_after is not None
            and started is not None
            and started < not_after
            and tally.in_period(not_after)
            and (state.lifted_at is None or state.lifted_at > not_after)
        ):
            expired.append(state.fields)
    events = [
        *tally.restriction_events,
        *((f, "expired") for f in expired),
        *((f, "in force at end") for f in in_force),
    ]
    tables = []
    for name, dimension, words in _DIMENSIONS:
        counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for fields, column in events:
            for value in _values(fields, dimension):
                counts[value][column] += 1
        rows = [
            Row(value, tuple(counts[value][c] for c in RESTRICTION_COLUMNS))
            for value in sorted(counts)
        ]
        multi = dimension == "service_tags"
        tables.append(
            Table(
                name=f"restrictions-by-{name}",
                title=f"Restrictions, by {words}",
                description=(
                    f"Restrictions imposed (approved, in enforce mode), lifted and expired in "
                    f"the period, and in force at its end, by {words}."
                    + (_GENERALIZED if dimension != "policy" else "")
                    + (
                        " A restriction covering services of several tags counts once under "
                        "each, so the rows do not add up to a total."
                        if multi
                        else ""
                    )
                ),
                label=words,
                columns=RESTRICTION_COLUMNS,
                rows=tuple(rows) if multi else _with_total(rows, len(RESTRICTION_COLUMNS)),
                total=not multi,
                chart_column=3,
            )
        )
    return tables


# -- restrictions in force ---------------------------------------------------------------


def _in_force(tally: _Tally, fields: Sequence[str]) -> tuple[InForce, ...]:
    """In the order of the entries that approved them."""
    items = []
    for rid, state in tally.restrictions.items():
        if state.in_force(tally.as_of) and state.approval is not None:
            shown = {f: _listed(state.fields.get(f)) for f in fields}
            items.append(InForce(rid, state.approval, shown))
    return tuple(sorted(items, key=lambda item: item.entry))


def _listed(value: Any) -> Any:
    if isinstance(value, list):
        return [str(v) for v in value]
    return value
