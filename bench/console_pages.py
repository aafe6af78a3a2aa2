"""Console page times over a finished demo (no floor is set; for the record).

    .venv/bin/brightline demo --dir /tmp/demo --pace 0
    .venv/bin/python bench/console_pages.py /tmp/demo

Serves the demo's store with the real app on loopback, signs in as its investigator with a
fresh key, and prints the median of five loads of each main page.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

import httpx

from brightline.demo.live import saved_key, served

PAGES = [
    "/console/",
    "/console/alerts",
    "/console/cases/C-1",
    "/console/restrictions/r-9900-1",
    "/console/tree?q=9900",
    "/console/tree/unit-9900/test?service=storage.blob&operation=write&region=westeurope",
    "/console/ledger?index=3",
]


def main(demo: Path) -> None:
    with served(demo) as (server, _store), httpx.Client(base_url=server.url, timeout=60) as client:
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


if __name__ == "__main__":
    main(Path(sys.argv[1]))
