"""The pure case domain: the transition table, closing, evidence types, purity."""

from __future__ import annotations

import subprocess
import sys

import pytest

import brightline.cases
from brightline.cases import (
    CASE_TRANSITIONS,
    CaseMove,
    CaseStatus,
    DocumentKind,
    DocumentReference,
    OutsideReport,
    case_transition,
    check_close,
)
from brightline.errors import ConflictError, InvalidInputError


def test_the_lifecycle_runs_open_to_closed_through_an_appeal() -> None:
    status = None
    for move in (
        CaseMove.OPENED,
        CaseMove.REVIEW_STARTED,
        CaseMove.FINDING_RECORDED,
        CaseMove.DECIDED,
        CaseMove.APPEALED,
        CaseMove.APPEAL_DECIDED,
        CaseMove.CLOSED,
    ):
        status = case_transition(status, move)
    assert status is CaseStatus.CLOSED


@pytest.mark.parametrize("move", list(CaseMove))
def test_nothing_happens_to_a_closed_case(move: CaseMove) -> None:
    assert (CaseStatus.CLOSED, move) not in CASE_TRANSITIONS
    with pytest.raises(ConflictError, match="closed"):
        case_transition(CaseStatus.CLOSED, move)


def test_deciding_before_findings_is_refused_with_the_allowed_moves() -> None:
    with pytest.raises(ConflictError, match=r"allowed: .*finding-recorded"):
        case_transition(CaseStatus.UNDER_REVIEW, CaseMove.DECIDED)


def test_closing_with_a_substantiated_finding_needs_a_decision() -> None:
    with pytest.raises(ConflictError, match="mass-surveillance"):
        check_close(substantiated=["mass-surveillance"], decided=False)
    check_close(substantiated=["mass-surveillance"], decided=True)
    check_close(substantiated=[], decided=False)


def test_evidence_refuses_what_could_carry_content() -> None:
    with pytest.raises(InvalidInputError, match="SHA-256"):
        DocumentReference(DocumentKind.TICKET, "not-a-hash", "ticket")
    with pytest.raises(InvalidInputError, match="only the provider's own"):
        DocumentReference(DocumentKind.CORRESPONDENCE, "ab" * 32, "mail", uploaded=True)
    with pytest.raises(InvalidInputError, match="1–200"):
        DocumentReference(DocumentKind.CONTRACT, "ab" * 32, "x" * 201)
    with pytest.raises(InvalidInputError, match="URL"):
        OutsideReport(title="article", url="file:///etc/passwd")
    assert not {"customer-data", "content", "message", "recording"} & {
        k.value for k in DocumentKind
    }


def test_public_api_and_purity() -> None:
    for name in brightline.cases.__all__:
        assert hasattr(brightline.cases, name)
        assert not name.startswith("_")
    code = (
        "import sys, brightline.cases; "
        "print(','.join(m for m in ('sqlalchemy', 'typer', 'httpx', 'duckdb', 'pyarrow') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
