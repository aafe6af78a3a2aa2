"""``brightline report transparency`` and ``brightline report verify``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brightline.cli import app
from cli.people import ADMIN, People

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


@pytest.fixture
def cli(sqlite_people: People) -> CliRunner:
    """A bootstrapped store (k = 1) whose admin's key is in the environment."""
    key = sqlite_people.key_file(ADMIN).read_text().strip()
    sqlite_people.runner.env["BRIGHTLINE_API_KEY"] = key
    return sqlite_people.runner


def ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.stdout


def test_write_then_verify_a_transparency_report(
    cli: CliRunner, sqlite_people: People, tmp_path: Path
) -> None:
    ok(cli, "ledger", "keygen")
    ok(cli, "world", "import", str(EXAMPLE))
    sqlite_people.enrol("alice", "investigator")
    sqlite_people.enrol("bob", "approver")
    proposal = tmp_path / "p.yaml"
    proposal.write_text(
        "id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\nreason: {policy: mass-surveillance}\n"
    )
    sqlite_people.invoke("restrict", "propose", str(proposal), by="alice")
    sqlite_people.invoke("restrict", "approve", "r-1", by="bob")

    today = datetime.now(UTC).date()
    first = (today - timedelta(days=6)).isoformat()
    site = tmp_path / "site"
    summary = json.loads(
        ok(
            cli,
            "report",
            "transparency",
            "--from",
            first,
            "--to",
            today.isoformat(),
            "--out",
            str(site),
            "--json",
        )
    )
    assert summary["restrictions_in_force"] == 1
    assert summary["tiles"] == str(site / "tiles")
    assert (site / "tiles" / "checkpoint").is_file()
    by_policy = (site / "tables" / "restrictions-by-policy.csv").read_text()
    assert "mass-surveillance,1,0,0,1" in by_policy
    listed = (site / "restrictions-in-force.csv").read_text().splitlines()
    assert listed[1].startswith("R-1,")  # the operator's id "r-1" is never published
    assert all(b"r-1" not in p.read_bytes() for p in site.rglob("*") if p.is_file())

    verified = " ".join(
        ok(cli, "report", "verify", str(site), "--tiles", str(site / "tiles")).split()
    )
    assert "OK: 4 tables and 1 restrictions in force" in verified
    manifest = json.loads((site / "report.json").read_text())
    assert f"as of {manifest['as_of']}" in verified
    assert f"checkpoint has {manifest['checkpoint']['size']} entries" in verified
    assert f"root {manifest['checkpoint']['root']}" in verified
    verdict = json.loads(
        ok(cli, "report", "verify", str(site), "--tiles", str(site / "tiles"), "--json")
    )
    assert verdict["ok"]

    csv = site / "tables" / "restrictions-by-policy.csv"
    csv.write_text(by_policy.replace("mass-surveillance,1,0,0,1", "mass-surveillance,1,0,0,0"))
    failed = cli.invoke(app, ["report", "verify", str(site), "--tiles", str(site / "tiles")])
    assert failed.exit_code == 5
    assert "tables/restrictions-by-policy.csv" in failed.stderr
    assert "'in force at end'" in failed.stderr
    # The problem is printed once; the error only counts them.
    assert failed.stderr.count("tables/restrictions-by-policy.csv") == 1
    assert "1 problem, listed above" in " ".join(failed.stderr.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-13-01", "--to", "2025-12-31"], "not an ISO date"),
        (["--from", "2025-10-02", "--to", "2025-10-01"], "before the start"),
    ],
)
def test_bad_dates_are_clear_errors(
    cli: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli.invoke(app, ["report", "transparency", *args, "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert message in result.stderr


def test_verify_a_missing_directory(cli: CliRunner, tmp_path: Path) -> None:
    ok(cli, "ledger", "keygen")
    result = cli.invoke(app, ["report", "verify", str(tmp_path / "nope"), "--tiles", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a directory" in result.stderr


def test_verify_without_a_key_says_to_pass_the_logs_public_key(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["report", "verify", str(tmp_path), "--tiles", str(tmp_path)])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "--verifier" in message
    assert "public key" in message
    assert "keygen" not in message


def test_a_report_before_the_end_of_its_period_verifies_with_a_warning(
    cli: CliRunner, tmp_path: Path
) -> None:
    ok(cli, "ledger", "keygen")
    ok(cli, "world", "import", str(EXAMPLE))
    today = datetime.now(UTC).date()
    site = tmp_path / "site"
    ok(
        cli,
        "report",
        "transparency",
        "--from",
        today.isoformat(),
        "--to",
        (today + timedelta(days=3)).isoformat(),
        "--out",
        str(site),
    )
    args = ["report", "verify", str(site), "--tiles", str(site / "tiles")]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "warning: the figures hold at" in " ".join(result.stderr.split())
    verdict = json.loads(ok(cli, *args, "--json"))
    assert verdict["ok"]
    assert "before the end of the period" in verdict["warnings"][0]
    assert verdict["tiles_root"] == verdict["checkpoint_root"]


def test_a_report_with_another_k_than_those_released_is_refused(
    cli: CliRunner, tmp_path: Path
) -> None:
    ok(cli, "ledger", "keygen")
    ok(cli, "world", "import", str(EXAMPLE))
    today = datetime.now(UTC).date().isoformat()
    args = ["report", "transparency", "--from", today, "--to", today]
    ok(cli, *args, "--out", str(tmp_path / "first"))
    result = cli.invoke(app, [*args, "--out", str(tmp_path / "second"), "--k", "3"])
    assert result.exit_code == 4, result.stderr
    assert "k is fixed" in " ".join(result.stderr.split())
    assert not (tmp_path / "second").exists()
