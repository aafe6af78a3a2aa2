"""Screenshots of the console's main pages over a finished demo, for docs/console.

    .venv/bin/brightline demo --dir /tmp/demo --pace 0
    .venv/bin/python scripts/console_screenshots.py /tmp/demo docs/console

Serves the demo's store on loopback (the real app), signs in with fresh API keys for
the demo's investigator and approver, and drives Debian's Chromium with Playwright.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from brightline.demo.live import saved_key, served

SHOTS = [
    ("dashboard", "/console/"),
    ("alerts", "/console/alerts"),
    ("case", "/console/cases/C-1"),
    ("restriction", "/console/restrictions/r-9900-1"),
    ("tree", "/console/tree/unit-9900"),
    (
        "tester",
        "/console/tree/sub-9900-ingest/test?service=storage.blob&operation=write&region=westeurope",
    ),
    ("ledger", "/console/ledger?index=3"),
]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main(demo: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with served(demo) as (server, _store):
        investigator = saved_key(demo, "ivan.investigator")
        approver = saved_key(demo, "amal.approver")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = _signed_in(browser, server.url, investigator)
            for name, url in SHOTS:
                page.goto(url)
                page.screenshot(path=str(out / f"{name}.png"), full_page=name == "case")
                print(out / f"{name}.png")
            page = _signed_in(browser, server.url, approver)
            page.goto("/console/restrictions/r-9900-1")
            page.screenshot(path=str(out / "plan.png"), full_page=True)
            site = demo / "transparency" / "index.html"
            if site.is_file():
                report = browser.new_page(viewport={"width": 1280, "height": 900})
                report.goto(site.as_uri())
                report.screenshot(path=str(out / "transparency-report.png"))
            browser.close()


def _signed_in(browser: object, url: str, key: str) -> Page:
    page: Page = browser.new_page(  # type: ignore[attr-defined]
        base_url=url, viewport={"width": 1280, "height": 900}
    )
    page.goto("/console/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/")
    return page


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
