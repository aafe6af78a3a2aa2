"""The store commands end to end: db, world, restrict, snapshot (on both databases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brightline.cli import app
from brightline.service import read_snapshot

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
AWS = Path(__file__).parents[1] / "fixtures" / "aws" / "organization.json"
PROPOSAL = """\
id: r-cli
scope: unit-9900
actions: ["storage.*:*"]
regions: [westeurope]
exempt: [sub-9900-rescue]
mode: enforce
"""


@pytest.fixture
def cli(store_url: str) -> CliRunner:
    return CliRunner(env={"BRIGHTLINE_DATABASE_URL": store_url})


def _ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


def _text(output: str) -> str:
    """Rich wraps lines at the terminal width; compare words."""
    return " ".join(output.split())


def test_db_upgrade_reports_the_revision(cli: CliRunner) -> None:
    from brightline.store import head_revision

    assert f"already at revision {head_revision()}" in _text(_ok(cli, "db", "upgrade"))


def test_full_lifecycle_through_the_cli(cli: CliRunner, tmp_path: Path) -> None:
    assert "imported as world version 1" in _text(_ok(cli, "world", "import", str(EXAMPLE)))
    proposal = tmp_path / "r.yaml"
    proposal.write_text(PROPOSAL)
    _ok(cli, "restrict", "propose", str(proposal), "--as", "alice", "--case", "C-9")

    own = cli.invoke(app, ["restrict", "approve", "r-cli", "--as", "alice"])
    assert own.exit_code == 4
    assert "second person" in _text(own.stderr)
    assert "Traceback" not in own.output + own.stderr

    shown = json.loads(_ok(cli, "restrict", "approve", "r-cli", "--as", "bob", "--json"))
    assert shown[0]["status"] == "in-force"
    listed = json.loads(_ok(cli, "restrict", "list", "--state", "in-force", "--json"))
    assert [r["id"] for r in listed] == ["r-cli"]
    history = json.loads(_ok(cli, "restrict", "show", "r-cli", "--json"))["events"]
    assert [(e["kind"], e["actor"]) for e in history] == [
        ("proposed", "alice"),
        ("approved", "bob"),
    ]

    out = tmp_path / "snapshot.json"
    _ok(cli, "snapshot", "--out", str(out))
    assert [r.id for r in read_snapshot(out).restrictions] == ["r-cli"]

    _ok(cli, "restrict", "lift", "r-cli", "--as", "carol", "--why", "case closed")
    _ok(cli, "restrict", "approve", "r-cli", "--as", "dave")
    assert "lifted" in _ok(cli, "restrict", "show", "r-cli")
    assert json.loads(_ok(cli, "snapshot"))["restrictions"] == []


def test_world_import_dry_run_and_aws_source(cli: CliRunner) -> None:
    _ok(cli, "world", "import", str(EXAMPLE))
    dry = _ok(cli, "world", "import", str(AWS), "--from", "aws-organizations", "--dry-run")
    assert "dry run: nothing was written" in _text(dry)
    assert "555566667777" in dry
    result = json.loads(
        _ok(cli, "world", "import", str(AWS), "--from", "aws-organizations", "--json")
    )
    assert result["version"] == 2
    assert result["counts"]["added_nodes"] == 8


def test_world_export_writes_loadable_files(cli: CliRunner, tmp_path: Path) -> None:
    _ok(cli, "world", "import", str(EXAMPLE))
    _ok(cli, "world", "export", str(tmp_path / "out"))
    again = json.loads(_ok(cli, "world", "import", str(tmp_path / "out"), "--json"))
    assert again["changed"] is False


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["restrict", "approve", "r-none", "--as", "bob"], 3, "no restriction 'r-none'"),
        (["restrict", "lift", "r-none", "--as", "bob", "--why", "x"], 3, "no restriction"),
        (["world", "import", "/nonexistent/world"], 2, "not a directory"),
    ],
)
def test_bad_input_is_a_clear_error(
    cli: CliRunner, args: list[str], code: int, message: str
) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == code
    assert message in _text(result.stderr)
    assert "Traceback" not in result.stderr


def test_malformed_proposal_yaml_is_a_clear_error(cli: CliRunner, tmp_path: Path) -> None:
    _ok(cli, "world", "import", str(EXAMPLE))
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: r-x\nscope: [unclosed\n")
    result = cli.invoke(app, ["restrict", "propose", str(bad), "--as", "alice"])
    assert result.exit_code == 2
    assert "bad.yaml" in result.stderr
    assert "malformed YAML" in _text(result.stderr)
    assert json.loads(_ok(cli, "restrict", "list", "--json")) == []


def test_unreachable_database_is_one_line_not_a_traceback() -> None:
    runner = CliRunner(
        env={"BRIGHTLINE_DATABASE_URL": "postgresql+psycopg://u:hunter2@127.0.0.1:1/none"}
    )
    result = runner.invoke(app, ["restrict", "list"])
    assert result.exit_code == 6
    assert len(result.stderr.strip().splitlines()) == 1
    message = _text(result.stderr)
    assert message.startswith("error: cannot use the database at")
    assert message.count("error:") == 1
    assert "Connection refused" in message
    assert "hunter2" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
