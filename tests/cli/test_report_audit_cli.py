"""``brightline report disclose-release`` and ``brightline report audit``, and a report
refused over the privacy budget."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.people import ADMIN, People, words

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


def _report(people: People, site: Path, *, code: int = 0) -> str:
    today = datetime.now(UTC).date()
    return people.invoke(
        "report",
        "transparency",
        "--from",
        (today - timedelta(days=6)).isoformat(),
        "--to",
        today.isoformat(),
        "--out",
        str(site),
        by=ADMIN,
        code=code,
    )


def test_an_auditor_recounts_the_private_figures_and_a_forged_one_fails(
    sqlite_people: People, tmp_path: Path
) -> None:
    people = sqlite_people
    people.invoke("ledger", "keygen")
    people.invoke("world", "import", str(EXAMPLE), by=ADMIN)
    people.enrol("alice", "investigator")
    people.enrol("auditor", "auditor")
    people.invoke(
        "report",
        "submit",
        "--node",
        "unit-9900",
        "--policy",
        "mass-surveillance",
        "--summary",
        "intercepts",
        by="alice",
    )
    site = tmp_path / "site"
    _report(people, site)
    manifest = json.loads((site / "report.json").read_text())
    entry = manifest["private_figures"]["release_entry"]

    bundle = tmp_path / "disclosed.jsonl"
    people.invoke("report", "disclose-release", str(entry), "--out", str(bundle), by="auditor")
    lines = bundle.read_text().splitlines()
    assert json.loads(lines[0])["event_type"] == "transparency.released"
    assert len(lines) > 1
    # Disclosing private records is the auditor's: an investigator may not.
    people.invoke(
        "report", "disclose-release", str(entry), "--out", str(bundle), by="alice", code=7
    )

    audit = ["report", "audit", str(site), "--tiles", str(site / "tiles")]
    said = words(people.invoke(*audit, "--disclosure", str(bundle)))
    assert "OK: the report verifies, and its 28 figures with differential privacy" in said
    assert f"(release entry {entry})" in said
    verdict = json.loads(people.invoke(*audit, "--disclosure", str(bundle), "--json"))
    assert verdict["ok"]
    assert verdict["inputs"] == len(lines) - 1

    # The release record, changed to publish another figure: not what the log commits to.
    record = json.loads(lines[0])
    record["record"]["figures"][0]["noise"][0] += 3
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    failed = words(people.invoke(*audit, "--disclosure", str(forged), code=5))
    assert f"entry {entry}: the disclosed record and salt are not what the log commits to" in failed
    assert "the audit failed" in failed


def test_a_report_over_the_privacy_budget_is_refused_with_exit_4(
    sqlite_people: People, tmp_path: Path
) -> None:
    people = sqlite_people
    people.invoke("ledger", "keygen")
    people.invoke("world", "import", str(EXAMPLE), by=ADMIN)
    people.runner.env["BRIGHTLINE_PRIVACY_EPSILON_BUDGET"] = "20"
    said = words(_report(people, tmp_path / "first"))
    assert "released 28 figures about investigations with differential privacy (ε = 14" in said
    assert "ε = 14 of the budget of 20 spent so far" in said
    refused = words(_report(people, tmp_path / "second", code=4))
    assert "would spend ε = 14 (28 figures × ε = 0.5) on top of ε = 14" in refused
    assert "privacy budget of ε = 20 (BRIGHTLINE_PRIVACY_EPSILON_BUDGET)" in refused
    assert not (tmp_path / "second").exists()
    people.runner.env["BRIGHTLINE_PRIVACY_EPSILON_PER_FIGURE"] = "0.1"
    _report(people, tmp_path / "second")  # 2.8 more: 16.8 of 20
    people.runner.env["BRIGHTLINE_PRIVACY_EPSILON_PER_FIGURE"] = "zero"
    bad = words(_report(people, tmp_path / "third", code=2))
    assert "BRIGHTLINE_PRIVACY_EPSILON_PER_FIGURE" in bad
