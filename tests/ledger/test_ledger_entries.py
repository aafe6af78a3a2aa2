from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightline.errors import InvalidInputError
from brightline.ledger.entries import (
    MAX_ENTRY_SIZE,
    LedgerEntry,
    canonical_json,
    check_disclosure,
    parse_public_form,
)

RECORD = {"restriction": "r-0001", "by": "alice", "reason": "case C-0001"}


def test_public_form_reveals_nothing_private() -> None:
    entry = LedgerEntry.seal(
        event_type="restriction.approved",
        time="2025-09-25T00:00:00Z",
        record=RECORD,
        disclosed={"policy": "mass-surveillance"},
    )
    public = entry.public_bytes().decode()
    assert "alice" not in public
    assert "r-0001" not in public
    assert json.loads(public)["public"] == {"policy": "mass-surveillance"}


def test_disclosure_checks_record_and_salt() -> None:
    entry = LedgerEntry.seal(event_type="t", time="2025-01-01T00:00:00Z", record=RECORD)
    public = entry.public_bytes()
    assert check_disclosure(public, RECORD, entry.salt)
    assert not check_disclosure(public, {**RECORD, "by": "mallory"}, entry.salt)
    assert not check_disclosure(public, RECORD, bytes(32))
    assert not check_disclosure(b"garbage", RECORD, entry.salt)
    assert not check_disclosure(public, RECORD, b"short")


def test_salts_differ_so_equal_records_give_different_commitments() -> None:
    a = LedgerEntry.seal(event_type="t", time="x", record=RECORD)
    b = LedgerEntry.seal(event_type="t", time="x", record=RECORD)
    assert a.commitment != b.commitment


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=6))
def test_canonical_json_ignores_key_order(record: dict) -> None:
    reordered = dict(reversed(list(record.items())))
    assert canonical_json(record) == canonical_json(reordered)


def test_oversized_public_form_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="exceeds"):
        LedgerEntry.seal(
            event_type="t", time="x", record={}, disclosed={"big": "x" * MAX_ENTRY_SIZE}
        )


def test_parse_public_form_refuses_other_data() -> None:
    with pytest.raises(InvalidInputError):
        parse_public_form(b'{"v": 1}')
