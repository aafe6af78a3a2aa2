"""The public channel after filing (``service.intake.file_public_report`` files): the
reporter follows up by receipt, investigators triage the intake queue and reply.

A wrong receipt learns nothing: every receipt, well-formed or not, is hashed and looked
up once, and every miss raises the same NotFoundError with the same message. What the
reporter is shown (:class:`~brightline.cases.ReporterView`) is the status and the
messages; never the case, its nodes, its findings or who replied.

Messages are correspondence, not steps of a case: they are not ledger entries (the log
records the report's receipt, ``signal.received``, and every move of its case).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from brightline.access import Principal
from brightline.cases import (
    Action,
    CaseStatus,
    MessageAuthor,
    ReporterIdentity,
    ReporterView,
    ReportMessage,
    ReportStatus,
    SourceKind,
    derive_case,
    receipt_hash,
)
from brightline.cases.model import check_text
from brightline.errors import NotFoundError
from brightline.service.cases import now_utc, parse_signal_ref, require
from brightline.store import Store
from brightline.store.cases import (
    StoredSignal,
    all_case_events,
    case_events_mentioning,
    get_signal,
    reporter_identity,
)
from brightline.store.public_reports import (
    StoredDocument,
    StoredMessage,
    add_message,
    document_of,
    documents,
    messages_of,
    public_subjects,
    report_by_receipt,
)

#: The one answer to every receipt that opens no report.
NO_REPORT: Final = "no report with this receipt (receipts are case-sensitive; check for typos)"
MAX_MESSAGE: Final = 4000


def _report_of(session: Session, receipt: str) -> StoredSignal:
    # One hash and one indexed lookup for every receipt, whatever its form.
    signal_id = report_by_receipt(session, receipt_hash(receipt))
    signal = None if signal_id is None else get_signal(session, signal_id)
    if signal is None:
        raise NotFoundError(NO_REPORT)
    return signal


def _minute(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _cases_by_signal(
    session: Session, only: str | None = None
) -> dict[str, tuple[str, CaseStatus]]:
    """The case each signal belongs to (the first that took it) and its status; ``only``:
    read just the cases whose steps mention that signal's ref."""
    found: dict[str, tuple[str, CaseStatus]] = {}
    cases = all_case_events(session) if only is None else case_events_mentioning(session, only)
    for case_id, events in cases.items():
        state = derive_case(events)
        for ref in state.signals:
            found.setdefault(ref, (case_id, state.status))
    return found


def _status(case: tuple[str, CaseStatus] | None) -> ReportStatus:
    if case is None:
        return ReportStatus.RECEIVED
    return ReportStatus.CLOSED if case[1] is CaseStatus.CLOSED else ReportStatus.UNDER_REVIEW


def _reporter_messages(stored: list[StoredMessage]) -> tuple[ReportMessage, ...]:
    return tuple(ReportMessage(MessageAuthor(m.author), m.text, _minute(m.at)) for m in stored)


def report_status(store: Store, receipt: str) -> ReporterView:
    """What the holder of ``receipt`` may see; NotFoundError (:data:`NO_REPORT`) if it
    opens no report."""
    with store.read() as session:
        signal = _report_of(session, receipt)
        case = _cases_by_signal(session, only=signal.ref).get(signal.ref)
        return ReporterView(
            _status(case),
            signal.received_at.strftime("%Y-%m-%d"),
            _reporter_messages(messages_of(session, [signal.id])),
        )


def write_as_reporter(
    store: Store, receipt: str, text: str, *, now: datetime | None = None
) -> ReporterView:
    """Add the reporter's message to their report; what they may see now."""
    text = check_text(text, "text", limit=MAX_MESSAGE)
    at = now_utc(now)
    with store.write() as session:
        signal = _report_of(session, receipt)
        add_message(session, signal.id, at=at, author=MessageAuthor.REPORTER, actor=None, text=text)
    return report_status(store, receipt)


def reply_to_reporter(
    store: Store, signal_ref: str, text: str, *, actor: Principal, now: datetime | None = None
) -> None:
    """An investigator's reply, which the reporter reads by receipt (signed
    "investigator": the reporter never learns who)."""
    text = check_text(text, "text", limit=MAX_MESSAGE)
    at = now_utc(now)
    with store.write() as session:
        require(actor, Action.TRIAGE_REPORTS)
        signal = _public_signal(session, signal_ref)
        add_message(
            session,
            signal.id,
            at=at,
            author=MessageAuthor.INVESTIGATOR,
            actor=actor.name,
            text=text,
        )


def _public_signal(session: Session, signal_ref: str) -> StoredSignal:
    signal = get_signal(session, parse_signal_ref(signal_ref))
    if signal is None or signal.source_kind != SourceKind.PUBLIC.value:
        raise NotFoundError(f"no public report {signal_ref!r}")
    return signal


@dataclass(frozen=True, slots=True)
class QueuedReport:
    """A public report as investigators see it in the intake queue."""

    signal: StoredSignal
    subject: str
    document: StoredDocument | None
    #: The case that took it, and that case's status; None while it waits.
    case: tuple[str, CaseStatus] | None
    #: Messages, each with the investigator who wrote it (None: the reporter).
    messages: tuple[StoredMessage, ...]
    #: Only for those who may see reporters (case admins), and only if one was left.
    contact: str | None

    @property
    def status(self) -> ReportStatus:
        return _status(self.case)

    def to_json(self) -> dict[str, Any]:
        return {
            "signal": self.signal.ref,
            "received_at": self.signal.received_at.isoformat(),
            "policies": list(self.signal.policies),
            "subject": self.subject,
            "summary": self.signal.summary,
            "references": [dict(r) for r in self.signal.references],
            "document": None
            if self.document is None
            else {"sha256": self.document.sha256, "size": self.document.size},
            "case": None if self.case is None else self.case[0],
            "status": self.status.value,
            "messages": [
                {"from": m.author, "by": m.actor, "at": m.at.isoformat(), "text": m.text}
                for m in self.messages
            ],
            "contact": self.contact,
        }


def intake_queue(store: Store, *, actor: Principal) -> list[QueuedReport]:
    """Every public report, newest first; those still waiting for a case first of all."""
    with store.read() as session:
        require(actor, Action.TRIAGE_REPORTS)
        subjects = public_subjects(session)
        docs = documents(session)
        cases = _cases_by_signal(session)
        by_signal: dict[int, list[StoredMessage]] = {}
        for message in messages_of(session, list(subjects)):
            by_signal.setdefault(message.signal_id, []).append(message)
        may_see_reporter = actor.may(Action.VIEW_REPORTER)
        queued = []
        for signal_id, subject in subjects.items():
            signal = get_signal(session, signal_id)
            if signal is None:  # pragma: no cover - a foreign key holds it
                continue
            identity = (
                reporter_identity(session, signal_id, store.secrets) if may_see_reporter else None
            )
            queued.append(
                QueuedReport(
                    signal,
                    subject,
                    docs.get(signal_id),
                    cases.get(signal.ref),
                    tuple(by_signal.get(signal_id, ())),
                    _contact(identity),
                )
            )
    return sorted(queued, key=lambda q: (q.case is not None, -q.signal.id))


def _contact(identity: ReporterIdentity | None) -> str | None:
    return None if identity is None else identity.contact


def report_document(
    store: Store, signal_ref: str, *, actor: Principal
) -> tuple[StoredDocument, bytes]:
    """The document a public report carried, opened."""
    with store.read() as session:
        require(actor, Action.TRIAGE_REPORTS)
        signal = _public_signal(session, signal_ref)
        found = document_of(session, signal.id, store.secrets)
    if found is None:
        raise NotFoundError(f"public report {signal_ref} carried no document")
    return found


def policy_choices(names: Mapping[str, str]) -> list[tuple[str, str]]:
    """The policies a reporter may choose from, by public name."""
    return sorted(names.items(), key=lambda item: item[1].casefold())
