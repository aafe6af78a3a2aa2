"""The store commands end to end: db, world, restrict, snapshot (on both databases), each
acting as a principal with its own key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brightline.cli import app
from brightline.service import read_snapshot
from cli.people import ADMIN, People, words

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


@pytest.fixture
def staff(people: People) -> People:
    """The admin imports the example world; alice and carol investigate, bob and dave
    approve."""
    people.invoke("world", "import", str(EXAMPLE), by=ADMIN)
    for name, role in (
        ("alice", "investigator"),
        ("carol", "investigator"),
        ("bob", "approver"),
        ("dave", "approver"),
    ):
        people.enrol(name, role)
    return people


def _ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


def test_db_upgrade_reports_the_revision(cli: CliRunner) -> None:
    from brightline.store import head_revision

    assert f"already at revision {head_revision()}" in words(_ok(cli, "db", "upgrade"))


def test_full_lifecycle_through_the_cli(staff: People, tmp_path: Path) -> None:
    proposal = tmp_path / "r.yaml"
    proposal.write_text(PROPOSAL)
    staff.invoke("restrict", "propose", str(proposal), by="alice")

    own = staff.invoke("restrict", "approve", "r-cli", by="alice", code=7)
    assert "alice (investigator) may not approve-restriction" in words(own)

    shown = json.loads(staff.invoke("restrict", "approve", "r-cli", "--json", by="bob"))
    assert shown[0]["status"] == "in-force"
    listed = json.loads(
        staff.invoke("restrict", "list", "--state", "in-force", "--json", by="alice")
    )
    assert [r["id"] for r in listed] == ["r-cli"]
    history = json.loads(staff.invoke("restrict", "show", "r-cli", "--json", by="dave"))["events"]
    assert [(e["kind"], e["actor"]) for e in history] == [
        ("proposed", "alice"),
        ("approved", "bob"),
    ]

    out = tmp_path / "snapshot.json"
    staff.invoke("snapshot", "--out", str(out), by="alice")
    assert [r.id for r in read_snapshot(out).restrictions] == ["r-cli"]

    staff.invoke("restrict", "lift", "r-cli", "--why", "case closed", by="carol")
    staff.invoke("restrict", "approve", "r-cli", by="dave")
    assert "lifted" in staff.invoke("restrict", "show", "r-cli", by="carol")
    assert json.loads(staff.invoke("snapshot", by="bob"))["restrictions"] == []


def test_approving_your_own_proposal_is_refused(people: People, tmp_path: Path) -> None:
    """Four eyes compares the authenticated principals: a key carrying both roles, granted
    both, still cannot approve what its principal proposed."""
    people.invoke("world", "import", str(EXAMPLE), by=ADMIN)
    people.enrol("pat", "investigator", "approver")
    proposal = tmp_path / "r.yaml"
    proposal.write_text(PROPOSAL)
    people.invoke("restrict", "propose", str(proposal), by="pat")
    own = people.invoke("restrict", "approve", "r-cli", by="pat", code=4)
    assert "second person" in words(own)
    assert (
        json.loads(people.invoke("restrict", "show", "r-cli", "--json", by="pat"))["status"]
        == "proposed"
    )


def test_world_import_dry_run_and_aws_source(people: People) -> None:
    people.invoke("world", "import", str(EXAMPLE), by=ADMIN)
    dry = people.invoke(
        "world", "import", str(AWS), "--from", "aws-organizations", "--dry-run", by=ADMIN
    )
    assert "dry run: nothing was written" in words(dry)
    assert "555566667777" in dry
    result = json.loads(
        people.invoke(
            "world", "import", str(AWS), "--from", "aws-organizations", "--json", by=ADMIN
        )
    )
    assert result["version"] == 2
    assert result["counts"]["added_nodes"] == 8


def test_world_import_needs_the_admin_role(people: People) -> None:
    people.enrol("ivy", "investigator")
    refused = people.invoke("world", "import", str(EXAMPLE), by="ivy", code=7)
    assert "may not import-world" in words(refused)


def test_world_export_writes_loadable_files(staff: People, tmp_path: Path) -> None:
    staff.invoke("world", "export", str(tmp_path / "out"), by="alice")
    again = json.loads(staff.invoke("world", "import", str(tmp_path / "out"), "--json", by=ADMIN))
    assert again["changed"] is False


@pytest.mark.parametrize(
    ("args", "by", "code", "message"),
    [
        (["restrict", "approve", "r-none"], "bob", 3, "no restriction 'r-none'"),
        (["restrict", "lift", "r-none", "--why", "x"], "carol", 3, "no restriction"),
        (["world", "import", "/nonexistent/world"], ADMIN, 2, "not a directory"),
    ],
)
def test_bad_input_is_a_clear_error(
    staff: People, args: list[str], by: str, code: int, message: str
) -> None:
    assert message in words(staff.invoke(*args, by=by, code=code))


def test_malformed_proposal_yaml_is_a_clear_error(staff: People, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: r-x\nscope: [unclosed\n")
    refused = staff.invoke("restrict", "propose", str(bad), by="alice", code=2)
    assert "bad.yaml" in refused
    assert "malformed YAML" in words(refused)
    assert json.loads(staff.invoke("restrict", "list", "--json", by="alice")) == []


def test_unreachable_database_is_one_line_not_a_traceback() -> None:
    runner = CliRunner(
        env={
            "BRIGHTLINE_DATABASE_URL": "postgresql+psycopg://u:hunter2@127.0.0.1:1/none",
            "BRIGHTLINE_API_KEY": "bl_0123456789abcdef_secret",
        }
    )
    result = runner.invoke(app, ["restrict", "list"])
    assert result.exit_code == 6
    assert len(result.stderr.strip().splitlines()) == 1
    message = words(result.stderr)
    assert message.startswith("error: cannot use the database at")
    assert message.count("error:") == 1
    assert "Connection refused" in message
    assert "hunter2" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
