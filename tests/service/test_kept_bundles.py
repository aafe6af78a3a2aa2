"""A restart from the kept compiled snapshot: the same bundle, served without compiling,
only when the file is whole and of the bundle the store issued last and the store has
not changed since; anything else is compiled and kept again, never served."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from brightline.bundle import log_key_only, verify_logged
from brightline.ledger import generate_key
from brightline.policy import Notice, Request, Snapshot
from brightline.policy.compiled import open_compiled
from brightline.service import approve_restriction, propose_restrictions
from brightline.service.bundles import BundleKeeper
from brightline.service.kept_bundles import KeptBundle, kept_path, open_kept
from brightline.service.ledger import sync_ledger
from brightline.store import Store
from principals import NO_TELEMETRY
from service.store_scenarios import ALICE, BOB, restriction_yaml

T = datetime(2025, 10, 1, tzinfo=UTC)
SIGNER = generate_key("test.brightline/ledger")
POLICY = log_key_only(SIGNER.verifier())


class Compiles:
    """Counts the snapshots compiled (``Snapshot.__init__``) while it is installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original: Callable[..., None] = Snapshot.__init__

        def counted(snapshot: Snapshot, *args: Any, **kwargs: Any) -> None:
            self.count += 1
            original(snapshot, *args, **kwargs)

        monkeypatch.setattr(Snapshot, "__init__", counted)


def start(store: Store, kept: Path, at: datetime, *, notice: Notice | None = None) -> BundleKeeper:
    """A server's first refresh: the bundle in force, logged and served."""
    keeper = BundleKeeper(store, SIGNER, kept=kept, notice=notice)
    assert keeper.refresh(now=at)
    sync_ledger(store, signer=SIGNER, now=at)
    keeper.publish(now=at)
    keeper.wait_kept()
    return keeper


def decisions(keeper: BundleKeeper) -> list[tuple[object, ...]]:
    snapshot = keeper.current.snapshot
    out = []
    for node in snapshot.world.directory.ids:
        for service, operation in snapshot.actions:
            for region in sorted(snapshot.world.catalog.regions):
                d = snapshot.decide(Request(node, service, operation, region, T))
                out.append((node, service, operation, region, d.effect, d.matched, d.would_deny))
    return out


@pytest.fixture
def kept(tmp_path: Path) -> Path:
    return tmp_path / "snapshots"


@pytest.fixture
def in_force(world_store: Store, kept: Path) -> BundleKeeper:
    """The example world with a restriction in force, and its bundle kept."""
    propose_restrictions(world_store, restriction_yaml("r-1"), name="r.yaml", actor=ALICE, now=T)
    approve_restriction(world_store, "r-1", actor=BOB, now=T, settings=NO_TELEMETRY)
    keeper = start(world_store, kept, T)
    assert kept_path(kept, keeper.current.version).is_file()
    return keeper


def test_a_restart_serves_the_kept_bundle_without_compiling(
    world_store: Store, kept: Path, in_force: BundleKeeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = kept_path(kept, in_force.current.version)
    assert path.stat().st_mode & 0o777 == 0o600
    compiles = Compiles(monkeypatch)
    again = start(world_store, kept, T + timedelta(minutes=5))
    assert compiles.count == 0
    assert again.kept_refused is None
    before, after = in_force.served.bundle, again.served.bundle
    assert (after.version, after.serial, after.digest, after.note, after.issued_at) == (
        before.version,
        before.serial,
        before.digest,
        before.note,
        before.issued_at,
    )
    assert after.payload_json == before.payload_json
    assert after.snapshot.restrictions == before.snapshot.restrictions
    assert decisions(again) == decisions(in_force)
    verify_logged(after, again.served.proof, checkpoint_policy=POLICY, held=None)
    assert again.served.encoded(None, None) == in_force.served.encoded(None, None)


def _section(content: bytes, name: str) -> tuple[int, int]:
    """Where section ``name`` of a kept file lies: its offset and length."""
    size = int.from_bytes(content[8:16], "little")
    header = orjson.loads(content[16 : 16 + size])
    offset, length, _ = header["sections"][name]
    return -(-(16 + size) // 64) * 64 + offset, length


@pytest.mark.parametrize(
    "damage", ["payload", "group_of", "restrictions", "truncate", "empty", "garbage", "missing"]
)
def test_a_damaged_or_missing_file_is_compiled_again_and_kept_anew(
    world_store: Store,
    kept: Path,
    in_force: BundleKeeper,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    path = kept_path(kept, in_force.current.version)
    content = path.read_bytes()
    if damage in ("payload", "group_of", "restrictions"):
        offset, length = _section(content, damage)
        flipped = bytearray(content)
        flipped[offset + length // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
    elif damage == "truncate":
        path.write_bytes(content[: len(content) - 100])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(content)))
    else:
        path.unlink()
    compiles = Compiles(monkeypatch)
    again = start(world_store, kept, T + timedelta(minutes=5))
    assert compiles.count == 1
    assert again.kept_refused is not None
    assert str(path) in again.kept_refused
    assert again.served.bundle.digest == in_force.served.bundle.digest
    assert decisions(again) == decisions(in_force)
    rebuilt = open_kept(
        kept,
        version=in_force.current.version,
        serial=in_force.current.serial,
        digest=in_force.current.digest,
        verifier=SIGNER.verifier(),
    )
    assert isinstance(rebuilt, KeptBundle)


def test_a_file_of_another_bundle_is_never_served(
    world_store: Store, kept: Path, in_force: BundleKeeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new restriction changes the policy; a file kept for the old bundle, put under
    the new version's name, is refused as stale."""
    old = kept_path(kept, in_force.current.version).read_bytes()
    later = T + timedelta(hours=1)
    propose_restrictions(
        world_store, restriction_yaml("r-2"), name="r.yaml", actor=ALICE, now=later
    )
    approve_restriction(world_store, "r-2", actor=BOB, now=later, settings=NO_TELEMETRY)
    changed = start(world_store, kept, later)
    assert changed.current.version != in_force.current.version
    kept_path(kept, changed.current.version).write_bytes(old)  # the old one, renamed
    again = start(world_store, kept, later + timedelta(minutes=1))
    assert again.kept_refused is not None
    assert "stale" in again.kept_refused
    assert again.current.digest == changed.current.digest
    assert again.current.snapshot.restrictions == changed.current.snapshot.restrictions


def test_a_change_after_the_bundle_was_issued_is_compiled(
    world_store: Store, kept: Path, in_force: BundleKeeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restriction approved after the bundle was issued (a server stopped before it
    refreshed): the kept file is of the bundle issued last, but the store moved on."""
    later = T + timedelta(hours=1)
    propose_restrictions(
        world_store, restriction_yaml("r-2"), name="r.yaml", actor=ALICE, now=later
    )
    approve_restriction(world_store, "r-2", actor=BOB, now=later, settings=NO_TELEMETRY)
    compiles = Compiles(monkeypatch)
    again = start(world_store, kept, later)
    assert compiles.count >= 1
    assert [r.id for r in again.current.snapshot.restrictions] == ["r-1", "r-2"]


def test_a_restriction_expired_since_is_compiled(
    world_store: Store, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ending = T + timedelta(hours=2)
    body = restriction_yaml("r-1", extra=f"not_after: {ending.isoformat()}\n")
    propose_restrictions(world_store, body, name="r.yaml", actor=ALICE, now=T)
    approve_restriction(world_store, "r-1", actor=BOB, now=T, settings=NO_TELEMETRY)
    first = start(world_store, kept, T)
    assert [r.id for r in first.current.snapshot.restrictions] == ["r-1"]
    compiles = Compiles(monkeypatch)
    again = start(world_store, kept, ending + timedelta(minutes=1))
    assert compiles.count >= 1
    assert again.current.snapshot.restrictions == ()


def test_another_notice_is_issued_again(
    world_store: Store, kept: Path, in_force: BundleKeeper
) -> None:
    notice = Notice(appeal_contact="abuse@example.test")
    again = start(world_store, kept, T + timedelta(minutes=5), notice=notice)
    assert again.current.snapshot.notice == notice
    assert again.current.digest != in_force.current.digest


_WRITER = """
import sys
from datetime import datetime
from pathlib import Path
from brightline.bundle import build_bundle
from brightline.ledger import generate_key
from brightline.service.kept_bundles import keep
from brightline.service.offline import load_world_dir

snapshot = load_world_dir(Path(sys.argv[1])).snapshot()
at = datetime.fromisoformat("2025-10-01T00:00:00+00:00")
bundle = build_bundle(snapshot, {"big": "x" * 30_000_000}, serial=1, issued_at=at,
                      signer=generate_key("test.brightline/ledger"))
print(bundle.version, bundle.digest, flush=True)
while True:
    keep(Path(sys.argv[2]), bundle, next_boundary=None)
"""


def test_a_writer_killed_mid_write_leaves_nothing_that_is_served(tmp_path: Path) -> None:
    """SIGKILL at many points of writing a file of ~30 MB, again and again: what is at
    the kept path is always a whole file of the bundle (written by a run before), never
    part of one."""
    kept = tmp_path / "snapshots"
    world = Path(__file__).parents[2] / "examples" / "world"
    found_whole = 0
    for attempt in range(12):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(world), str(kept)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert writer.stdout is not None
        version, digest = writer.stdout.readline().split()
        time.sleep(0.05 + 0.07 * attempt)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        path = kept_path(kept, version)
        if not path.exists():
            continue
        content = path.read_bytes()
        opened = open_compiled(memoryview(content))  # raises for a partial file
        assert opened.meta["digest"] == digest
        payload_at, length = _section(content, "payload")
        assert hashlib.sha256(content[payload_at : payload_at + length]).hexdigest() == digest
        found_whole += 1
    assert found_whole > 0
