"""Private records of a small story, and noise a test can predict, for the tests of
figures with differential privacy (``tests`` is on sys.path)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from brightline.transparency import Period
from brightline.transparency.investigations import PrivateRecord
from brightline.transparency.private_figures import Drawn

PERIOD = Period(date(2025, 10, 1), date(2025, 10, 31))
END = datetime(2025, 11, 1, tzinfo=UTC)
POLICIES = ("mass-surveillance",)


class Records:
    """Private records as the services write them (outbox payloads), in log order."""

    def __init__(self) -> None:
        self.items: list[PrivateRecord] = []

    def add(self, event_type: str, at: str, **record: Any) -> None:
        self.items.append(PrivateRecord(len(self.items), event_type, {"at": at, **record}))

    def signal(self, ref: str, at: str, source: str = "person") -> None:
        self.add("signal.received", at, signal=ref, source=source, nodes=["n"], policies=["p"])

    def case(self, case: str, move: str, at: str, **data: Any) -> None:
        self.add(f"case.{move}", at, case=case, kind=move, actor="someone", data=data)

    def restriction(self, rid: str, kind: str, at: str, **record: Any) -> None:
        self.add(f"restriction.{kind}", at, restriction=rid, kind=kind, **record)


def story() -> Records:
    log = Records()
    log.signal("S-1", "2025-09-28T00:00:00Z")  # before the period: not received in it
    log.signal("S-2", "2025-10-02T00:00:00Z", source="detector")
    log.signal("S-3", "2025-10-02T06:00:00Z")
    log.case("C-1", "opened", "2025-10-03T00:00:00Z", signals=["S-2"], title="t")
    log.case("C-1", "signal-attached", "2025-10-03T12:00:00Z", signal="S-1")
    log.case(
        "C-1",
        "finding-recorded",
        "2025-10-04T00:00:00Z",
        policy="mass-surveillance",
        outcome="substantiated",
    )
    log.case(
        "C-1", "finding-recorded", "2025-10-04T01:00:00Z", policy="weapons", outcome="inconclusive"
    )
    log.case("C-1", "decided", "2025-10-05T00:00:00Z", kind="restrict")
    body = {"id": "r-1", "mode": "enforce", "not_before": "2025-10-10T00:00:00Z"}
    log.restriction("r-1", "proposed", "2025-10-05T00:00:00Z", case="C-1", restriction_body=body)
    log.restriction("r-1", "approved", "2025-10-06T00:00:00Z", case="C-1")
    dry = {"id": "r-2", "mode": "dry-run"}
    log.restriction("r-2", "proposed", "2025-10-05T00:00:00Z", case="C-2", restriction_body=dry)
    log.restriction("r-2", "approved", "2025-10-06T00:00:00Z", case="C-2")
    log.add("restriction.guard-approved", "2025-10-06T00:00:00Z", restriction="r-2", plan=1)
    log.case("C-1", "appealed", "2025-10-07T00:00:00Z", grounds="g")
    log.case("C-1", "appeal-decided", "2025-10-08T00:00:00Z", outcome="upheld")
    log.case("C-1", "closed", "2025-10-20T00:00:00Z")
    log.case("C-2", "opened", "2025-06-01T00:00:00Z", signals=["S-3"], title="old")
    log.case("C-2", "decided", "2025-10-09T00:00:00Z", kind="no-restriction")
    log.case("C-3", "opened", "2025-11-02T00:00:00Z", signals=["S-3"])  # after the period
    return log


class FixedNoise:
    """Adds +1 to every value: a stand-in whose draws a test can predict."""

    name = "fixed +1"

    def __call__(self, true: Sequence[int], *, epsilon: float, sensitivity: int) -> Drawn:
        return Drawn(tuple(t + 1 for t in true), sensitivity / epsilon, epsilon)
