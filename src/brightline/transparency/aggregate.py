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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from brightline.transparency.model import (
    Figures,
    InForce,
    Period,
    PublicEntry,
    check_fields,
    parse_time,
)
from brightline.transparency.spells import (
    NOT_PUBLISHED,
    RESTRICTION_COLUMNS,
    restriction_spells,
    restriction_tables,
)
from brightline.transparency.suppression import Place

__all__ = ["COPIES", "NOT_PUBLISHED", "RESTRICTION_COLUMNS", "compute_figures"]

_ACTIVE: Final = frozenset({"active", "lift-proposed", "promotion-proposed"})

#: Figures published in more than one place, for the tables suppressed one report at a
#: time (see :func:`~brightline.transparency.suppression.suppress_tables`): none now. The
#: restriction tables, whose totals are one figure in three places, are suppressed
#: together over the series of reports (see ``series``), and are the only tables counted.
COPIES: Final[tuple[tuple[Place, ...], ...]] = ()


@dataclass(slots=True)
class _Restriction:
    phase: str = "proposed"
    fields: dict[str, Any] = field(default_factory=dict)
    approval: int | None = None

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


@dataclass(slots=True)
class _Tally:
    """Running counts while the entries are replayed in log order."""

    period: Period
    as_of: datetime
    restrictions: dict[str, _Restriction] = field(default_factory=dict)
    restriction_entries: list[PublicEntry] = field(default_factory=list)


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
            tally.restriction_entries.append(entry)
    return Figures(
        # Counted from when each restriction was in force (see ``spells``).
        tables=tuple(
            restriction_tables(
                restriction_spells(tally.restriction_entries, as_of=as_of),
                start=period.start,
                as_of=as_of,
            )
        ),
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
    "bootstrapped": "active",
}


def _restriction(tally: _Tally, entry: PublicEntry) -> None:
    public = entry.public
    rid, kind = public.get("restriction"), public.get("kind")
    if not isinstance(rid, str) or kind not in _PHASE_AFTER:
        return  # e.g. restriction.guard-approved: no change of phase
    state = tally.restrictions.setdefault(rid, _Restriction())
    state.phase = _PHASE_AFTER[str(kind)]
    if kind in ("approved", "promotion-approved", "bootstrapped"):
        # The approval's public form carries the body in effect from then on.
        state.fields = dict(public)
        state.approval = entry.index


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
