"""The server has its checkpoints cosigned in the background, by two real witnesses on
loopback, and counts the submissions in its metrics."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, start_server
from brightline.config import Settings, WitnessEndpoint
from brightline.ledger import WitnessQuorum
from brightline.service.ledger import ensure_key
from brightline.service.witnessing import witnessed_store
from brightline.service.worlds import import_world
from brightline.store import append_outbox, open_store
from witnesses import WitnessServer


def test_the_server_has_its_checkpoints_cosigned_in_the_background(tmp_path: Path) -> None:
    verifier = ensure_key(Settings(data_dir=tmp_path / "data"))
    witnesses = [
        WitnessServer(tmp_path / name, name=f"{name}.example/witness", logs=[verifier]).start()
        for name in ("w1", "w2")
    ]
    settings = Settings(
        data_dir=tmp_path / "data",
        ledger_witnesses=tuple(WitnessEndpoint(url=w.url, key=str(w.key)) for w in witnesses),
        ledger_witness_timeout=2.0,
    )
    store = open_store(f"sqlite:///{tmp_path / 'api.db'}")
    keys = provision(store, settings, {})
    import_world(store, EXAMPLE, actor=principal_of(store, settings, keys[ROOT]))
    server, thread, url = start_server(settings, store)
    quorum = WitnessQuorum.of([w.key for w in witnesses])
    try:
        with store.write() as session:  # a change: the server logs it, then has it cosigned
            append_outbox(
                session, "principal.role-granted", {"role": "auditor"}, at=datetime.now(UTC)
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                cosigned = witnessed_store(store, verifier, quorum)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert {c.witness.name for c in cosigned} == {"w1.example/witness", "w2.example/witness"}
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert (
            'brightline_witness_submissions_total{outcome="cosigned",witness="w1.example/witness"}'
            in metrics
        )
        assert "brightline_witness_cosignatures 2.0" in metrics
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
        for witness in witnesses:
            witness.stop()
