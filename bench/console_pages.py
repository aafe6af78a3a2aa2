"""Console page times over a finished demo.

    .venv/bin/brightline demo --dir /tmp/demo --pace 0
    .venv/bin/python bench/console_pages.py /tmp/demo

Serves the demo's store with the real app on loopback, signs in as its investigator with a
fresh key, and prints the median of five loads of each main page. Floor (issue 18): the
case page <= 50 ms. Then the case's 30-day usage alone, from the daily rollups (whole
days) beside the same usage summed from the raw rows, measured alike in this process.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from brightline.demo.live import saved_key, served
from brightline.service.usage import (
    read_usage,
    read_usage_summary,
    subscriptions_under,
    summarise,
    telemetry_of,
)
from brightline.store import Store, latest_world

PAGES = [
    "/console/",
    "/console/alerts",
    "/console/cases/C-1",
    "/console/restrictions/r-9900-1",
    "/console/tree?q=9900",
    "/console/tree/unit-9900/test?service=storage.blob&operation=write&region=westeurope",
    "/console/ledger?index=3",
]
CASE_PAGE = "/console/cases/C-1"
CASE_FLOOR_MS = 50.0


def _median_ms(read: Callable[[], object]) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def case_usage_read(demo: Path, store: Store) -> None:
    """The case's usage over its 30 days, as the page reads it, beside the raw rows."""
    from brightline.config import Settings
    from brightline.service.cases import load_case

    with store.read() as session:
        nodes = load_case(session, "C-1").nodes
        stored = latest_world(session)
    assert stored is not None
    subs = sorted({s for n in nodes for s in subscriptions_under(stored.world.directory, n)})
    dataset = telemetry_of(Settings(data_dir=demo / "data"))
    until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(days=30)
    raw = _median_ms(
        lambda: summarise(read_usage(dataset, subscriptions=subs, since=since, until=until))
    )
    rolled = _median_ms(
        lambda: read_usage_summary(dataset, subscriptions=subs, since=since, until=until)
    )
    print(
        f"case C-1 usage ({len(subs)} subscriptions, 30 days): rollups {rolled:.1f} ms, "
        f"raw rows {raw:.1f} ms: {raw / rolled:.1f}x"
    )


def main(demo: Path) -> None:
    with served(demo) as (server, store), httpx.Client(base_url=server.url, timeout=60) as client:
        key = saved_key(demo, "ivan.investigator")
        form = client.get("/console/login").text
        token = re.search(r'name="login_token" value="([^"]+)"', form)
        assert token is not None
        client.post("/console/login", data={"login_token": token.group(1), "credential": key})
        for url in PAGES:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
                response.raise_for_status()
            print(
                f"{url:86s} {statistics.median(times) * 1000:7.1f} ms "
                f"{len(response.content) / 1024:6.1f} KiB"
            )
            if url == CASE_PAGE:
                case_ms, first_ms = statistics.median(times) * 1000, times[0] * 1000
        print(
            f"case page {case_ms:.1f} ms (its first load {first_ms:.1f} ms), floor "
            f"{CASE_FLOOR_MS:.0f} ms: {'met' if case_ms <= CASE_FLOOR_MS else 'NOT met'}"
        )
        case_usage_read(demo, store)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
