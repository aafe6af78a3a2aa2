"""Reports filed through the public channel (``/report``): what a reporter sends, what the
receipt is, and what the reporter may learn back.

A public report names a policy, its subject in words (a customer or unit as the reporter
knows it, not a node id), a summary, references (URLs, or SHA-256 digests of documents
the reporter holds) and optionally one document and a contact. The reporter gets a
**receipt**: 256 random bits, shown once; the store keeps only its SHA-256, so a copy of
the database cannot follow anyone's report. With the receipt the reporter reads the
report's status and the messages exchanged with investigators, and writes back.

Pure: no clock, store or randomness here (the service makes receipts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from brightline.cases.evidence import SHA256, URL
from brightline.cases.model import MAX_TEXT, Reference, check_text
from brightline.errors import InvalidInputError, Problem, TooLargeError

#: The largest document a public report may carry.
MAX_DOCUMENT_BYTES: Final = 10 * 1024 * 1024
MAX_REFERENCES: Final = 20
MAX_SUBJECT: Final = 200
#: A contact is whatever the reporter chooses to be reached by (an address, a handle).
MAX_CONTACT: Final = 200
#: What a case admin sees as the "name" of a public reporter who left a contact.
PUBLIC_REPORTER: Final = "public report (no name given)"


class ReportStatus(StrEnum):
    """What the reporter is told: never the case, its findings or its decision."""

    #: Waiting for an investigator to read it.
    RECEIVED = "received"
    #: Part of an open case.
    UNDER_REVIEW = "under-review"
    #: Its case is closed.
    CLOSED = "closed"


class MessageAuthor(StrEnum):
    REPORTER = "reporter"
    INVESTIGATOR = "investigator"


@dataclass(frozen=True, slots=True)
class PublicReport:
    """A report as filed; each field checked, each problem named by its field."""

    policy: str
    subject: str
    summary: str
    references: tuple[Reference, ...] = ()
    contact: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        policy: str,
        subject: str,
        summary: str,
        references: Sequence[str],
        contact: str | None,
    ) -> PublicReport:
        """Every problem of the report at once (InvalidInputError), or the report."""
        problems: list[Problem] = []
        checked: dict[str, str] = {}
        for where, value, limit in (
            ("subject", subject, MAX_SUBJECT),
            ("summary", summary, MAX_TEXT),
        ):
            try:
                checked[where] = check_text(value, where, limit=limit)
            except InvalidInputError as exc:
                problems.extend(exc.problems)
        refs: list[Reference] = []
        if len(references) > MAX_REFERENCES:
            problems.append(Problem("references", f"at most {MAX_REFERENCES}"))
        for number, text in enumerate(references[:MAX_REFERENCES]):
            try:
                refs.append(parse_reference(text, f"references[{number}]"))
            except InvalidInputError as exc:
                problems.extend(exc.problems)
        contact = (contact or "").strip() or None
        if contact is not None:
            try:
                check_text(contact, "contact", limit=MAX_CONTACT)
            except InvalidInputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise InvalidInputError(problems)
        return cls(policy.strip(), checked["subject"], checked["summary"], tuple(refs), contact)


def parse_reference(text: str, where: str) -> Reference:
    """A URL (``http(s)://…``) or the SHA-256 of a document, in hex (``sha256:`` optional)."""
    value = text.strip()
    digest = value.removeprefix("sha256:").lower()
    if SHA256.fullmatch(digest):
        return Reference(label="document", sha256=digest)
    if URL.fullmatch(value):
        return Reference(label="link", url=value)
    raise InvalidInputError(
        Problem(where, "must be an http(s) URL or a SHA-256 digest (64 hex characters)")
    )


def check_document(size: int) -> None:
    """TooLargeError for a document over :data:`MAX_DOCUMENT_BYTES`."""
    if size > MAX_DOCUMENT_BYTES:
        raise TooLargeError(Problem("document", f"{size} bytes: a document may be at most 10 MiB"))


def receipt_hash(receipt: str) -> str:
    """What the store keeps of a receipt. A receipt carries 256 random bits, so one
    SHA-256 is enough: no guess, and no slow hash, can find one."""
    return hashlib.sha256(receipt.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ReportMessage:
    author: MessageAuthor
    text: str
    #: ``YYYY-MM-DD HH:MM`` UTC: to the minute, no finer.
    at: str

    def to_json(self) -> dict[str, str]:
        return {"from": self.author.value, "text": self.text, "at": self.at}


@dataclass(frozen=True, slots=True)
class ReporterView:
    """All the reporter learns: the status and the messages, nothing of the case."""

    status: ReportStatus
    received: str
    messages: tuple[ReportMessage, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "received": self.received,
            "messages": [m.to_json() for m in self.messages],
        }
