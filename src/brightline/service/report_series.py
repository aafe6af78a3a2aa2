"""The series of transparency reports a deployment releases: what each report's
restriction tables showed and hid, recorded so that every later report is suppressed
together with it (:mod:`brightline.transparency.series`).

A report's series release is an outbox event of type ``transparency.released``, the type
its release of figures with differential privacy has too (one type, whose public form is
its type and day only: ``brightline.disclosure``). Its record holds the series part under
``suppression`` (:data:`~brightline.store.releases.SUPPRESSION`); the privacy budget
counts no ε for it (``brightline.service.private_figures``) and
:func:`released_series` reads only records of that kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from brightline.errors import ConflictError
from brightline.store import append_outbox
from brightline.store.releases import SUPPRESSION, released_reports
from brightline.transparency import RESTRICTION_TABLES, Report, SeriesRelease, released


def released_series(session: Session, k: int) -> tuple[SeriesRelease, ...]:
    """The reports released so far, oldest first; ConflictError if one was released with
    another k (k is fixed for a deployment: two reports of one period with different k
    set side by side narrow what each hides)."""
    releases = tuple(
        SeriesRelease.from_json(r.data()[SUPPRESSION]["release"]) for r in released_reports(session)
    )
    for release in releases:
        if release.k != k:
            raise ConflictError(
                f"k is fixed for a deployment: reports were released with k = {release.k} "
                f"(the first for {release.period.first} to {release.period.last}); a report "
                f"with k = {k} would let a reader set the two side by side"
            )
    return releases


def record_series_release(session: Session, report: Report, *, at: datetime) -> None:
    """Append ``report``'s series release, in the caller's write transaction.

    Raises ConflictError if a report was released since ``report`` read the series (its
    ``parameters.series``): it was not suppressed with that one, and must be made again.
    """
    parameters = report.parameters
    if released_series(session, parameters.k) != parameters.series:
        raise ConflictError(
            "another transparency report was released while this one was made: make it "
            "again, so that it is suppressed with that one too"
        )
    # The type as a literal: tests read the types written from these calls. It is
    # brightline.store.releases.RELEASED, which reads them back.
    append_outbox(session, "transparency.released", _record(report), at=at)


def _record(report: Report) -> dict[str, Any]:
    """What a released report's restriction tables published and hid, for the reports
    after it, and the restrictions it listed in force (by public reference)."""
    parameters = report.parameters
    tables = [t for t in report.tables if t.name in RESTRICTION_TABLES]
    return {
        SUPPRESSION: {
            "release": released(
                tables, period=parameters.period, as_of=parameters.as_of, k=parameters.k
            ).to_json(),
            "checkpoint_size": report.checkpoint.size,
            "tables": {t.name: t.to_json()["rows"] for t in tables},
            "in_force": [p.item.restriction for p in report.in_force],
        },
    }
