"""A public report's status reads only the cases whose steps name its signal, and says
what reading every case would say."""

from __future__ import annotations

from brightline.cases import PublicReport
from brightline.service.cases import attach_signal, close_case, open_case
from brightline.service.intake import file_public_report
from brightline.service.public_reports import ReportStatus, _cases_by_signal, report_status
from brightline.store import Store
from brightline.store.case_models import PublicReportRow
from cases.case_scenarios import ADMIN, report, with_people

POLICY = "mass-surveillance"


def _file(store: Store) -> tuple[str, str]:
    """A public report: its receipt and its signal's ref."""
    assert store.settings is not None
    receipt = file_public_report(
        store, store.settings, PublicReport(POLICY, "a subject", "what was seen")
    )
    with store.read() as session:
        newest = max(session.query(PublicReportRow).all(), key=lambda row: row.signal_id)
    return receipt, f"S-{newest.signal_id}"


def test_the_narrowed_read_agrees_with_reading_every_case(store: Store) -> None:
    people = with_people(store)
    admin = people[ADMIN]
    # Signals S-1… and S-1x share a prefix: a narrowed read must not mix them up.
    filed = [_file(store) for _ in range(12)]
    refs = [ref for _, ref in filed]
    staff = report(store, actor=admin)
    first = open_case(store, actor=admin, title="one", signals=[refs[0]], nodes=["unit-9900"])
    attach_signal(store, first.id, refs[10], actor=admin, nodes=["unit-9900"])
    second = open_case(
        store, actor=admin, title="two", signals=[refs[1], staff], nodes=["unit-9900"]
    )
    # A signal taken by two cases belongs to the first that took it.
    attach_signal(store, second.id, refs[0], actor=admin, nodes=["unit-9900"])
    close_case(store, second.id, actor=admin, why="nothing in it")

    expected = {
        refs[0]: ReportStatus.UNDER_REVIEW,
        refs[1]: ReportStatus.CLOSED,
        refs[10]: ReportStatus.UNDER_REVIEW,
    }
    with store.read() as session:
        every = _cases_by_signal(session)
        for ref in refs:
            assert _cases_by_signal(session, only=ref).get(ref) == every.get(ref), ref
    for receipt, ref in filed:
        assert report_status(store, receipt).status is expected.get(ref, ReportStatus.RECEIVED)
