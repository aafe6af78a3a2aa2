"""Decision logs: what enforcement points denied and would have denied, as they report it.

A report carries counts per restriction, node and hour, a sample of full decisions and
how many records the point had to drop (a full buffer is reported, never hidden). A
report id makes a retried report count once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func, select

from brightline.errors import InvalidInputError, Problem
from brightline.store import Store
from brightline.store.serving_models import (
    DecisionLogCountRow,
    DecisionLogReportRow,
    DecisionLogSampleRow,
)

EFFECTS: Final = frozenset({"deny", "would-deny"})
MAX_SAMPLES: Final = 1_000
MAX_COUNTS: Final = 100_000


@dataclass(frozen=True, slots=True)
class DecisionCount:
    restriction: str
    node: str
    hour: datetime
    effect: str
    count: int


@dataclass(frozen=True, slots=True)
class DecisionLogReport:
    report_id: str
    enforcement_point: str
    counts: Sequence[DecisionCount]
    samples: Sequence[dict[str, Any]]
    dropped: int = 0

    def check(self) -> None:
        problems = []
        if not self.report_id or len(self.report_id) > 64:
            problems.append(Problem("report_id", "must be 1–64 characters"))
        if len(self.counts) > MAX_COUNTS:
            problems.append(Problem("counts", f"at most {MAX_COUNTS} per report"))
        if len(self.samples) > MAX_SAMPLES:
            problems.append(Problem("samples", f"at most {MAX_SAMPLES} per report"))
        if self.dropped < 0:
            problems.append(Problem("dropped", "must not be negative"))
        for i, c in enumerate(self.counts):
            if c.effect not in EFFECTS:
                problems.append(Problem(f"counts[{i}].effect", "must be deny or would-deny"))
            if c.count < 0:
                problems.append(Problem(f"counts[{i}].count", "must not be negative"))
            if c.hour.tzinfo is None:
                problems.append(Problem(f"counts[{i}].hour", "must carry a time zone"))
        if problems:
            raise InvalidInputError(problems)


def record_report(store: Store, report: DecisionLogReport, *, now: datetime | None = None) -> bool:
    """Keep a report; False (and nothing written) if this report id was already received."""
    report.check()
    at = now or datetime.now(UTC)
    with store.write() as session:
        if session.get(DecisionLogReportRow, report.report_id) is not None:
            return False
        session.add(
            DecisionLogReportRow(
                report_id=report.report_id,
                enforcement_point=report.enforcement_point,
                received_at=at,
                dropped=report.dropped,
            )
        )
        session.add_all(
            DecisionLogCountRow(
                enforcement_point=report.enforcement_point,
                report_id=report.report_id,
                restriction_id=c.restriction,
                node=c.node,
                hour=c.hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0),
                effect=c.effect,
                count=c.count,
                received_at=at,
            )
            for c in report.counts
        )
        session.add_all(
            DecisionLogSampleRow(
                enforcement_point=report.enforcement_point,
                report_id=report.report_id,
                # ASCII-escaped: a sample is the client's data and may hold any code point.
                decision=json.dumps(sample, sort_keys=True, separators=(",", ":")),
                received_at=at,
            )
            for sample in report.samples
        )
    return True


@dataclass(frozen=True, slots=True)
class DecisionTotals:
    by_restriction: dict[tuple[str, str], int]
    dropped: int


def decision_totals(
    store: Store, *, since: datetime | None = None, until: datetime | None = None
) -> DecisionTotals:
    """Totals per (restriction, effect) over the hours in ``[since, until)``."""
    with store.read() as session:
        query = select(
            DecisionLogCountRow.restriction_id,
            DecisionLogCountRow.effect,
            func.sum(DecisionLogCountRow.count),
        ).group_by(DecisionLogCountRow.restriction_id, DecisionLogCountRow.effect)
        if since is not None:
            query = query.where(DecisionLogCountRow.hour >= since)
        if until is not None:
            query = query.where(DecisionLogCountRow.hour < until)
        totals = {(r, e): int(n or 0) for r, e, n in session.execute(query)}
        dropped = session.scalar(select(func.coalesce(func.sum(DecisionLogReportRow.dropped), 0)))
    return DecisionTotals(totals, int(dropped or 0))
