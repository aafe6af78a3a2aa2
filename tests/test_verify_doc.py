"""docs/verify.md: its standard-library scripts, extracted as printed, verify a real ledger
that was sealed and restarted twice, walk back through its logs, and refuse tampering."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from brightline.access import Principal, Role
from brightline.config import Settings
from brightline.service.ledger import disclose, export_tiles_dir, keygen, sync
from brightline.service.ledger_keys import LedgerKeys
from brightline.service.ledger_seal import log_verifier, seal_and_restart
from brightline.store import Store, append_outbox, open_store

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "verify.md"
T = datetime(2025, 10, 1, tzinfo=UTC)
ADMIN = Principal("root", frozenset({Role.ADMIN}), credential="test")
ORIGIN = "brightline.local/ledger"

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the recipe checks signatures with openssl"
)


def script(title: str) -> str:
    """The Python block printed after the bold ``title`` in docs/verify.md."""
    after = DOC.read_text(encoding="utf-8").split(f"**`{title}`", 1)[1]
    return after.split("```python\n", 1)[1].split("\n```", 1)[0] + "\n"


def _events(store: Store, count: int) -> None:
    with store.write() as session:
        for i in range(count):
            append_outbox(session, "principal.role-granted", {"role": "auditor", "n": i}, at=T)


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A deployment's three logs as its provider publishes them, the scripts beside them."""
    out = tmp_path / "out"
    out.mkdir()
    settings = Settings(
        database_url=SecretStr(f"sqlite:///{tmp_path / 'b.db'}"), data_dir=tmp_path / "data"
    )
    keygen(settings)
    with open_store(settings) as store:
        _events(store, 300)
        (out / "saved-checkpoint").write_text(str(sync(settings, store).checkpoint))
        _events(store, 2)
        seal_and_restart(settings, store, actor=ADMIN, now=T)
        _events(store, 2)
        seal_and_restart(settings, store, actor=ADMIN, now=T)
        _events(store, 3)
        sync(settings, store)
        for n in (1, 2, 3):
            export_tiles_dir(store, out / f"tiles-{n}", log_verifier(settings, store, n), log=n)
        (out / "entry.json").write_text(json.dumps(disclose(store, 1, log=1).to_json()))
    shutil.copy(LedgerKeys.of(settings).public, out / "log.pub")
    for n in (1, 2):
        shutil.copy(LedgerKeys.sealed(settings, n).public, out / f"log-{n}.pub")
    shutil.copy(ROOT / "src" / "brightline" / "ledger" / "verify.py", out / "merkle.py")
    for name in ("verify_log.py", "check_disclosure.py"):
        (out / name).write_text(script(name))
    return out


def run(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=directory, capture_output=True, text=True, timeout=120
    )


def test_verify_log_walks_back_through_every_log(published: Path) -> None:
    chain = ["--previous", "tiles-2", "log-2.pub", "--previous", "tiles-1", "log-1.pub"]
    done = run(published, "verify_log.py", "tiles-3", "log.pub", "saved-checkpoint", *chain)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"ok: {ORIGIN}/3: 4 entries, root " + _root(published / "tiles-3"),
        f"ok: {ORIGIN}/2: 3 entries, root " + _root(published / "tiles-2"),
        f"ok: {ORIGIN}/3 continues {ORIGIN}/2 at its final checkpoint",
        f"ok: {ORIGIN}: 302 entries, root " + _root(published / "tiles-1"),
        "ok: consistent with the older checkpoint of 300 entries",
        f"ok: {ORIGIN}/2 continues {ORIGIN} at its final checkpoint",
    ]
    alone = run(published, "verify_log.py", "tiles-3", "log.pub")
    assert alone.returncode == 0, alone.stderr
    assert f"note: {ORIGIN}/3 continues {ORIGIN}/2: add --previous" in alone.stdout


def _root(tiles: Path) -> str:
    return (tiles / "checkpoint").read_text().split("\n")[2]


def test_verify_log_refuses_a_changed_final_checkpoint(published: Path) -> None:
    checkpoint = published / "tiles-1" / "checkpoint"
    checkpoint.write_text(checkpoint.read_text().replace("— ", "— x", 1))
    chain = ["--previous", "tiles-2", "log-2.pub", "--previous", "tiles-1", "log-1.pub"]
    done = run(published, "verify_log.py", "tiles-3", "log.pub", *chain)
    assert done.returncode == 1
    assert "NOT VERIFIED: tiles-1/checkpoint is not the final checkpoint" in done.stderr


def test_verify_log_refuses_a_log_given_out_of_order(published: Path) -> None:
    chain = ["--previous", "tiles-1", "log-1.pub"]
    done = run(published, "verify_log.py", "tiles-3", "log.pub", *chain)
    assert done.returncode == 1
    assert "NOT VERIFIED: tiles-1/checkpoint is not the final checkpoint" in done.stderr


def test_check_disclosure_checks_an_entry_of_a_sealed_log(published: Path) -> None:
    done = run(published, "check_disclosure.py", "entry.json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"entry 1 (principal.role-granted) is in {ORIGIN} at size 302"
