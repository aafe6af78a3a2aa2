"""The case commands end to end, on both databases: clear refusals and --json output."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from brightline.cli import app
from cases.case_scenarios import EXAMPLE

RESTRICTION = "id: r-cli\nscope: unit-9900\nactions: ['storage.*:*']\nregions: [westeurope]\n"


def _run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, (args, result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    return result.stdout if code == 0 else result.stderr


def test_case_from_report_to_close_through_the_cli(store_url: str, tmp_path: Path) -> None:
    cli = CliRunner(
        env={"BRIGHTLINE_DATABASE_URL": store_url, "BRIGHTLINE_DATA_DIR": str(tmp_path / "data")}
    )
    _run(cli, "world", "import", str(EXAMPLE))
    _run(cli, "principal", "grant", "admin", "case-admin", "--as", "admin")
    for name, role in (
        ("ivy", "investigator"),
        ("ext", "external-reviewer"),
        ("ann", "approver"),
        ("bob", "approver"),
    ):
        _run(cli, "principal", "grant", name, role, "--as", "admin")
    refused = _run(cli, "principal", "grant", "eve", "approver", "--as", "ivy", code=7)
    assert "may not grant-roles" in " ".join(refused.split())

    signal = json.loads(
        _run(
            cli,
            "report",
            "submit",
            "--node",
            "unit-9900",
            "--policy",
            "mass-surveillance",
            "--summary",
            "calls transcribed",
            "--json",
        )
    )
    case = json.loads(
        _run(
            cli,
            "case",
            "open",
            "--title",
            "9900",
            "--signal",
            signal["signal"],
            "--as",
            "ivy",
            "--json",
        )
    )["id"]
    assert case == "C-1"
    _run(cli, "case", "show", case, "--as", "ext", code=7)
    _run(cli, "case", "assign", case, "ext", "--as", "ivy")
    _run(cli, "case", "review", case, "--as", "ivy")
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(b"%PDF- provider contract")
    _run(
        cli,
        "case",
        "evidence",
        "add",
        case,
        "--as",
        "ext",
        "--title",
        "Contract",
        "--document",
        "contract",
        "--file",
        str(contract),
        "--upload",
    )
    _run(
        cli,
        "case",
        "finding",
        "add",
        case,
        "--as",
        "ext",
        "--policy",
        "mass-surveillance",
        "--outcome",
        "substantiated",
        "--rationale",
        "matches",
        "--evidence",
        "1",
    )
    refused = _run(cli, "case", "close", case, "--as", "ivy", "--why", "x", code=4)
    assert "substantiated finding" in " ".join(refused.split())

    proposal = tmp_path / "r.yaml"
    proposal.write_text(RESTRICTION)
    planned = json.loads(_run(cli, "restrict", "plan", str(proposal), "--json"))
    assert planned["restrictions"][0]["subscriptions"] == 5
    decided = json.loads(
        _run(
            cli,
            "case",
            "decide",
            case,
            "--as",
            "ivy",
            "--restrict",
            str(proposal),
            "--rationale",
            "substantiated",
            "--json",
        )
    )
    assert decided["status"] == "decided"
    _run(cli, "case", "approve", "r-cli", "--as", "ext", code=7)
    approved = json.loads(_run(cli, "case", "approve", "r-cli", "--as", "ann", "--json"))
    assert approved["status"] == "in-force"
    _run(cli, "case", "appeal", case, "--as", "ivy", "--grounds", "repurposed")
    _run(cli, "case", "appeal", case, "--as", "bob", "--outcome", "upheld", "--rationale", "no")
    closed = json.loads(_run(cli, "case", "close", case, "--as", "ivy", "--why", "done", "--json"))
    assert closed["status"] == "closed"
    again = _run(cli, "case", "assign", case, "ext", "--as", "ivy", code=4)
    assert "closed" in again
    timeline = json.loads(_run(cli, "case", "timeline", case, "--as", "ivy", "--json"))
    assert [t["kind"] for t in timeline if t["source"] == "restriction"] == ["proposed", "approved"]
