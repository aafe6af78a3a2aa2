"""Telemetry of nodes under an open case outlives retention; closing the case releases it."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from brightline.config import Settings
from brightline.service.cases import open_case
from brightline.service.telemetry import holds_source, prune_telemetry, telemetry_dataset
from brightline.store import Store
from brightline.world import load_world
from cases.case_scenarios import EXAMPLE, People, at, report, september_usage


def test_prune_keeps_usage_of_nodes_under_an_open_case(
    store: Store, people: People, tmp_path: Path
) -> None:
    url = make_url(store.engine.url).render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp_path / "data", database_url=SecretStr(url))
    september_usage(settings)
    investigator = people["investigator"]
    signal = report(store, actor=investigator)
    open_case(store, actor=investigator, title="9900", signals=[signal], now=at(1))
    assert "unit-9900" in holds_source(settings).held_nodes(at(1))

    world = load_world(EXAMPLE)
    result = prune_telemetry(settings, now=at(1), world=lambda: world, retention_days=3)
    assert result.rows_kept_for_holds > 0
    files = telemetry_dataset(settings).files()
    subs = set(pq.read_table(files, columns=["subscription_id"]).column(0).to_pylist())
    assert {"sub-9900-ingest", "sub-9900-transcribe"} & subs
