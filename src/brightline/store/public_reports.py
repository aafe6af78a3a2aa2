"""Repositories for public reports: receipt hashes, sealed documents and messages. No
business rules; a document is sealed as it is written and opened only by
:func:`document_of`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from brightline.store.case_models import (
    PublicReportDocumentRow,
    PublicReportMessageRow,
    PublicReportRow,
)
from brightline.store.secrets import SealedField, StoreSecrets


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    signal_id: int
    at: datetime
    author: str
    actor: str | None
    text: str


@dataclass(frozen=True, slots=True)
class StoredDocument:
    sha256: str
    size: int


def add_public_report(session: Session, signal_id: int, *, receipt_hash: str, subject: str) -> None:
    session.add(PublicReportRow(signal_id=signal_id, receipt_hash=receipt_hash, subject=subject))
    session.flush()


def report_by_receipt(session: Session, receipt_hash: str) -> int | None:
    """The signal id of the report whose receipt hashes to ``receipt_hash``."""
    value = session.scalar(
        select(PublicReportRow.signal_id).where(PublicReportRow.receipt_hash == receipt_hash)
    )
    return None if value is None else int(value)


def public_subjects(session: Session) -> dict[int, str]:
    """Every public report's subject, by signal id."""
    rows = session.execute(select(PublicReportRow.signal_id, PublicReportRow.subject))
    return {int(signal_id): subject for signal_id, subject in rows}


def add_document(
    session: Session,
    signal_id: int,
    content: bytes,
    *,
    sha256: str,
    secrets: StoreSecrets,
) -> None:
    keyring = secrets.for_sealing(session)
    body = keyring.seal_bytes(content, field=SealedField.PUBLIC_REPORT_DOCUMENT, row=signal_id)
    session.add(
        PublicReportDocumentRow(signal_id=signal_id, sha256=sha256, size=len(content), body=body)
    )
    session.flush()


def documents(session: Session) -> dict[int, StoredDocument]:
    """The hash and size of every stored document, by signal id (nothing opened)."""
    rows = session.execute(
        select(
            PublicReportDocumentRow.signal_id,
            PublicReportDocumentRow.sha256,
            PublicReportDocumentRow.size,
        )
    )
    return {int(s): StoredDocument(h, int(n)) for s, h, n in rows}


def document_of(
    session: Session, signal_id: int, secrets: StoreSecrets
) -> tuple[StoredDocument, bytes] | None:
    row = session.get(PublicReportDocumentRow, signal_id)
    if row is None:
        return None
    content = secrets.for_opening().open_bytes(
        row.body, field=SealedField.PUBLIC_REPORT_DOCUMENT, row=signal_id
    )
    return StoredDocument(row.sha256, row.size), content


def add_message(
    session: Session, signal_id: int, *, at: datetime, author: str, actor: str | None, text: str
) -> StoredMessage:
    row = PublicReportMessageRow(signal_id=signal_id, at=at, author=author, actor=actor, text=text)
    session.add(row)
    session.flush()
    return _message(row)


def messages_of(session: Session, signal_ids: list[int] | None = None) -> list[StoredMessage]:
    """Messages in the order written, of the given reports (all if None)."""
    query = select(PublicReportMessageRow).order_by(PublicReportMessageRow.seq)
    if signal_ids is not None:
        query = query.where(PublicReportMessageRow.signal_id.in_(signal_ids))
    return [_message(row) for row in session.scalars(query)]


def _message(row: PublicReportMessageRow) -> StoredMessage:
    return StoredMessage(row.seq, row.signal_id, row.at, row.author, row.actor, row.text)
