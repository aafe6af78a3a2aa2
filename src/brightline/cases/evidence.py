"""Evidence items, and why none of them can hold customer content.

There are exactly three kinds, and none has a field where content could go:

- :class:`UsageAggregate` — numbers from the metering dataset: sums and hour counts per
  node, service, operation, region and unit, with the query and parameters that
  produced them and the SHA-256 of the result. Metering rows are themselves metadata
  only (the telemetry schema refuses any other column).
- :class:`DocumentReference` — a business document about the relationship (contract,
  order, invoice, support ticket…) named by its SHA-256, a short title and optionally
  a link. Only the provider's own documents may be uploaded, by hash.
- :class:`OutsideReport` — a report from outside (press article, NGO report), by link
  and hash.

Free text is limited to short titles; the kinds of document are a closed list that
has no entry for customer data, files, messages or recordings.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from brightline.errors import InvalidInputError, Problem

SHA256: Final = re.compile(r"[0-9a-f]{64}")
URL: Final = re.compile(r"https?://[!-~]{1,2000}")
MAX_TITLE: Final = 200


class EvidenceKind(StrEnum):
    USAGE_AGGREGATE = "usage-aggregate"
    DOCUMENT = "document"
    OUTSIDE_REPORT = "outside-report"


class DocumentKind(StrEnum):
    """Business documents about the relationship; never the customer's own data."""

    CONTRACT = "contract"
    ORDER = "order"
    INVOICE = "invoice"
    TICKET = "ticket"
    CORRESPONDENCE = "correspondence"
    PUBLIC_RECORD = "public-record"


#: Kinds the provider writes itself, and which may therefore be uploaded.
PROVIDER_DOCUMENTS: Final = frozenset(
    {DocumentKind.CONTRACT, DocumentKind.ORDER, DocumentKind.INVOICE}
)


def check_sha256(value: str, where: str) -> str:
    value = value.lower()
    if not SHA256.fullmatch(value):
        raise InvalidInputError(Problem(where, "must be a SHA-256 in hex (64 characters)"))
    return value


def check_url(value: str, where: str) -> str:
    if not URL.fullmatch(value):
        raise InvalidInputError(Problem(where, "must be an http(s) URL without spaces"))
    return value


def check_title(value: str, where: str) -> str:
    value = " ".join(value.split())
    if not value or len(value) > MAX_TITLE:
        raise InvalidInputError(Problem(where, f"must be 1–{MAX_TITLE} characters"))
    return value


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """One group of a usage aggregate: a total and the number of metered hours in it."""

    node: str
    service: str
    operation: str
    region: str
    unit: str
    quantity: float
    hours: int

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "service": self.service,
            "operation": self.operation,
            "region": self.region,
            "unit": self.unit,
            "quantity": self.quantity,
            "hours": self.hours,
        }


@dataclass(frozen=True, slots=True)
class UsageAggregate:
    """A pinned aggregate: ``result_sha256`` hashes the canonical rows, so it cannot drift."""

    query: str
    params: Mapping[str, Any]
    rows: tuple[AggregateRow, ...]
    result_sha256: str
    taken_at: str

    @property
    def kind(self) -> EvidenceKind:
        return EvidenceKind.USAGE_AGGREGATE

    @staticmethod
    def digest(rows: Sequence[AggregateRow]) -> str:
        blob = json.dumps(
            [r.to_json() for r in rows], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        return hashlib.sha256(blob).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "query": self.query,
            "params": dict(self.params),
            "rows": [r.to_json() for r in self.rows],
            "result_sha256": self.result_sha256,
            "taken_at": self.taken_at,
        }


@dataclass(frozen=True, slots=True)
class DocumentReference:
    document: DocumentKind
    sha256: str
    title: str
    url: str | None = None
    uploaded: bool = False

    @property
    def kind(self) -> EvidenceKind:
        return EvidenceKind.DOCUMENT

    def __post_init__(self) -> None:
        check_sha256(self.sha256, "sha256")
        check_title(self.title, "title")
        if self.url is not None:
            check_url(self.url, "url")
        if self.uploaded and self.document not in PROVIDER_DOCUMENTS:
            raise InvalidInputError(
                Problem(
                    "upload",
                    f"only the provider's own documents ({', '.join(sorted(PROVIDER_DOCUMENTS))})"
                    " may be uploaded; reference others by hash",
                )
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "document": self.document.value,
            "sha256": self.sha256,
            "title": self.title,
            "url": self.url,
            "uploaded": self.uploaded,
        }


@dataclass(frozen=True, slots=True)
class OutsideReport:
    title: str
    url: str | None = None
    sha256: str | None = None
    signal: str | None = None

    @property
    def kind(self) -> EvidenceKind:
        return EvidenceKind.OUTSIDE_REPORT

    def __post_init__(self) -> None:
        check_title(self.title, "title")
        if self.url is not None:
            check_url(self.url, "url")
        if self.sha256 is not None:
            check_sha256(self.sha256, "sha256")
        if self.url is None and self.sha256 is None and self.signal is None:
            raise InvalidInputError(Problem("report", "give a URL, a SHA-256 or a signal id"))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "title": self.title,
            "url": self.url,
            "sha256": self.sha256,
            "signal": self.signal,
        }


Evidence = UsageAggregate | DocumentReference | OutsideReport


def evidence_from_json(data: Mapping[str, Any]) -> Evidence:
    """Rebuild an evidence item from its stored form (as written by ``to_json``)."""
    kind = EvidenceKind(data["kind"])
    if kind is EvidenceKind.USAGE_AGGREGATE:
        return UsageAggregate(
            query=data["query"],
            params=data["params"],
            rows=tuple(AggregateRow(**row) for row in data["rows"]),
            result_sha256=data["result_sha256"],
            taken_at=data["taken_at"],
        )
    if kind is EvidenceKind.DOCUMENT:
        return DocumentReference(
            document=DocumentKind(data["document"]),
            sha256=data["sha256"],
            title=data["title"],
            url=data.get("url"),
            uploaded=bool(data.get("uploaded", False)),
        )
    return OutsideReport(
        title=data["title"],
        url=data.get("url"),
        sha256=data.get("sha256"),
        signal=data.get("signal"),
    )
