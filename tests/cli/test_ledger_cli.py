from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from brightline.cli import app
from brightline.store import open_store
from brightline.store.ledger_models import LedgerBundleRow
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


# -- sealing a log and continuing in a new one ------------------------------------------------


@pytest.fixture
def staff(people: People) -> People:
    """As ``cli``, on each backend (SQLite, then PostgreSQL)."""
    people.invoke("ledger", "keygen")
    for name, role in (("alice", "investigator"), ("bob", "approver"), ("aude", "auditor")):
        people.enrol(name, role)
    return people


def _status(cli: People, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cli.invoke("ledger", "status", "--json", *args, by="aude"))
    return result


def _restarted_twice(cli: People, tmp_path: Path) -> int:
    """Import, seal log 1, propose, seal log 2 as log 3 = example.org/log-3, approve;
    the size log 1 was sealed at."""
    run = cli.invoke
    run("world", "import", str(EXAMPLE), by=ADMIN)
    size = int(_status(cli)["size"])
    run("ledger", "seal-and-restart", "--log", "1", by=ADMIN)
    proposal = tmp_path / "p.yaml"
    proposal.write_text("id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\n")
    run("restrict", "propose", str(proposal), by="alice")
    run("ledger", "seal-and-restart", "--log", "2", "--origin", "example.org/log-3", by=ADMIN)
    run("restrict", "approve", "r-1", by="bob")
    return size


def test_seal_and_restart_twice_then_verify_the_chain(staff: People, tmp_path: Path) -> None:
    run = staff.invoke
    data = tmp_path / "data" / "ledger"
    run("world", "import", str(EXAMPLE), by=ADMIN)
    before = _status(staff)
    assert (before["log"], before["origin"], before["logs"]) == (1, "brightline.local/ledger", 1)

    run("ledger", "seal-and-restart", "--log", "1", by="aude", code=7)  # admins only
    out = words(run("ledger", "seal-and-restart", "--log", "1", by=ADMIN))
    assert f"sealed log 1 (brightline.local/ledger) at {before['size']} entries" in out
    assert "log 2 (brightline.local/ledger/2) continues it" in out
    assert (data / "log.pub").read_text().startswith("brightline.local/ledger/2+")
    assert (data / "logs" / "1" / "log.pub").read_text().startswith("brightline.local/ledger+")
    assert not (data / "next").exists()
    err = words(run("ledger", "seal-and-restart", "--log", "1", by=ADMIN, code=4))
    assert "log 1 is not the current log (log 2, brightline.local/ledger/2)" in err

    proposal = tmp_path / "p.yaml"
    proposal.write_text("id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\n")
    run("restrict", "propose", str(proposal), by="alice")
    after = _status(staff)
    assert (after["log"], after["size"], after["logs"]) == (2, 2, 2)  # continued, proposed
    assert _status(staff, "--log", "1")["size"] == before["size"]  # sealed: never grows

    run("ledger", "seal-and-restart", "--log", "2", "--origin", "example.org/log-3", by=ADMIN)
    run("restrict", "approve", "r-1", by="bob")
    third = _status(staff)
    assert (third["log"], third["origin"], third["size"]) == (3, "example.org/log-3", 2)
    assert third["checkpoint"].startswith("example.org/log-3\n2\n")
    assert _status(staff, "--log", "2")["size"] == 2

    # The sealed logs' entries can still be proved and disclosed.
    proof = json.loads(run("ledger", "prove", "0", "--log", "1", by="aude"))
    assert proof["size"] == before["size"]
    disclosed = json.loads(run("ledger", "disclose", "1", "--log", "2", by="aude"))
    assert disclosed["event_type"] == "restriction.proposed"
    first = json.loads(run("ledger", "disclose", "0", "--log", "3", by="aude"))
    assert first["public"]["type"] == "ledger.continued"
    assert first["public"]["public"]["origin"] == "brightline.local/ledger/2"
    assert first["public"]["public"]["size"] == 2

    out = words(run("ledger", "verify", "--chain", by="aude"))
    assert "verified the chain of 3 log(s)" in out
    assert "its entry 0 continues brightline.local/ledger/2 at its final checkpoint" in out
    assert "its entry 0 continues brightline.local/ledger at its final checkpoint" in out
    assert "verified brightline.local/ledger (store): " in out


def _tamper_sql(cli: People, statement: str, **values: object) -> None:
    url = cli.runner.env["BRIGHTLINE_DATABASE_URL"]
    assert url is not None
    with open_store(url, migrate=False) as store, store.write() as session:
        session.execute(text(statement), values)


def test_verify_names_a_changed_final_checkpoint(staff: People, tmp_path: Path) -> None:
    _restarted_twice(staff, tmp_path)
    _tamper_sql(
        staff,
        "UPDATE ledger_checkpoints SET note = note || ' ' WHERE id = "
        "(SELECT max(id) FROM ledger_checkpoints WHERE log = 1)",
    )
    staff.invoke("ledger", "verify", by="aude")  # the current log is intact
    err = words(staff.invoke("ledger", "verify", "--chain", by="aude", code=5))
    assert (
        "log 2 (brightline.local/ledger/2) does not continue log 1 (brightline.local/ledger): "
        "the final checkpoint of brightline.local/ledger is not the one the ledger.continued "
        "entry commits to"
    ) in err


def test_verify_names_a_changed_continued_entry(staff: People, tmp_path: Path) -> None:
    _restarted_twice(staff, tmp_path)
    url = staff.runner.env["BRIGHTLINE_DATABASE_URL"]
    assert url is not None
    with open_store(url, migrate=False) as store, store.write() as session:
        row = session.get(LedgerBundleRow, (2, 0))
        assert row is not None
        row.entries = row.entries.replace(b'"size":', b'"size":1', 1)
    err = words(staff.invoke("ledger", "verify", "--chain", by="aude", code=5))
    assert "log 2 (brightline.local/ledger/2): entries differ from the stored log from index 0" in (
        err
    )


def test_an_outsider_walks_the_chain_over_tiles(cli: People, tmp_path: Path) -> None:
    sealed_at = _restarted_twice(cli, tmp_path)
    data = tmp_path / "data" / "ledger"
    tiles = {n: tmp_path / f"tiles-{n}" for n in (1, 2, 3)}
    for n, directory in tiles.items():
        out = cli.invoke("ledger", "export-tiles", str(directory), "--log", str(n), by="aude")
        assert "wrote" in out
    assert (
        (tiles[1] / "checkpoint").read_text().startswith(f"brightline.local/ledger\n{sealed_at}\n")
    )
    current = tmp_path / "tiles"
    cli.invoke("ledger", "export-tiles", str(current), by="aude")  # default: the current log
    assert (current / "checkpoint").read_text() == (tiles[3] / "checkpoint").read_text()

    outsider = CliRunner(env={"BRIGHTLINE_DATA_DIR": str(tmp_path / "elsewhere")})
    keys = [data / "logs" / "1" / "log.pub", data / "logs" / "2" / "log.pub"]

    def verify(*earlier: Path, extra: tuple[str, ...] = ()) -> Result:
        argv = ["ledger", "verify", "--tiles", str(current), "--chain"]
        argv += ["--verifier", str(data / "log.pub"), *extra]
        argv += [arg for d in earlier for arg in ("--previous-tiles", str(d))]
        argv += [arg for key in keys for arg in ("--previous-verifier", str(key))]
        return outsider.invoke(app, argv)

    result = verify(tiles[1], tiles[2])
    assert result.exit_code == 0, result.stderr
    assert "verified the chain of 3 log(s)" in words(result.stdout)
    kept = tmp_path / "kept"  # a checkpoint of a sealed log is checked against that log
    kept.write_text((tiles[1] / "checkpoint").read_text())
    assert verify(tiles[2], tiles[1], extra=("--checkpoint", str(kept))).exit_code == 0

    result = verify(tiles[2])
    assert result.exit_code == 5
    assert "continues brightline.local/ledger, but none of the earlier tiles" in words(
        result.stderr
    )
