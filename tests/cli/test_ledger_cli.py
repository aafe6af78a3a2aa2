from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from brightline.cli import app
from cli.people import ADMIN, People, words

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


@pytest.fixture
def cli(sqlite_people: People) -> People:
    """A bootstrapped store and its ledger key; alice and carol investigate, bob approves,
    aude audits."""
    out = sqlite_people.invoke("ledger", "keygen")
    assert "brightline.local/ledger+" in out
    for name, role in (
        ("alice", "investigator"),
        ("carol", "investigator"),
        ("bob", "approver"),
        ("aude", "auditor"),
    ):
        sqlite_people.enrol(name, role)
    return sqlite_people


def test_keygen_sync_status_prove_disclose_verify_export(cli: People, tmp_path: Path) -> None:
    run = cli.invoke
    key = tmp_path / "data" / "ledger" / "log.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    run("ledger", "keygen", code=4)  # never overwritten

    base = json.loads(run("ledger", "status", "--json", by="aude"))["size"]
    run("world", "import", str(EXAMPLE), by=ADMIN)
    proposal = tmp_path / "p.yaml"
    proposal.write_text("id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\n")
    run("restrict", "propose", str(proposal), by="alice")
    run("restrict", "approve", "r-1", by="bob")

    status = json.loads(run("ledger", "status", "--json", by="aude"))
    size = base + 3
    assert status["size"] == size
    assert status["checkpoint"].startswith(f"brightline.local/ledger\n{size}\n")

    proof = json.loads(run("ledger", "prove", str(size - 2), by="alice"))
    assert proof["size"] == size
    assert proof["root"] == status["root"]

    run("ledger", "disclose", str(size - 1), by="alice", code=7)  # auditors only
    disclosed = json.loads(run("ledger", "disclose", str(size - 1), by="aude"))
    assert disclosed["record"]["actor"] == "bob"
    assert "bob" not in json.dumps(disclosed["public"])

    kept = tmp_path / "old-checkpoint"
    kept.write_text(status["checkpoint"])
    run("restrict", "lift", "r-1", "--why", "appeal upheld", by="carol")
    verified = run("ledger", "verify", "--checkpoint", str(kept), by="aude")
    assert f"verified store: {size + 1} entries" in verified

    tiles = tmp_path / "tiles"
    run("ledger", "export-tiles", str(tiles), by="aude")
    out = run("ledger", "verify", "--tiles", str(tiles), "--checkpoint", str(kept))
    assert "verified" in out
    (tiles / "tile" / "entries" / "000.p" / str(size + 1)).write_bytes(b"\x00\x01x")
    result = cli.runner.invoke(app, ["ledger", "verify", "--tiles", str(tiles)])
    assert result.exit_code == 5
    assert "index 0" in result.stderr


def test_verify_without_a_key_says_what_to_do(tmp_path: Path) -> None:
    runner = CliRunner(env={"BRIGHTLINE_DATA_DIR": str(tmp_path / "data")})
    result = runner.invoke(app, ["ledger", "verify"])
    assert result.exit_code == 3
    assert "brightline ledger keygen" in result.stderr


def test_prove_unknown_entry(cli: People) -> None:
    cli.invoke("ledger", "prove", "99", by="aude", code=3)


def test_a_missing_verifier_key_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ledger", "verify", "--verifier", str(tmp_path / "log.pub")])
    assert result.exit_code == 3
    assert "no ledger verifier key (log.pub) at" in result.output
    assert "Traceback" not in result.output


def test_verify_audits_the_store_and_names_an_approval_quietly_undone(
    cli: People, tmp_path: Path
) -> None:
    """``ledger verify`` checks that the ledger records the store's history (exit 5 naming
    the first divergent event and its index); ``--no-store-audit`` checks the tree only."""
    run = cli.invoke
    run("world", "import", str(EXAMPLE), by=ADMIN)
    proposal = tmp_path / "p.yaml"
    proposal.write_text("id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\n")
    run("restrict", "propose", str(proposal), by="alice")
    run("restrict", "approve", "r-1", by="bob")
    verified = words(run("ledger", "verify", by="aude"))
    assert "every history row has its one outbox event" in verified
    assert "1 restrictions approved: the ledger's public forms and the store agree" in verified

    database = tmp_path / "b.db"
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        seq, outbox_id = connection.execute(
            text(
                "SELECT e.seq, o.id FROM restriction_events e JOIN outbox o "
                "ON o.event_type = 'restriction.approved' WHERE e.kind = 'approved'"
            )
        ).one()
        connection.execute(text("DELETE FROM restriction_events WHERE seq = :s"), {"s": seq})
        connection.execute(text("DELETE FROM outbox WHERE id = :i"), {"i": outbox_id})
    engine.dispose()
    index = outbox_id - 1  # every outbox event is logged, in order, from entry 0
    error = words(run("ledger", "verify", by="aude", code=5))
    assert f"ledger entry {index} (restriction.approved of R-1) records outbox event" in error
    assert "which is not in the outbox" in error
    tree_only = run("ledger", "verify", "--no-store-audit", by="aude")
    assert "store audit" not in tree_only


def test_a_divergence_quoting_stored_text_is_printed_as_text(cli: People, tmp_path: Path) -> None:
    """A divergence quotes what it finds in the store (here an event's type); text that
    looks like markup stays text."""
    run = cli.invoke
    run("world", "import", str(EXAMPLE), by=ADMIN)
    engine = create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE outbox SET event_type = '[/] [bold]x' WHERE id = 1"))
    engine.dispose()
    error = words(run("ledger", "verify", by="aude", code=5))
    assert "outbox event 1 ([/] [bold]x, ledger entry 0)" in error
    assert "no history writes events of this type" in error
