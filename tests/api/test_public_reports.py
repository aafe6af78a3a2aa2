"""The public report channel over HTTP on a live server: filing without a credential, the
receipt, follow-up and replies, wrong receipts, rate limits, the document's size limit and
sealing, what the ledger's record holds, and logs free of addresses and text."""

from __future__ import annotations

import hashlib
import logging
import re
import time

import httpx
import pytest
from sqlalchemy import select

from access_setup import ROOT, principal_of
from api.conftest import Live
from brightline.cases import MAX_DOCUMENT_BYTES
from brightline.service.cases import open_case
from brightline.service.public_reports import reply_to_reporter, report_document
from brightline.store.case_models import PublicReportDocumentRow, PublicReportRow
from brightline.store.models import OutboxEvent

POLICY = "mass-surveillance"
SUMMARY = "Unit Nightjar transcribes intercepted calls in bulk (summary-marker-7f3a)"
SUBJECT = "Nightjar programme (subject-marker-91bc)"
CONTACT = "signal: contact-marker-4411"
AGENT = "agent-marker-5d2e"


def _report(**changes: object) -> dict[str, object]:
    return {
        "policy": POLICY,
        "subject": SUBJECT,
        "summary": SUMMARY,
        "references": ["https://news.example/nightjar", "ab" * 32],
        **changes,
    }


def _file(client: httpx.Client, **changes: object) -> str:
    response = client.post("/v1/public/reports", json=_report(**changes))
    assert response.status_code == 201, response.text
    receipt: str = response.json()["receipt"]
    return receipt


def test_a_report_is_filed_without_a_credential_and_followed_by_its_receipt(
    live_on: Live,
) -> None:
    root = principal_of(live_on.store, live_on.settings, live_on.keys[ROOT])
    with live_on.client() as client:
        receipt = _file(client, contact=CONTACT)
        assert len(receipt) >= 43  # 256 bits
        status = client.post("/v1/public/reports/status", json={"receipt": receipt})
        assert status.status_code == 200, status.text
        assert status.json()["status"] == "received"
        assert status.json()["messages"] == []

        wrote = client.post(
            "/v1/public/reports/messages", json={"receipt": receipt, "text": "More to come."}
        )
        assert [m["from"] for m in wrote.json()["messages"]] == ["reporter"]

        with live_on.store.read() as session:
            row = session.scalars(select(PublicReportRow)).one()
        assert row.receipt_hash == hashlib.sha256(receipt.encode()).hexdigest()
        ref = f"S-{row.signal_id}"
        investigator = principal_of(live_on.store, live_on.settings, live_on.keys["investigator"])
        reply_to_reporter(live_on.store, ref, "Thank you; we are looking.", actor=investigator)
        # A public report names no node: whoever opens a case links the nodes.
        with pytest.raises(Exception, match="link the nodes"):
            open_case(live_on.store, actor=root, title="t", signals=[ref])
        case = open_case(live_on.store, actor=root, title="t", signals=[ref], nodes=["unit-9900"])
        assert case.nodes == ("unit-9900",)

        after = client.post("/v1/public/reports/status", json={"receipt": receipt}).json()
    assert after["status"] == "under-review"
    assert [(m["from"], m["text"]) for m in after["messages"]] == [
        ("reporter", "More to come."),
        ("investigator", "Thank you; we are looking."),
    ]
    assert "investigator-user" not in str(after)  # who replied is never shown


def test_every_bad_field_is_named_and_nothing_is_stored(live_on: Live) -> None:
    with live_on.client() as client:
        bad = client.post(
            "/v1/public/reports",
            json=_report(subject=" ", summary="a\u0000b", references=["ftp://x", "abc"]),
        )
        policy = client.post("/v1/public/reports", json=_report(policy="no-such-policy"))
    assert bad.status_code == 422, bad.text
    assert [p["where"] for p in bad.json()["problems"]] == [
        "subject",
        "summary",
        "references[0]",
        "references[1]",
    ]
    assert policy.status_code == 422
    assert "mass-surveillance" in policy.json()["message"]
    with live_on.store.read() as session:
        assert session.scalars(select(PublicReportRow)).all() == []


def test_every_wrong_receipt_gets_the_same_answer(live_on: Live) -> None:
    with live_on.client() as client:
        receipt = _file(client)
        wrong = [
            receipt[:-1] + ("A" if receipt[-1] != "A" else "B"),
            "x",
            "not a receipt at all, with spaces",
            "é" * 300,
        ]
        answers = [client.post("/v1/public/reports/status", json={"receipt": w}) for w in wrong]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1
    assert "no report with this receipt" in answers[0].json()["message"]


def test_attempts_are_rate_limited_by_address_in_memory(live_on: Live) -> None:
    per_minute = live_on.settings.public_rate_per_minute
    with live_on.client() as client:
        codes = [
            client.post("/v1/public/reports/status", json={"receipt": f"guess-{n}"}).status_code
            for n in range(per_minute + 1)
        ]
        filed = client.post("/v1/public/reports", json=_report())  # its own count
    assert codes == [404] * per_minute + [429]
    assert filed.status_code == 201


def test_a_document_is_sealed_and_one_over_10_mib_is_refused_with_413(live_on: Live) -> None:
    document = b"%PDF-1.7 fake document document-marker-c0de " * 100
    root = principal_of(live_on.store, live_on.settings, live_on.keys[ROOT])
    fields = {k: v for k, v in _report().items() if k != "references"}
    with live_on.client() as client:
        ok = client.post(
            "/v1/public/reports",
            data={**fields, "references": "https://news.example/a\n" + "cd" * 32},
            files={"document": ("leak.pdf", document, "application/pdf")},
        )
        assert ok.status_code == 201, ok.text
        over = client.post(
            "/v1/public/reports",
            data=fields,
            files={"document": ("big.bin", b"\0" * (MAX_DOCUMENT_BYTES + 1))},
        )
        far_over = client.post(
            "/v1/public/reports",
            data=fields,
            files={"document": ("huge.bin", b"\0" * (MAX_DOCUMENT_BYTES + 1024 * 1024))},
        )
    assert over.status_code == 413, over.text
    assert over.json()["problems"] == [
        {
            "where": "document",
            "message": f"{MAX_DOCUMENT_BYTES + 1} bytes: a document may be at most 10 MiB",
        }
    ]
    assert far_over.status_code == 413
    assert "a document may be at most 10 MiB" in far_over.json()["message"]
    with live_on.store.read() as session:
        (row,) = session.scalars(select(PublicReportDocumentRow)).all()
    assert row.body.startswith("sealed:v1:")
    assert b"document-marker" not in row.body.encode()
    assert row.sha256 == hashlib.sha256(document).hexdigest()
    stored, content = report_document(live_on.store, f"S-{row.signal_id}", actor=root)
    assert content == document
    assert stored.size == len(document)


def test_the_ledger_record_and_the_logs_hold_no_text_address_or_agent(
    live_on: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=live_on.url, headers={"user-agent": AGENT}, timeout=30) as client:
        receipt = _file(client, contact=CONTACT)
        client.post("/v1/public/reports/status", json={"receipt": receipt})
        client.post("/v1/public/reports/status", json={"receipt": "wrong"})
        client.post("/v1/public/reports/messages", json={"receipt": receipt, "text": SUMMARY})
        client.get("/report")
        client.post("/report/status", data={"receipt": receipt})
    time.sleep(0.3)  # the request log is written in batches, at most 0.1 s late
    # Everything the server logged (the test's own client, httpx, logs its requests).
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "/v1/public/reports/status" in logged  # the request log was captured
    for secret in ("127.0.0.1", AGENT, "marker", receipt):
        assert secret not in logged
    with live_on.store.read() as session:
        records = [
            e.payload
            for e in session.scalars(
                select(OutboxEvent).where(OutboxEvent.event_type == "signal.received")
            )
        ]
    assert len(records) == 1
    assert '"source":"person"' in records[0]  # counted as a report from a person
    assert "marker" not in records[0]


def test_the_form_loads_nothing_from_elsewhere_and_runs_no_script(live: Live) -> None:
    with live.client() as client:
        pages = [client.get("/report"), client.get("/report/status")]
    for page in pages:
        assert page.status_code == 200
        assert "set-cookie" not in page.headers
        assert "<script" not in page.text
        links = re.findall(r'(?:src|href|action)="([^"]+)"', page.text)
        assert links
        assert all(link.startswith(("/", "#")) for link in links), links
