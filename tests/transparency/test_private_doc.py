"""The signed document of a release, what anyone checks of it, and the exact audit."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from brightline.errors import LedgerIntegrityError
from brightline.ledger import generate_key
from brightline.transparency import PublicEntry
from brightline.transparency.investigations import count_investigations
from brightline.transparency.private_audit import Disclosed, audit
from brightline.transparency.private_doc import PrivateFigures, check_published
from brightline.transparency.private_figures import PriorRelease, make_release
from transparency.private_scenario import END, PERIOD, POLICIES, FixedNoise, story

SIGNER = generate_key("brightline.test/log")


def _entry(index: int, event_type: str) -> PublicEntry:
    form = {"v": 1, "type": event_type, "time": "2025-10-01T00:00:00Z", "commitment": "00"}
    return PublicEntry.parse(index, json.dumps({**form, "public": {}}).encode())


def _released(prior: list[PriorRelease] | None = None) -> tuple[PrivateFigures, dict[str, Any]]:
    """A release of the story, logged right after it (entry 21), after ``prior``."""
    records = story().items
    exact = count_investigations(records, period=PERIOD, as_of=END, policies=POLICIES)
    release = make_release(
        exact,
        period=PERIOD,
        as_of=END,
        policies=POLICIES,
        inputs_log_size=len(records),
        inputs=len(records),
        per_figure=0.5,
        cap=100.0,
        prior=prior or [],
        noise=FixedNoise(),
    )
    figures = PrivateFigures.of(release, release_entry=len(records), releases=prior or [])
    return figures.signed(SIGNER), release.record()


def _log(figures: PrivateFigures, *, extra: tuple[int, ...] = ()) -> list[PublicEntry]:
    records = story().items
    entries = [_entry(r.index, r.event_type) for r in records]
    for index in extra:
        entries[index] = _entry(index, "transparency.released")
    return [*entries, _entry(figures.release_entry, "transparency.released")]


def _disclosed(record: dict[str, Any], release_entry: int) -> dict[int, Disclosed]:
    found = {r.index: Disclosed(r.index, r.event_type, r.record) for r in story().items}
    found[release_entry] = Disclosed(release_entry, "transparency.released", record)
    return found


def test_the_document_opens_only_with_the_log_key_and_reads_back_as_signed() -> None:
    figures, _ = _released()
    opened = PrivateFigures.open(figures.note, SIGNER.verifier())
    assert opened == figures
    assert figures.note.startswith("brightline-private-figures/1\n{")
    with pytest.raises(LedgerIntegrityError):
        PrivateFigures.open(figures.note, generate_key("brightline.test/log").verifier())


def test_anyone_can_check_the_release_is_logged_and_the_budget_adds_up() -> None:
    figures, _ = _released()
    entries = _log(figures)
    size = len(entries)
    assert (
        check_published(figures, period=PERIOD, as_of=END, entries=entries, checkpoint_size=size)
        == []
    )
    # An earlier release in the log that the budget leaves out.
    problems = check_published(
        figures, period=PERIOD, as_of=END, entries=_log(figures, extra=(3,)), checkpoint_size=size
    )
    assert any("release entry 3 is left out" in p for p in problems)
    # Inputs that stop short of the release, a budget that does not add up, a forged sum.
    short = dataclasses.replace(figures, inputs_log_size=figures.release_entry - 2)
    cheap = dataclasses.replace(figures, release_epsilon=1.0, budget_after=1.0)
    table = figures.tables[0]
    total = dataclasses.replace(table, rows=(*table.rows[:-1], ("total", (999,))))
    forged_sum = dataclasses.replace(figures, tables=(total, *figures.tables[1:]))
    for forged, words in (
        (short, "not every entry before its release entry"),
        (cheap, "is not 28 figures × ε 0.5"),
        (forged_sum, "a sum in table 'dp-reports-by-source' does not add up"),
    ):
        problems = check_published(
            forged, period=PERIOD, as_of=END, entries=entries, checkpoint_size=size
        )
        assert any(words in p for p in problems), (words, problems)
    not_logged = check_published(
        figures,
        period=PERIOD,
        as_of=END,
        entries=[*entries[:-1], _entry(size - 1, "case.closed")],
        checkpoint_size=size,
    )
    assert any("is not a transparency.released entry" in p for p in not_logged)


def test_the_audit_recounts_every_figure_and_names_a_false_one() -> None:
    figures, record = _released()
    entries = _log(figures)
    assert audit(figures, _disclosed(record, figures.release_entry), entries) == []

    # A release record that lies about a true value, with its noise made to match the
    # figure published: the records give the true count away.
    lying = json.loads(json.dumps(record))
    item = next(f for f in lying["figures"] if f["row"] == "opened")
    item["true"], item["noise"] = [4], [item["published"] - 4]
    problems = audit(figures, _disclosed(lying, figures.release_entry), entries)
    assert problems == [
        "table dp-cases, row 'opened', column 'cases': the release record says the true value "
        "was [4], the disclosed records give [1]"
    ]

    # A published figure that is not true value plus noise.
    forged = dataclasses.replace(
        figures,
        tables=tuple(
            dataclasses.replace(t, rows=(("person", (50,)), *t.rows[1:]))
            if t.name == "dp-reports-by-source"
            else t
            for t in figures.tables
        ),
    )
    problems = audit(forged, _disclosed(record, figures.release_entry), entries)
    assert any("row 'person'" in p and "published 50" in p for p in problems), problems

    # An input held back, and the release record itself.
    withheld = _disclosed(record, figures.release_entry)
    del withheld[4]
    assert "input entry 4 is not disclosed" in audit(figures, withheld, entries)[-1]
    assert audit(figures, {}, entries) == [
        f"the release record (entry {figures.release_entry}) is not disclosed"
    ]
