"""While the ledger refuses to sync (its stored log is shorter than what it signed), the
server keeps serving but is not ready: /readyz says why, a metric counts the refusals, and
readiness comes back once the database holds the signed log again (issue 16, point 1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import delete

from api.conftest import start_server
from brightline.config import Settings
from brightline.server.state import AppState, refresh
from brightline.service.ledger import ensure_key
from brightline.store import Store, append_outbox
from brightline.store.ledger_models import LedgerBundleRow, LedgerTileRow
from service.store_scenarios import with_example_world


def _columns(model: type[LedgerBundleRow] | type[LedgerTileRow]) -> list[str]:
    return [c.key for c in model.__table__.columns]


def _change(store: Store) -> None:
    with store.write() as session:
        append_outbox(session, "principal.role-granted", {"role": "auditor"}, at=datetime.now(UTC))


def test_readyz_fails_while_the_ledger_refuses_and_recovers(store: Store, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ensure_key(settings)
    with_example_world(store)
    for _ in range(300):
        _change(store)
    server, thread, url = start_server(settings, store)
    try:
        _refuse_and_recover(store, server.config.app.state.brightline, url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _refuse_and_recover(store: Store, state: AppState, url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/readyz").json()["status"] == "ready"
        # Take the second bundle away (entries 256 on), hashes and all.
        with store.read() as session:
            bundle = session.get(LedgerBundleRow, (1, 1))
            tile = session.get(LedgerTileRow, (1, 0, 1))
            assert bundle is not None
            assert tile is not None
            backup = [
                LedgerBundleRow(**{c: getattr(bundle, c) for c in _columns(LedgerBundleRow)}),
                LedgerTileRow(**{c: getattr(tile, c) for c in _columns(LedgerTileRow)}),
            ]
        with store.write() as session:
            session.execute(delete(LedgerBundleRow).where(LedgerBundleRow.bundle == 1))
            session.execute(
                delete(LedgerTileRow).where(LedgerTileRow.level == 0, LedgerTileRow.tile == 1)
            )
        _change(store)
        refresh(state)
        ready = http.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "ledger-refused"
        assert "entry 256: missing" in body["reason"]
        metrics = http.get("/metrics").text
        refused = re.search(r"^brightline_ledger_sync_refused_total (\S+)$", metrics, re.M)
        assert refused is not None
        assert float(refused.group(1)) >= 1
        assert "brightline_ledger_refusing 1.0" in metrics
        assert http.get("/healthz").status_code == 200  # alive, not ready

        # The database restored (the rows put back): the next sync logs the change.
        with store.write() as session:
            session.add_all(backup)
        state._retry_sync_at = 0.0
        refresh(state)
        assert http.get("/readyz").json()["status"] == "ready"
        assert "brightline_ledger_refusing 0.0" in http.get("/metrics").text
