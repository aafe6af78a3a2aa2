"""``brightline report transparency`` and ``brightline report verify``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brightline.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    return CliRunner(
        env={
            "BRIGHTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
            "BRIGHTLINE_DATA_DIR": str(tmp_path / "data"),
            "BRIGHTLINE_TRANSPARENCY_K": "1",
        }
    )


def ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.stdout


def test_write_then_verify_a_transparency_report(cli: CliRunner, tmp_path: Path) -> None:
    ok(cli, "ledger", "keygen")
    ok(cli, "world", "import", str(EXAMPLE))
    proposal = tmp_path / "p.yaml"
    proposal.write_text(
        "id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\nreason: {policy: mass-surveillance}\n"
    )
    ok(cli, "restrict", "propose", str(proposal), "--as", "alice")
    ok(cli, "restrict", "approve", "r-1", "--as", "bob")

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

    assert "OK: 10 tables and 1 restrictions in force" in ok(
        cli, "report", "verify", str(site), "--tiles", str(site / "tiles")
    )
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
