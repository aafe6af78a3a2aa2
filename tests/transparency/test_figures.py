"""Figures come from public forms only: built here from hand-written entries."""

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
    "sector": "intelligence",
    "country": "XF",
    "service_tags": ["object-storage", "speech-to-text"],
    "case": "C-1",
}


def seed_case(log: Log) -> None:
    log.add("signal.received", "2025-09-28T00:00:00Z", {"signal": "S-1", "source": "person"})
    log.add("signal.received", "2025-10-02T00:00:00Z", {"signal": "S-2", "source": "detector"})
    log.add("case.opened", "2025-10-03T00:00:00Z", {"case": "C-1", "signals": ["S-2"]})
    log.add("case.signal-attached", "2025-10-03T12:00:00Z", {"case": "C-1", "signals": ["S-1"]})
    log.add(
        "case.finding-recorded",
        "2025-10-04T00:00:00Z",
        {"case": "C-1", "policy": "mass-surveillance", "outcome": "substantiated"},
    )
    log.restriction("r-1", "proposed", "2025-10-05T00:00:00Z", **BODY)
    log.add("case.decided", "2025-10-05T00:00:00Z", {"case": "C-1", "decision": "restrict"})
    log.restriction("r-1", "approved", "2025-10-08T00:00:00Z", **BODY)


def test_a_case_from_first_report_to_enforcement() -> None:
    log = Log()
    seed_case(log)
    figures = log.figures()
    assert rows(figures, "reports-by-source") == {
        "person": (0,),  # received before the period
        "detector": (1,),
        "total": (1,),
    }
    assert rows(figures, "cases")["opened"] == (1,)
    assert rows(figures, "cases")["decided: restrict"] == (1,)
    assert rows(figures, "cases")["open at end of period"] == (1,)
    assert rows(figures, "findings-by-policy")["mass-surveillance"] == (1, 0, 0)
    # The first report is S-1, attached later but received on 28 September.
    times = rows(figures, "time-to-action")
    assert times["first report to decision"] == (1, 7.0)
    assert times["first report to enforcement"] == (1, 10.0)
    assert rows(figures, "restrictions-by-sector")["intelligence"] == (1, 0, 0, 1)
    assert rows(figures, "restrictions-by-service-tag") == {
        "object-storage": (1, 0, 0, 1),
        "speech-to-text": (1, 0, 0, 1),
    }
    assert [(i.restriction, i.entry, dict(i.fields)) for i in figures.in_force] == [
        ("r-1", 7, {"policy": "mass-surveillance", "sector": "intelligence"})
    ]


def test_lifted_dry_run_expired_and_future_restrictions() -> None:
    log = Log()
    log.restriction("r-lift", "proposed", "2025-09-01T00:00:00Z", **BODY)
    log.restriction("r-lift", "approved", "2025-09-02T00:00:00Z", **BODY)
    log.restriction("r-lift", "lift-proposed", "2025-10-10T00:00:00Z")
    log.restriction("r-lift", "lift-approved", "2025-10-11T00:00:00Z", **BODY)
    dry = {**BODY, "mode": "dry-run"}
    log.restriction("r-dry", "proposed", "2025-10-01T00:00:00Z", **dry)
    log.restriction("r-dry", "approved", "2025-10-02T00:00:00Z", **dry)
    short = {**BODY, "not_after": "2025-10-20T00:00:00Z"}
    log.restriction("r-short", "proposed", "2025-10-01T00:00:00Z", **short)
    log.restriction("r-short", "approved", "2025-10-02T00:00:00Z", **short)
    later = {**BODY, "not_before": "2025-12-01T00:00:00Z"}
    log.restriction("r-later", "approved", "2025-10-02T00:00:00Z", **later)
    # A promotion from dry-run to enforce imposes it.
    log.restriction("r-dry", "promotion-proposed", "2025-10-25T00:00:00Z", **BODY)
    log.restriction("r-dry", "promotion-approved", "2025-10-26T00:00:00Z", **BODY)
    # After the period: ignored.
    log.restriction("r-dry", "lift-proposed", "2025-11-02T00:00:00Z")
    log.restriction("r-dry", "lift-approved", "2025-11-03T00:00:00Z", **BODY)
    figures = log.figures()
    # Imposed: r-short and the promoted r-dry; r-later comes into force in December.
    assert rows(figures, "restrictions-by-policy")["mass-surveillance"] == (2, 1, 1, 1)
    assert [i.restriction for i in figures.in_force] == ["r-dry"]
    assert figures.in_force[0].entry == 10  # the promotion-approved entry


def test_appeals_and_closing() -> None:
    log = Log()
    seed_case(log)
    log.add("case.appealed", "2025-10-10T00:00:00Z", {"case": "C-1"})
    log.add("case.appeal-decided", "2025-10-12T00:00:00Z", {"case": "C-1", "appeal": "lift"})
    log.add("case.closed", "2025-10-13T00:00:00Z", {"case": "C-1"})
    figures = log.figures()
    assert rows(figures, "appeals") == {
        "received": (1,),
        "decided: lift": (1,),
        "decided: upheld": (0,),
    }
    assert rows(figures, "case-age")["under 30 days"] == (1, 0)
    assert rows(figures, "cases")["open at end of period"] == (0,)
    assert rows(figures, "time-to-action")["case opened to closed"] == (1, 10.0)


def test_figures_hold_at_as_of_inside_the_period() -> None:
    log = Log()
    seed_case(log)
    early = compute_figures(
        log.entries,
        period=PERIOD,
        as_of=datetime(2025, 10, 6, tzinfo=UTC),
        fields=(),
    )
    assert rows(early, "restrictions-by-policy") == {"total": (0, 0, 0, 0)}
    assert rows(early, "cases")["decided: restrict"] == (1,)
    assert early.in_force == ()


def test_suppressed_figures_with_k() -> None:
    log = Log()
    seed_case(log)
    published = [suppress(t, 5) for t in log.figures().tables]
    reports = next(t for t in published if t.name == "reports-by-source")
    assert reports.rows == (("person", (0,)), ("detector", ("< 5",)), ("total", ("< 5",)))


def test_unknown_fields_and_bad_periods_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown fields"):
        compute_figures([], period=PERIOD, as_of=END, fields=("name",))
    with pytest.raises(InvalidInputError, match="before the start"):
        Period(date(2025, 10, 2), date(2025, 10, 1))
