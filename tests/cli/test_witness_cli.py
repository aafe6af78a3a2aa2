"""Witnesses through the CLI: two ``brightline ledger witness`` processes on loopback
cosign the log's checkpoints; ``ledger verify``, ``report verify`` and ``case verify``
refuse a checkpoint with fewer valid cosignatures than asked (exit 5); a witness
restarted on its directory remembers what it cosigned."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from brightline.ledger import (
    AddCheckpoint,
    Checkpoint,
    NoteSigner,
    generate_cosigner,
    leaf_hash,
    read_verifier,
    sign_checkpoint,
)
from cli.people import ADMIN, People, words
from witnesses import WitnessProcess, WitnessServer

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


def _strip(note: str, witness: str) -> str:
    return "".join(
        line for line in note.splitlines(keepends=True) if not line.startswith(f"— {witness} ")
    )


@pytest.fixture
def log(sqlite_people: People) -> People:
    sqlite_people.invoke("ledger", "keygen")
    sqlite_people.enrol("aude", "auditor")
    return sqlite_people


def test_two_witness_processes_cosign_and_verify_refuses_fewer(log: People, tmp_path: Path) -> None:
    run = log.invoke
    log_pub = tmp_path / "data" / "ledger" / "log.pub"
    keys = {
        name: run(
            "ledger",
            "witness-keygen",
            "--name",
            f"{name}.example/witness",
            "--dir",
            str(tmp_path / name),
        )
        .strip()
        .splitlines()[-1]
        for name in ("w1", "w2")
    }
    run(
        "ledger",
        "witness-keygen",
        "--name",
        "w1.example/witness",
        "--dir",
        str(tmp_path / "w1"),
        code=4,
    )
    w1 = WitnessProcess(tmp_path / "w1", logs=[str(log_pub)]).start()
    w2 = WitnessProcess(tmp_path / "w2", logs=[read_verifier(log_pub).__str__()]).start()
    try:
        log.runner.env["BRIGHTLINE_LEDGER_WITNESSES"] = (
            f"{w1.url} {keys['w1']},{w2.url} {keys['w2']}"
        )
        run("world", "import", str(EXAMPLE), by=ADMIN)
        both = ["--witness", keys["w1"], "--witness", keys["w2"]]
        verified = words(run("ledger", "verify", *both, by="aude"))
        assert "cosigned by 2 of 2 witnesses (2 needed)" in verified
        assert "cosigned by 2 of 2" in words(run("ledger", "verify", by="aude"))  # the settings'

        tiles = tmp_path / "tiles"
        run("ledger", "export-tiles", str(tiles), by="aude")
        checkpoint = tiles / "checkpoint"
        outsider = ["ledger", "verify", "--tiles", str(tiles), "--verifier", str(log_pub)]
        assert "cosigned by 2 of 2" in words(run(*outsider, *both))
        checkpoint.write_text(_strip(checkpoint.read_text(), "w2.example/witness"))
        refused = words(run(*outsider, *both, code=5))
        assert "1 valid witness cosignature, 2 needed" in refused
        assert "w2.example/witness" in refused
        assert "cosigned by 1 of 2 witnesses (1 needed)" in words(
            run(*outsider, *both, "--witness-quorum", "1")
        )
        run(*outsider, *both, "--witness-quorum", "3", code=2)

        # A restarted witness remembers: the log's key signing another view is refused.
        size = int(checkpoint.read_text().split("\n")[1])
        port = w1.port
        w1.stop()
        w1.start(port=port)
        signer = NoteSigner.parse((tmp_path / "data" / "ledger" / "log.key").read_text())
        split = sign_checkpoint(Checkpoint(signer.name, size, leaf_hash(b"another view")), signer)
        for witness in (w1, w2):
            answer = httpx.post(
                f"{witness.url}/add-checkpoint",
                content=AddCheckpoint(size, (), split).encode(),
                timeout=10,
            )
            assert answer.status_code == 409
        log.enrol("bob", "approver")  # more entries; the next sync submits them
        assert "cosigned by 2 of 2" in words(run("ledger", "verify", *both, by="aude"))
    finally:
        w1.stop()
        w2.stop()


@pytest.fixture
def witnessed(log: People, tmp_path: Path) -> Iterator[tuple[People, list[str]]]:
    """The log, with two in-process witnesses in its settings; their keys."""
    log_key = read_verifier(tmp_path / "data" / "ledger" / "log.pub")
    servers = [
        WitnessServer(tmp_path / name, name=f"{name}.example/witness", logs=[log_key]).start()
        for name in ("w1", "w2")
    ]
    try:
        log.runner.env["BRIGHTLINE_LEDGER_WITNESSES"] = ",".join(
            f"{s.url} {s.key}" for s in servers
        )
        yield log, [str(s.key) for s in servers]
    finally:
        for server in servers:
            server.stop()


def test_report_verify_needs_the_witness_quorum(
    witnessed: tuple[People, list[str]], tmp_path: Path
) -> None:
    log, keys = witnessed
    run = log.invoke
    run("world", "import", str(EXAMPLE), by=ADMIN)
    today = datetime.now(UTC).date()
    site = tmp_path / "site"
    log.runner.env["BRIGHTLINE_API_KEY"] = log.key_file(ADMIN).read_text().strip()
    run(
        "report",
        "transparency",
        "--from",
        (today - timedelta(days=6)).isoformat(),
        "--to",
        today.isoformat(),
        "--out",
        str(site),
    )
    both = ["--witness", keys[0], "--witness", keys[1]]
    verify = ["report", "verify", str(site), "--tiles", str(site / "tiles")]
    assert words(run(*verify, *both)).startswith("OK:")
    third = str(generate_cosigner("w3.example/witness").verifier())
    refused = words(run(*verify, *both, "--witness", third, code=5))
    assert "2 valid witness cosignatures, 3 needed" in refused
    assert "w3.example/witness" in refused
    manifest = site / "report.json"
    stated = json.loads(manifest.read_text())
    stated["checkpoint"]["note"] = _strip(stated["checkpoint"]["note"], "w1.example/witness")
    manifest.write_text(json.dumps(stated))
    assert "1 valid witness cosignature, 2 needed" in words(run(*verify, *both, code=5))


def test_case_verify_needs_the_witness_quorum(
    witnessed: tuple[People, list[str]], tmp_path: Path
) -> None:
    log, keys = witnessed
    run = log.invoke
    run("world", "import", str(EXAMPLE), by=ADMIN)
    log.enrol("ivy", "investigator")
    signal = json.loads(
        run(
            "report",
            "submit",
            "--node",
            "unit-9900",
            "--policy",
            "mass-surveillance",
            "--summary",
            "calls transcribed",
            "--json",
            by="ivy",
        )
    )
    case = json.loads(
        run("case", "open", "--title", "9900", "--signal", signal["signal"], "--json", by="ivy")
    )["id"]
    bundle = tmp_path / "case.json"
    run("case", "export", case, "--out", str(bundle), by="ivy")
    log_pub = str(tmp_path / "data" / "ledger" / "log.pub")
    both = ["--witness", keys[0], "--witness", keys[1]]
    assert "entries verified" in run("case", "verify", str(bundle), "--verifier", log_pub, *both)
    third = str(generate_cosigner("w3.example/witness").verifier())
    refused = words(
        run("case", "verify", str(bundle), "--verifier", log_pub, *both, "--witness", third, code=5)
    )
    assert "2 valid witness cosignatures, 3 needed" in refused
    run(
        "case",
        "verify",
        str(bundle),
        "--verifier",
        log_pub,
        *both,
        "--witness",
        third,
        "--witness-quorum",
        "2",
    )
