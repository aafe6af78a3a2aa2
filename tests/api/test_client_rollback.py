"""An enforcement point cannot be rolled back, nor shown a policy the log does not hold:
a real server on loopback (SQLite, then PostgreSQL), and in front of it, where needed, a
server that lies (``api.proxy``)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.conftest import Live
from api.proxy import Canned, Proxy, proxy_to
from api.test_api_decisions import enforce_example
from brightline.bundle import LedgerProof, log_key_only, open_bundle, verify_logged
from brightline.enforcement import HIGH_WATER_FILE, Client, NoBundleError, RollbackError
from brightline.enforcement.highwater import read_high_water
from brightline.errors import LedgerIntegrityError
from brightline.ledger import Checkpoint, generate_key, sign_checkpoint
from brightline.policy import Request

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ARCHIVE = Request("sub-9900-archive", "storage.blob", "write", "westeurope", NOW)
#: Nothing listens here: the server is away.
AWAY = "http://127.0.0.1:9"
BUNDLES = "/v1/bundles/current"


def make_client(live: Live, cache: Path, url: str | None = None, **options: Any) -> Client:
    return Client(
        url or live.url,
        api_key=live.keys["enforcement-point"],
        verifier=live.verifier,
        cache_dir=cache,
        enforcement_point="enforcement-point-user",
        **options,
    )


def fetch(live: Live, **params: int) -> dict[str, Any]:
    with live.client("enforcement-point") as http:
        document: dict[str, Any] = http.get(BUNDLES, params=params).json()
    return document


def doctored(proxy: Proxy, edit: Callable[[dict[str, Any]], None]) -> None:
    """From now on, the bundle the proxy forwards is edited by ``edit`` on its way."""

    def answer(path: str, headers: dict[str, str]) -> Canned | None:
        if not path.startswith(BUNDLES):
            return None
        real = proxy.forward("GET", path, headers, b"")
        if real.status != 200:
            return real
        document = json.loads(real.body)
        edit(document)
        return Canned(200, real.headers, json.dumps(document).encode())

    proxy.answer = answer


def test_an_older_signed_bundle_put_in_the_cache_is_refused_after_a_restart(
    live_on: Live, tmp_path: Path
) -> None:
    cache = tmp_path / "ep"
    with make_client(live_on, cache) as client:
        client.refresh()
        old = (cache / "bundle.json").read_bytes()
        enforce_example(live_on)
        assert client.refresh()
        assert client.decide(ARCHIVE).denied
        newer, size = client.serial, client.ledger_size
    mark = read_high_water(cache / HIGH_WATER_FILE)
    assert mark is not None
    assert (mark.serial, mark.ledger.size if mark.ledger else None) == (newer, size)

    (cache / "bundle.json").write_bytes(old)  # validly signed, and older
    with make_client(live_on, cache, url=AWAY) as offline:
        assert offline.serial is None
        assert "has been accepted before" in (offline.last_error or "")
        assert offline.metrics.bundles_refused == 1
        with pytest.raises(NoBundleError):  # fails closed; never the old allow
            offline.decide(ARCHIVE)
    with make_client(live_on, cache) as back:
        assert back.refresh()
        assert back.serial == newer
        assert back.decide(ARCHIVE).denied


def test_a_cached_bundle_without_a_high_water_mark_is_not_trusted(
    live: Live, tmp_path: Path
) -> None:
    """A high-water file deleted (or never written) leaves nothing to check the cached
    bundle against: it could be any bundle ever issued, so it is not loaded."""
    cache = tmp_path / "ep"
    with make_client(live, cache) as client:
        client.refresh()
    (cache / HIGH_WATER_FILE).unlink()
    with make_client(live, cache, url=AWAY) as offline:
        assert offline.serial is None
        assert "no high-water mark" in (offline.last_error or "")
        with pytest.raises(NoBundleError):
            offline.decide(ARCHIVE)
    (cache / HIGH_WATER_FILE).write_text("{not json")
    with make_client(live, cache, url=AWAY) as damaged:
        assert damaged.serial is None
    with make_client(live, cache) as back:  # the server's bundle sets a new mark
        assert back.refresh()
    assert read_high_water(cache / HIGH_WATER_FILE) is not None


def test_the_cached_bundle_is_used_when_it_is_the_high_water_mark(
    live: Live, tmp_path: Path
) -> None:
    cache = tmp_path / "ep"
    enforce_example(live)
    with make_client(live, cache) as client:
        client.refresh()
        serial = client.serial
    with make_client(live, cache, url=AWAY) as offline:
        assert offline.serial == serial
        assert offline.decide(ARCHIVE).denied


def test_a_server_offering_an_older_bundle_is_refused(live_on: Live, tmp_path: Path) -> None:
    with proxy_to(live_on.url) as server:
        with make_client(live_on, tmp_path / "ep", url=server.url) as client:
            client.refresh()
            old = (tmp_path / "ep" / "bundle.json").read_bytes()
            enforce_example(live_on)
            assert client.refresh()
            newer = client.serial
            server.answer = lambda path, headers: Canned(200, {}, old)
            with pytest.raises(RollbackError):
                client.refresh()
            assert client.serial == newer
            assert client.decide(ARCHIVE).denied
        # The refusal left the cache and the mark alone.
        with make_client(live_on, tmp_path / "ep", url=AWAY) as offline:
            assert offline.serial == newer
            assert offline.decide(ARCHIVE).denied


def test_the_served_proof_checks_against_the_ledger_alone(live: Live) -> None:
    enforce_example(live)
    document = fetch(live)
    bundle = open_bundle(document, live.verifier)
    proof = LedgerProof.from_json(document["ledger"])
    checkpoint = verify_logged(
        bundle, proof, checkpoint_policy=log_key_only(live.verifier), held=None
    )
    # An auditor with the ledger's own endpoint sees the same entry in the same tree.
    with live.client("auditor") as http:
        logged = http.get(f"/v1/ledger/entries/{proof.index}/proof").json()
    assert logged["size"] == checkpoint.size
    assert logged["root"] == checkpoint.root_hash.hex()
    assert json.loads(proof.entry)["public"] == {"version": bundle.version, "digest": bundle.digest}


def test_a_bundle_without_a_ledger_proof_is_refused_unless_told_otherwise(
    live_on: Live, tmp_path: Path
) -> None:
    enforce_example(live_on)
    with proxy_to(live_on.url) as server:
        doctored(server, lambda d: d.pop("ledger"))
        with make_client(live_on, tmp_path / "ep", url=server.url) as client:
            with pytest.raises(LedgerIntegrityError, match="no ledger proof"):
                client.refresh()
            assert client.serial is None
        unsafe = make_client(
            live_on, tmp_path / "unsafe", url=server.url, accept_unlogged_bundles_unsafe=True
        )
        with unsafe:
            assert unsafe.refresh()
            assert unsafe.decide(ARCHIVE).denied


def _bend_path(document: dict[str, Any]) -> None:
    document["ledger"]["proof"][0] = "00" * 32


def _next_index(document: dict[str, Any]) -> None:
    document["ledger"]["index"] += 1


def _other_key(document: dict[str, Any]) -> None:
    """The same checkpoint signed by a key with the log's name that is not the log's."""
    impostor = generate_key("brightline.local/ledger")
    body = document["ledger"]["checkpoint"].split("\n\n")[0] + "\n"
    document["ledger"]["checkpoint"] = sign_checkpoint(Checkpoint.parse(body), impostor)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_bend_path, "inclusion proof"),
        (_next_index, "inclusion proof"),
        (_other_key, "not signed"),
    ],
)
def test_a_proof_that_does_not_hold_is_refused(
    live_on: Live, tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    enforce_example(live_on)
    with proxy_to(live_on.url) as server:
        doctored(server, edit)
        with make_client(live_on, tmp_path / "ep", url=server.url) as client:
            with pytest.raises(LedgerIntegrityError, match=message):
                client.refresh()
            assert client.serial is None
            assert not (tmp_path / "ep" / "bundle.json").exists()


def test_a_proof_of_another_bundle_is_refused(live: Live, tmp_path: Path) -> None:
    """A server showing one gateway a policy the log does not hold: the new bundle with
    the proof of the old one (a real entry, a real checkpoint, another policy)."""
    old = fetch(live)
    enforce_example(live)
    with proxy_to(live.url) as server, make_client(live, tmp_path / "ep", url=server.url) as c:
        doctored(server, lambda d: d.update(ledger=old["ledger"]))
        with pytest.raises(LedgerIntegrityError, match="does not log bundle"):
            c.refresh()


def test_a_log_that_does_not_extend_the_held_one_is_refused(live: Live, tmp_path: Path) -> None:
    with proxy_to(live.url) as server, make_client(live, tmp_path / "ep", url=server.url) as c:
        c.refresh()
        held = c.ledger_size
        assert held
        enforce_example(live)
        doctored(server, lambda d: d["ledger"]["consistency"].__setitem__(0, "11" * 32))
        with pytest.raises(LedgerIntegrityError, match="history was rewritten"):
            c.refresh()
        doctored(server, lambda d: d["ledger"].pop("consistency"))
        with pytest.raises(LedgerIntegrityError, match="no consistency proof"):
            c.refresh()
        server.answer = lambda path, headers: None
        assert c.refresh()  # the honest answer carries a proof from `held`
        assert server.seen[-1].endswith(f"ledger_size={held}")
        assert (c.ledger_size or 0) > held


#: Run in a child process: take the bundle, say so, then keep asking the server, which
#: confirms it each time (each confirmation rewrites the mark), until killed.
CHILD = """
import sys
from pathlib import Path
from brightline.enforcement import Client
client = Client(sys.argv[1], api_key=sys.argv[2], verifier=sys.argv[3], cache_dir=Path(sys.argv[4]))
assert client.refresh()
print(client.serial, flush=True)
while True:
    client.refresh()
"""


def test_the_high_water_mark_survives_a_kill(live: Live, tmp_path: Path) -> None:
    cache = tmp_path / "ep"
    enforce_example(live)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            live.url,
            live.keys["enforcement-point"],
            str(live.verifier),
            str(cache),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        assert child.stdout is not None
        serial = int(child.stdout.readline())
        time.sleep(random.uniform(0.3, 0.8))  # somewhere among the rewrites
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
    mark = read_high_water(cache / HIGH_WATER_FILE)
    assert mark is not None
    assert mark.serial == serial
    # A kill in the middle of a rewrite of the mark leaves its partial file (the mark
    # itself is old or new, never part of one); the restarted client clears it.
    with make_client(live, cache, url=AWAY) as restarted:
        assert not list(cache.glob(".*.partial"))
        assert restarted.serial == serial
        assert restarted.decide(ARCHIVE).denied
