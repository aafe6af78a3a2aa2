"""Figures about investigations with differential privacy, end to end on both databases:
released with a report, signed, verified from the tiles, audited exactly from disclosed
records (and a forged figure caught), and refused over the deployment's budget."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from brightline.config import Settings
from brightline.errors import ConflictError
from brightline.ledger import TileDirSource, TiledTree, open_checkpoint, read_entries
from brightline.service.ledger import LedgerKeys, sync
from brightline.service.private_audit import AuditResult, audit_transparency_report
from brightline.service.private_figures import (
    disclose_release,
    release_private_figures,
    sign_private_figures,
)
from brightline.service.transparency import (
    report_parameters,
    verify_transparency_report,
    write_transparency_report,
)
from brightline.store import Store
from brightline.store.ledger import iter_public
from brightline.store.releases import outbox_of_type
from brightline.transparency import PublicEntry, Stated, build_report, render_site
from brightline.transparency.private_audit import audit, check_disclosures
from brightline.transparency.private_doc import NOTE_FILE, PrivateFigures
from brightline.transparency.private_figures import RELEASE_EVENT
from cases.case_scenarios import report, with_people
from transparency.scenario import NOW, PERIOD, seed, settings_for


def _write(store: Store, settings: Settings, out: Path, period: tuple[date, date] = PERIOD) -> Path:
    write_transparency_report(
        store,
        settings=settings,
        period_from=period[0],
        period_to=period[1],
        out_dir=out,
        tiles_dir=out / "tiles",
        now=NOW,
    )
    return out


def _figures(out: Path, settings: Settings) -> PrivateFigures:
    note = (out / NOTE_FILE).read_text()
    return PrivateFigures.open(note, LedgerKeys.of(settings).verifier())


def _audit(out: Path, settings: Settings, disclosures: list[Any]) -> AuditResult:
    return audit_transparency_report(
        out, out / "tiles", disclosures, verifier=LedgerKeys.of(settings).verifier()
    )


def _rerender(out: Path, settings: Settings, forged: PrivateFigures) -> None:
    """Write the site again around ``forged``, as a provider holding the key could."""
    verifier = LedgerKeys.of(settings).verifier()
    stated = Stated.from_manifest(json.loads((out / "report.json").read_text()))
    checkpoint = open_checkpoint(stated.checkpoint_note, verifier)
    raw = list(read_entries(out / "tiles", checkpoint.size))
    tree = TiledTree(TileDirSource(out / "tiles"))
    report = build_report(
        [PublicEntry.parse(i, d) for i, d in enumerate(raw)],
        parameters=stated.parameters,
        checkpoint_note=stated.checkpoint_note,
        checkpoint=checkpoint,
        prove=lambda index: tree.inclusion_proof(index, checkpoint.size),
        tiles=stated.tiles,
        generator=stated.generator,
        private=forged,
    )
    for relative, data in render_site(report).items():
        (out / relative).write_bytes(data)


def _forge_cell(figures: PrivateFigures, table: str, row: str, value: int) -> PrivateFigures:
    tables = []
    for t in figures.tables:
        if t.name == table:
            rows = tuple((label, (value,) if label == row else v) for label, v in t.rows)
            t = dataclasses.replace(t, rows=rows)
        tables.append(t)
    return dataclasses.replace(figures, tables=tuple(tables))


def _rows(out: Path, name: str) -> dict[str, list[Any]]:
    data = json.loads((out / "tables" / f"{name}.json").read_text())
    return {row["label"]: row["values"] for row in data["rows"]}


def test_a_report_releases_signed_noisy_figures_that_an_audit_recounts_exactly(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "site")
    assert verify_transparency_report(
        out, out / "tiles", verifier=LedgerKeys.of(settings).verifier()
    ).ok

    figures = _figures(out, settings)
    assert (figures.epsilon_per_figure, figures.figures, figures.release_epsilon) == (0.5, 28, 14)
    assert (figures.budget_before, figures.budget_after, figures.budget_cap) == (0, 14, 100)
    assert figures.mechanism.startswith("opendp 0.16")
    manifest = json.loads((out / "report.json").read_text())
    assert manifest["private_figures"]["release_entry"] == figures.release_entry
    # The release is an entry of the log that publishes nothing but its type and time.
    entry = json.loads(list(read_entries(out / "tiles", figures.release_entry + 1))[-1])
    assert (entry["type"], entry["public"]) == (RELEASE_EVENT, {})
    # Its own section of the page, its own tables, every figure's ε stated.
    html = (out / "index.html").read_text()
    assert "Figures about investigations, with differential privacy" in html
    assert "(differentially private, ε = 0.5 per figure)" in html
    assert "ε = 14</strong> in all" in html
    assert "out of a budget of <strong>ε = 100</strong>" in html
    cases = _rows(out, "dp-cases")
    assert list(cases) == [
        "opened",
        "decided: restrict",
        "decided: no-restriction",
        "closed",
        "open at end of period",
    ]
    age = _rows(out, "dp-case-age")
    assert cases["closed"] == [age["total"][0]]  # a sum of noisy figures, not one of its own
    table = json.loads((out / "tables" / "dp-cases.json").read_text())
    assert (table["epsilon_per_figure"], table["noisy_figures"]) == (0.5, 3)
    assert table["derived"] == ["closed", "open at end of period"]
    assert "opened," in (out / "tables" / "dp-cases.csv").read_text()

    # The auditor recounts: every true value as the public tables defined it.
    disclosures = [d.to_json() for d in disclose_release(store, figures.release_entry)]
    result = _audit(out, settings, disclosures)
    assert result.ok, result.problems
    assert (result.figures, result.release_entry) == (28, figures.release_entry)
    record = disclosures[0]["record"]
    true = {(f["table"], f["row"], f["column"]): f for f in record["figures"]}
    assert true[("reports-by-source", "person", "received")]["true"] == [2]
    assert true[("reports-by-source", "detector", "received")]["true"] == [1]
    assert true[("cases", "opened", "cases")]["true"] == [1]
    assert true[("findings-by-policy", "mass-surveillance", "substantiated")]["true"] == [1]
    assert true[("appeals", "decided: upheld", "appeals")]["true"] == [1]
    decision = true[("time-to-action", "first report to decision", "median days")]
    assert decision["true_median"] == 0.3  # 8 hours, as the public table had it
    enforcement = true[("time-to-action", "first report to enforcement", "median days")]
    assert enforcement["true_median"] == 0.5
    for figure in record["figures"]:
        noisy = [t + n for t, n in zip(figure["true"], figure["noise"], strict=True)]
        if figure["kind"] == "count":
            assert figure["published"] == noisy[0]

    # A forged figure, signed with the provider's own key: the site verifies, the audit
    # does not, since the noise was committed in the log before the report was written.
    opened = _rows(out, "dp-cases")["opened"][0]
    forged_site = tmp_path / "forged"
    shutil.copytree(out, forged_site)
    signer = LedgerKeys.of(settings).signer()
    assert signer is not None
    forged = _forge_cell(figures, "dp-cases", "opened", opened + 5).signed(signer)
    _rerender(forged_site, settings, forged)
    verifier = LedgerKeys.of(settings).verifier()
    assert verify_transparency_report(forged_site, forged_site / "tiles", verifier=verifier).ok
    caught = _audit(forged_site, settings, disclosures)
    assert not caught.ok
    assert any(
        "table dp-cases, row 'opened'" in p and f"published {opened + 5}" in p
        for p in caught.problems
    ), caught.problems

    # Changing the release record to match is caught by the log's commitment.
    altered = json.loads(json.dumps(disclosures))
    item = next(f for f in altered[0]["record"]["figures"] if f["row"] == "opened")
    item["noise"][0] += 5
    item["published"] += 5
    problems = _audit(forged_site, settings, altered).problems
    assert any(f"entry {figures.release_entry}: the disclosed record" in p for p in problems)

    # An input withheld, or altered, cannot pass either.
    problems = _audit(out, settings, disclosures[:-1]).problems
    assert any("is not disclosed: cannot recount" in p for p in problems), problems
    altered = json.loads(json.dumps(disclosures))
    altered[1]["record"]["at"] = "2025-10-30T00:00:00Z"
    problems = _audit(out, settings, altered).problems
    assert any("not what the log commits to" in p for p in problems), problems

    # A note changed without the key does not verify at all.
    unsigned = tmp_path / "unsigned"
    shutil.copytree(out, unsigned)
    text = (unsigned / NOTE_FILE).read_text()
    (unsigned / NOTE_FILE).write_text(text.replace('"figures":28', '"figures":27'))
    result = verify_transparency_report(unsigned, unsigned / "tiles", verifier=verifier)
    assert not result.ok
    assert any(NOTE_FILE in p and "signature" in p for p in result.problems), result.problems


def test_the_budget_counts_every_release_and_refuses_to_go_over(
    store: Store, tmp_path: Path
) -> None:
    # Room for two releases of 28 figures × 0.5.
    settings = Settings(data_dir=tmp_path / "data", transparency_k=1, privacy_epsilon_budget=28.0)
    settings_for(tmp_path)  # the key, in the same data directory
    seed(store, settings)
    first = _write(store, settings, tmp_path / "october")
    again = _write(store, settings, tmp_path / "october-again")  # the same period costs again
    one, two = _figures(first, settings), _figures(again, settings)
    assert (one.budget_before, one.budget_after) == (0, 14)
    assert (two.budget_before, two.budget_after) == (14, 28)
    # Every release entry before it is listed with what it spent: the first report's
    # figures, then its series release (what its restriction tables hid), which spent none.
    assert [r.epsilon for r in two.releases] == [14, 0]
    assert two.releases[0].entry == one.release_entry < two.releases[1].entry
    verifier = LedgerKeys.of(settings).verifier()
    for out in (first, again):
        result = verify_transparency_report(out, out / "tiles", verifier=verifier)
        assert result.ok, result.problems

    # An overlapping period would spend 14 more: refused, and nothing released or written.
    with store.read() as session:
        before = len(outbox_of_type(session, RELEASE_EVENT))
    with pytest.raises(ConflictError, match=r"ε = 14 \(28 figures × ε = 0.5\) on top of ε = 28"):
        _write(store, settings, tmp_path / "overlap", (date(2025, 9, 15), date(2025, 10, 15)))
    with store.read() as session:
        assert len(outbox_of_type(session, RELEASE_EVENT)) == before
    assert not (tmp_path / "overlap").exists()

    # A larger budget lets it through, counting both earlier releases.
    wider = settings.model_copy(update={"privacy_epsilon_budget": 42.0})
    overlap = _write(store, wider, tmp_path / "overlap", (date(2025, 9, 15), date(2025, 10, 15)))
    three = _figures(overlap, settings)
    spent = [r.entry for r in three.releases if r.epsilon]
    assert spent == [one.release_entry, two.release_entry]
    assert len(three.releases) == 4  # and the two reports' series releases, at ε = 0
    assert (three.budget_before, three.budget_after, three.budget_cap) == (28, 42, 42)

    # A document that leaves an earlier release out of its budget does not verify.
    signer = LedgerKeys.of(settings).signer()
    assert signer is not None
    hidden = dataclasses.replace(
        three, releases=three.releases[1:], budget_before=14.0, budget_after=28.0
    ).signed(signer)
    _rerender(overlap, settings, hidden)
    result = verify_transparency_report(overlap, overlap / "tiles", verifier=verifier)
    assert any(f"release entry {one.release_entry} is left out" in p for p in result.problems)


def test_events_the_ledger_has_yet_to_log_are_inputs_logged_before_the_release(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    people = with_people(store)
    report(store, actor=people["casey"])
    sync(settings, store)
    report(store, actor=people["casey"])  # in the outbox, not logged yet
    parameters = report_parameters(settings, period_from=PERIOD[0], period_to=PERIOD[1], now=NOW)
    pending = release_private_figures(store, settings=settings, parameters=parameters, now=NOW)
    person = next(d for d in pending.release.drawings if d.key[1] == "person")
    assert (pending.release.inputs, person.true) == (2, (2,))
    sync(settings, store)
    figures = sign_private_figures(store, settings=settings, pending=pending)
    assert figures.release_entry == figures.inputs_log_size
    with store.read() as session:
        entries = [PublicEntry.parse(i, data) for i, data in iter_public(session)]
    assert entries[figures.release_entry - 1].event_type == "signal.received"
    disclosures = [d.to_json() for d in disclose_release(store, figures.release_entry)]
    disclosed, problems = check_disclosures(disclosures, entries)
    assert not problems
    assert audit(figures, disclosed, entries) == []
