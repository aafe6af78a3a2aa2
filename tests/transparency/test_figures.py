"""Figures come from public forms only: built here from hand-written entries, shaped as
``brightline.disclosure`` publishes them (opaque references, generalized scopes, days)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest

from brightline.errors import InvalidInputError
from brightline.transparency import Period, PublicEntry, compute_figures, suppress
from brightline.transparency.model import Figures

PERIOD = Period(date(2025, 10, 1), date(2025, 10, 31))
END = datetime(2025, 11, 1, tzinfo=UTC)


class Log:
    def __init__(self) -> None:
        self.entries: list[PublicEntry] = []

    def add(self, event_type: str, when: str, public: Mapping[str, Any]) -> None:
        form = {"v": 1, "type": event_type, "time": when, "commitment": "00", "public": public}
        data = json.dumps(form, sort_keys=True).encode()
        self.entries.append(PublicEntry.parse(len(self.entries), data))

    def restriction(self, rid: str, kind: str, when: str, **fields: Any) -> None:
        self.add(f"restriction.{kind}", when, {"restriction": rid, "kind": kind, **fields})

    def figures(self, fields: tuple[str, ...] = ("policy", "sector")) -> Figures:
        return compute_figures(self.entries, period=PERIOD, as_of=END, fields=fields)


def rows(figures: Figures, name: str) -> dict[str, tuple[Any, ...]]:
    table = next(t for t in figures.tables if t.name == name)
    return {row.label: row.values for row in table.rows}


BODY = {
    "policy": "mass-surveillance",
    "mode": "enforce",
    "sector": "public",
    "country": "any",
    "scope_kind": "unit",
    "service_tags": ["object-storage", "speech-to-text"],
}


def test_only_enforcement_is_counted() -> None:
    """Investigations publish nothing individually, so nothing is counted of them: the
    report's tables are the restriction tables only."""
    log = Log()
    log.add("signal.received", "2025-10-02T00:00:00Z", {})
    log.add("case.opened", "2025-10-03T00:00:00Z", {})
    log.restriction("R-1", "approved", "2025-10-08T00:00:00Z", **BODY)
    figures = log.figures()
    assert [t.name for t in figures.tables] == [
        "restrictions-by-policy",
        "restrictions-by-sector",
        "restrictions-by-country",
        "restrictions-by-service-tag",
    ]
    assert rows(figures, "restrictions-by-sector")["public"] == (1, 0, 0, 1)
    assert rows(figures, "restrictions-by-country")["any"] == (1, 0, 0, 1)
    assert rows(figures, "restrictions-by-service-tag") == {
        "object-storage": (1, 0, 0, 1),
        "speech-to-text": (1, 0, 0, 1),
    }
    assert [(i.restriction, i.entry, dict(i.fields)) for i in figures.in_force] == [
        ("R-1", 2, {"policy": "mass-surveillance", "sector": "public"})
    ]
    assert figures.entries_read == 3


def test_lifted_dry_run_expired_and_future_restrictions() -> None:
    log = Log()
    log.restriction("R-1", "approved", "2025-09-02T00:00:00Z", **BODY)
    log.restriction("R-1", "lift-approved", "2025-10-11T00:00:00Z", **BODY)
    dry = {**BODY, "mode": "dry-run"}
    log.restriction("R-2", "approved", "2025-10-02T00:00:00Z", **dry)
    short = {**BODY, "not_after": "2025-10-20T00:00:00Z"}
    log.restriction("R-3", "approved", "2025-10-02T00:00:00Z", **short)
    later = {**BODY, "not_before": "2025-12-01T00:00:00Z"}
    log.restriction("R-4", "approved", "2025-10-02T00:00:00Z", **later)
    # A promotion from dry-run to enforce imposes it.
    log.restriction("R-2", "promotion-approved", "2025-10-26T00:00:00Z", **BODY)
    # After the period: ignored.
    log.restriction("R-2", "lift-approved", "2025-11-03T00:00:00Z", **BODY)
    figures = log.figures()
    # Imposed: R-3 and the promoted R-2; R-4 comes into force in December.
    assert rows(figures, "restrictions-by-policy")["mass-surveillance"] == (2, 1, 1, 1)
    assert [i.restriction for i in figures.in_force] == ["R-2"]
    assert figures.in_force[0].entry == 5  # the promotion-approved entry


def test_restrictions_in_force_are_listed_in_the_order_they_were_approved() -> None:
    log = Log()
    for n in (10, 9, 2):
        log.restriction(f"R-{n}", "approved", "2025-10-02T00:00:00Z", **BODY)
    assert [i.restriction for i in log.figures().in_force] == ["R-10", "R-9", "R-2"]


def test_figures_hold_at_as_of_inside_the_period() -> None:
    log = Log()
    log.restriction("R-1", "approved", "2025-10-08T00:00:00Z", **BODY)
    early = compute_figures(
        log.entries,
        period=PERIOD,
        as_of=datetime(2025, 10, 6, tzinfo=UTC),
        fields=(),
    )
    assert rows(early, "restrictions-by-policy") == {"total": (0, 0, 0, 0)}
    assert early.in_force == ()


def test_suppressed_figures_with_k() -> None:
    log = Log()
    log.restriction("R-1", "approved", "2025-10-08T00:00:00Z", **BODY)
    published = [suppress(t, 5) for t in log.figures().tables]
    by_policy = next(t for t in published if t.name == "restrictions-by-policy")
    # "in force at end" is shown as counted: the list of restrictions in force names each.
    assert by_policy.rows[0] == ("mass-surveillance", ("< 5", 0, 0, 1))


def test_a_restriction_lifted_on_the_day_it_was_approved_is_imposed_and_lifted() -> None:
    """Both entries publish the same day; the log's order says it was in force a while."""
    log = Log()
    log.restriction("R-1", "approved", "2025-10-08T00:00:00Z", **BODY)
    log.restriction("R-1", "lift-approved", "2025-10-08T00:00:00Z", **BODY)
    # A window that ends the day it starts is empty: never in force.
    empty = {**BODY, "not_before": "2025-10-09T00:00:00Z", "not_after": "2025-10-09T00:00:00Z"}
    log.restriction("R-2", "approved", "2025-10-08T00:00:00Z", **empty)
    figures = log.figures()
    assert rows(figures, "restrictions-by-policy")["mass-surveillance"] == (1, 1, 0, 0)
    assert figures.in_force == ()


def test_unknown_fields_and_bad_periods_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown fields"):
        compute_figures([], period=PERIOD, as_of=END, fields=("name",))
    with pytest.raises(InvalidInputError, match="unknown fields"):
        compute_figures([], period=PERIOD, as_of=END, fields=("case",))  # never published
    with pytest.raises(InvalidInputError, match="before the start"):
        Period(date(2025, 10, 2), date(2025, 10, 1))
