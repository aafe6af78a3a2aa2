from __future__ import annotations

import json
import stat
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
        }
    )


def ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.stdout


def test_keygen_sync_status_prove_disclose_verify_export(cli: CliRunner, tmp_path: Path) -> None:
    out = ok(cli, "ledger", "keygen")
    key = tmp_path / "data" / "ledger" / "log.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "brightline.local/ledger+" in out
    assert cli.invoke(app, ["ledger", "keygen"]).exit_code == 4  # never overwritten

    ok(cli, "world", "import", str(EXAMPLE))
    proposal = tmp_path / "p.yaml"
    proposal.write_text("id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\n")
    ok(cli, "restrict", "propose", str(proposal), "--as", "alice")
    ok(cli, "restrict", "approve", "r-1", "--as", "bob")

    status = json.loads(ok(cli, "ledger", "status", "--json"))
    assert status["size"] == 3
    assert status["checkpoint"].startswith("brightline.local/ledger\n3\n")

    proof = json.loads(ok(cli, "ledger", "prove", "1"))
    assert proof["size"] == 3
    assert proof["root"] == status["root"]

    disclosed = json.loads(ok(cli, "ledger", "disclose", "2"))
    assert disclosed["record"]["actor"] == "bob"
    assert "bob" not in json.dumps(disclosed["public"])

    kept = tmp_path / "old-checkpoint"
    kept.write_text(status["checkpoint"])
    ok(cli, "restrict", "lift", "r-1", "--as", "carol", "--why", "appeal upheld")
    assert "verified store: 4 entries" in ok(cli, "ledger", "verify", "--checkpoint", str(kept))

    tiles = tmp_path / "tiles"
    ok(cli, "ledger", "export-tiles", str(tiles))
    out = ok(cli, "ledger", "verify", "--tiles", str(tiles), "--checkpoint", str(kept))
    assert "verified" in out
    (tiles / "tile" / "entries" / "000.p" / "4").write_bytes(b"\x00\x01x")
    result = cli.invoke(app, ["ledger", "verify", "--tiles", str(tiles)])
    assert result.exit_code == 5
    assert "index 0" in result.stderr


def test_verify_without_a_key_says_what_to_do(cli: CliRunner) -> None:
    result = cli.invoke(app, ["ledger", "verify"])
    assert result.exit_code == 3
    assert "brightline ledger keygen" in result.stderr


def test_prove_unknown_entry(cli: CliRunner) -> None:
    ok(cli, "ledger", "keygen")
    result = cli.invoke(app, ["ledger", "prove", "99"])
    assert result.exit_code == 3


def test_a_missing_verifier_key_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ledger", "verify", "--verifier", str(tmp_path / "log.pub")])
    assert result.exit_code == 3
    assert "no ledger verifier key (log.pub) at" in result.output
    assert "Traceback" not in result.output
