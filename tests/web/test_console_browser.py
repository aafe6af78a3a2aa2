"""The console in a real browser: Playwright driving Debian's Chromium over loopback.

The story of the seed case, by the people who live in the console: an investigator opens
a case from an alert, an external reviewer records a finding, the investigator previews
and proposes a restriction, fails to approve it (four eyes), a second approver approves
it, and the tester then denies the call. axe-core (from the npm registry) checks every
page for serious or critical accessibility violations.

Set ``BRIGHTLINE_SCREENSHOTS=docs/console`` to refresh the documentation's screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from web.conftest import Console

ROOT = Path(__file__).parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

RESTRICTION = """id: r-console-1
scope: unit-9900
actions: ["storage.*:*", "ai.speech:*", "ai.translator:*"]
regions: [westeurope, northeurope]
exempt: [sub-9900-rescue]
mode: enforce
reason: {policy: mass-surveillance}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium"
    assert AXE.is_file(), "axe-core is missing: run `npm ci` (make test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Checked:
    """Pages visited, each checked with axe-core and optionally kept as a screenshot."""

    def __init__(self, shots: Path) -> None:
        self.shots = shots
        self.checked: list[str] = []

    def __call__(self, page: Page, name: str) -> None:
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        result: dict[str, Any] = page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"accessibility violations on {name} ({page.url}):\n" + "\n".join(bad)
        page.screenshot(path=str(self.shots / f"{name}.png"))
        self.checked.append(name)


@pytest.fixture
def check(tmp_path: Path) -> Checked:
    target = os.environ.get("BRIGHTLINE_SCREENSHOTS")
    shots = Path(target) if target else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    return Checked(shots)


def sign_in(browser: Browser, console: Console, who: str) -> Page:
    # CSP stays on for the pages; it is bypassed only so that axe can be injected.
    context = browser.new_context(base_url=console.url, bypass_csp=True)
    page = context.new_page()
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.get_by_label(re.compile("API key")).fill(console.keys[who])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {who}")).to_be_visible()
    return page


def test_the_seed_case_through_the_console(
    browser: Browser, console: Console, check: Checked
) -> None:
    # An investigator (who also holds the approver role) opens a case from an alert.
    login = browser.new_page(base_url=console.url, bypass_csp=True)
    login.goto("/console/login")
    check(login, "login")
    login.context.close()

    ines = sign_in(browser, console, "ines")
    check(ines, "dashboard")
    _nav(ines, "Alerts").click()
    expect(ines.get_by_role("heading", name="Alerts")).to_be_visible()
    check(ines, "alerts")
    row = ines.get_by_role("row").filter(has_text="A-ms-0001")
    row.get_by_role("textbox").fill("Mass surveillance at unit 9900")
    row.get_by_role("button", name="Open case").click()
    expect(ines.get_by_role("heading", level=1)).to_contain_text("Mass surveillance at unit 9900")
    case_url = ines.url
    case_id = case_url.rsplit("/", 1)[1]

    ines.get_by_label("Assign reviewer").fill("ext")
    ines.get_by_role("button", name="Assign").click()
    expect(ines.get_by_text("Reviewer assigned.")).to_be_visible()
    ines.get_by_role("button", name="Start review").click()
    expect(ines.locator(".facts .badge").first).to_have_text("under-review")

    # The external reviewer sees only this case and records a finding.
    ext = sign_in(browser, console, "ext")
    expect(_nav(ext, "Alerts")).to_have_count(0)
    _nav(ext, "Cases").click()
    check(ext, "cases")
    ext.get_by_role("link", name=case_id).click()
    ext.get_by_label("Outcome").select_option("substantiated")
    ext.get_by_label("Rationale", exact=True).fill(
        "Telecom-scale audio ingest, transcription and translation stored in two foreign "
        "regions: consistent with mass surveillance of civilians."
    )
    ext.get_by_role("button", name="Record finding").click()
    expect(ext.get_by_text("Finding recorded.")).to_be_visible()
    expect(ext.locator("#findings-h ~ table")).to_contain_text("substantiated")
    check(ext, "case")

    # The investigator drafts a restriction, previews its impact and proposes it.
    ines.goto(case_url)
    ines.get_by_label("Restriction (YAML, the format of restrictions.yaml)").fill(RESTRICTION)
    ines.get_by_label("Rationale for the decision").fill("Finding 1 substantiated.")
    ines.get_by_role("button", name="Preview impact").click()
    expect(ines.get_by_role("heading", name="Impact plan")).to_be_visible()
    expect(ines.get_by_text("Nothing has been proposed yet")).to_be_visible()
    check(ines, "plan-preview")
    ines.get_by_role("button", name="Decide and propose").click()
    expect(ines.get_by_role("heading", level=1)).to_have_text("Restriction r-console-1")
    expect(ines.locator("#restriction-status")).to_have_text("proposed")

    # Four eyes: the proposer cannot approve its own proposal.
    ines.get_by_role("button", name=re.compile("^Approve")).click()
    expect(ines.get_by_role("alert")).to_contain_text("ines")
    expect(ines.get_by_role("heading", level=1)).to_have_text("Refused")
    check(ines, "refused")
    ines.goto("/console/restrictions/r-console-1")
    expect(ines.locator("#restriction-status")).to_have_text("proposed")

    # A second approver approves; the restriction is in force.
    alba = sign_in(browser, console, "alba")
    alba.goto("/console/restrictions/r-console-1")
    alba.get_by_role("button", name=re.compile("^Approve")).click()
    expect(alba.get_by_text("Approved: r-console-1 is now in-force.")).to_be_visible()
    expect(alba.locator("#restriction-status")).to_have_text("in-force")
    check(alba, "restriction")
    _nav(alba, "Restrictions").click()
    expect(alba.get_by_role("row").filter(has_text="r-console-1")).to_contain_text("in-force")
    check(alba, "restrictions")

    # The tester denies the unit's storage in a restricted region, explained...
    _nav(ines, "Customers").click()
    ines.get_by_label("Find a node by id or name").fill("9900")
    ines.get_by_role("button", name="Search").click()
    ines.get_by_role("link", name="unit-9900-collection").click()
    check(ines, "tree")
    _ask(ines, "storage.blob", "write", "westeurope")
    expect(ines.locator("#verdict-result .effect")).to_have_text("DENY")
    expect(ines.locator("#verdict-result")).to_contain_text("r-console-1")
    check(ines, "tester")
    # ...and allows the exempt subscription and an unrestricted region.
    ines.goto("/console/tree/sub-9900-rescue")
    _ask(ines, "storage.blob", "write", "westeurope")
    expect(ines.locator("#verdict-result .effect")).to_have_text("ALLOW")
    ines.goto("/console/tree/unit-9900")
    _ask(ines, "storage.blob", "write", "eastus")
    expect(ines.locator("#verdict-result .effect")).to_have_text("ALLOW")

    # The ledger holds it all; an entry shows with a proof that checks.
    _nav(ines, "Ledger").click()
    ines.get_by_label("Entry number").fill("0")
    ines.get_by_role("button", name="Show").click()
    expect(ines.get_by_text("The proof checks")).to_be_visible()
    check(ines, "ledger")

    ines.goto(case_url)
    expect(ines.locator("#decision-h ~ p").first).to_contain_text("restrict")
    check(ines, "case-decided")

    assert len(check.checked) >= 12


def _nav(page: Page, name: str) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def _ask(page: Page, service: str, operation: str, region: str) -> None:
    page.get_by_label("Service", exact=True).select_option(service)
    page.get_by_label("Operation", exact=True).fill(operation)
    page.get_by_label("Region", exact=True).select_option(region)
    page.get_by_role("button", name="Decide").click()


def test_the_console_works_without_javascript(browser: Browser, console: Console) -> None:
    context = browser.new_context(base_url=console.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/console/alerts")
    page.get_by_label(re.compile("API key")).fill(console.keys["ines"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/console/alerts$"))
    row = page.get_by_role("row").filter(has_text="A-ms-0002")
    row.get_by_role("button", name="Open case").click()
    expect(page.get_by_text(re.compile(r"Case C-\d+ opened from alert A-ms-0002"))).to_be_visible()
    page.goto("/console/tree/unit-9900")
    _ask(page, "ai.speech", "transcribe", "westeurope")
    expect(page).to_have_url(re.compile(r"/console/tree/unit-9900/test\?"))
    expect(page.locator("#verdict-result .effect")).to_have_text("ALLOW")
    context.close()


def test_the_transparency_site_is_accessible(
    browser: Browser, console: Console, check: Checked, tmp_path: Path
) -> None:
    from datetime import UTC, date, datetime

    from brightline.service.transparency import write_transparency_report

    today = datetime.now(UTC).date()
    summary = write_transparency_report(
        console.store,
        settings=console.settings,
        period_from=date(today.year, 1, 1),
        period_to=today,
        out_dir=tmp_path / "site",
    )
    page = browser.new_page(bypass_csp=True)
    page.goto((summary.out_dir / "index.html").as_uri())
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check(page, "transparency-report")
    page.context.close()


def test_a_person_reports_anonymously_and_reads_the_investigators_reply(
    browser: Browser, console: Console, check: Checked
) -> None:
    # Someone with nothing but a browser files a report: no sign-in, no cookie.
    reporter = browser.new_context(base_url=console.url, bypass_csp=True)
    page = reporter.new_page()
    page.goto("/report")
    check(page, "report")
    page.get_by_label("Which policy").select_option("mass-surveillance")
    page.get_by_label(re.compile("^Who")).fill("Nightjar programme")
    page.get_by_label("What you saw").fill(
        "The Nightjar unit stores and transcribes intercepted phone calls in bulk."
    )
    page.get_by_label("References (optional)").fill("https://news.example/nightjar")
    page.get_by_label(re.compile("^A document")).set_input_files(
        files=[{"name": "note.txt", "mimeType": "text/plain", "buffer": b"call logs, redacted"}]
    )
    page.get_by_role("button", name="Send the report").click()
    expect(page.get_by_role("heading", name="Report received")).to_be_visible()
    check(page, "report-receipt")
    receipt = page.get_by_label("Your receipt").input_value()
    assert len(receipt) >= 43
    assert reporter.cookies() == []
    reporter.close()

    # An investigator finds it in the intake queue, replies, links a node, opens a case.
    ines = sign_in(browser, console, "ines")
    _nav(ines, "Intake").click()
    expect(ines.get_by_role("heading", name=re.compile("Nightjar programme"))).to_be_visible()
    check(ines, "intake")
    report = ines.locator("section").filter(has_text="Nightjar programme")
    report.get_by_label("Reply to the reporter").fill("Thank you. When did you see this?")
    report.get_by_role("button", name="Send reply").click()
    expect(ines.get_by_text(re.compile(r"Reply to report S-\d+ sent"))).to_be_visible()
    report = ines.locator("section").filter(has_text="Nightjar programme")
    report.get_by_label(re.compile("Nodes it is about")).first.fill("unit-9900")
    report.get_by_role("button", name="Open a case").click()
    expect(ines.get_by_role("heading", level=1)).to_contain_text("Report about Nightjar")

    # The reporter comes back with the receipt, without JavaScript, and reads the reply.
    plain = browser.new_context(base_url=console.url, java_script_enabled=False)
    page = plain.new_page()
    page.goto("/report/status")
    page.get_by_label("Receipt").fill(receipt)
    page.get_by_role("button", name="Show my report").click()
    expect(page.locator("#report-status")).to_contain_text("Under review")
    expect(page.get_by_text("Thank you. When did you see this?")).to_be_visible()
    page.get_by_label("Write to the investigators").fill("Last March, twice.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Last March, twice.")).to_be_visible()
    plain.close()

    # Both follow-up pages pass axe-core too; a wrong receipt learns nothing.
    again = browser.new_context(base_url=console.url, bypass_csp=True)
    page = again.new_page()
    page.goto("/report/status")
    check(page, "report-status-form")
    page.get_by_label("Receipt").fill(receipt[::-1])
    page.get_by_role("button", name="Show my report").click()
    expect(page.get_by_role("alert")).to_contain_text("no report with this receipt")
    page.get_by_label("Receipt").fill(receipt)
    page.get_by_role("button", name="Show my report").click()
    expect(page.get_by_text("Last March, twice.")).to_be_visible()
    check(page, "report-status")
    again.close()


def test_a_restricted_customer_sees_and_appeals_its_restriction(
    browser: Browser, console: Console, check: Checked
) -> None:
    from access_setup import principal_of
    from customer_scenario import IN_FORCE, INTERNAL, SCHEDULED, SIBLING, restricted_customer

    def person(name: str) -> Any:
        return principal_of(console.store, console.settings, console.keys[name])

    restricted = restricted_customer(
        console.store, console.settings, investigator=person("ines"), approver=person("alba")
    )

    # The customer signs in and lands on its own page: its restrictions, nothing else.
    page = sign_in(browser, console, "acme-ops")
    expect(page).to_have_url(re.compile(r"/console/customer$"))
    expect(page.get_by_role("heading", name=f"{IN_FORCE}: ", exact=False)).to_be_visible()
    expect(page.get_by_role("heading", name=f"{SCHEDULED}: ", exact=False)).to_be_visible()
    expect(page.locator(f"#restriction-{IN_FORCE}")).to_contain_text("in force")
    expect(page.locator(f"#restriction-{SCHEDULED}")).to_contain_text("scheduled")
    assert [n.inner_text() for n in page.get_by_role("navigation").get_by_role("link").all()] == [
        "Your restrictions"
    ]
    text = page.locator("main").inner_text()
    for word in (*INTERNAL, SIBLING, restricted.case, "ines", "alba"):
        assert word not in text
    check(page, "customer")

    # It appeals; the appeal shows as awaiting re-review, and no second form is offered.
    card = page.locator(f"#restriction-{IN_FORCE}")
    card.get_by_label(re.compile("Why this restriction")).fill("The unit now does rescue work.")
    card.get_by_role("button", name=f"Appeal {IN_FORCE}").click()
    expect(page.get_by_text(re.compile(f"Appeal 1 against {IN_FORCE} filed"))).to_be_visible()
    card = page.locator(f"#restriction-{IN_FORCE}")
    expect(card).to_contain_text("awaiting re-review")
    expect(card.get_by_role("button")).to_have_count(0)
    check(page, "customer-appealed")
    page.context.close()

    # The appeal is on the case, for the investigator to re-review.
    ines = sign_in(browser, console, "ines")
    ines.goto(f"/console/cases/{restricted.case}")
    expect(ines.get_by_text("The unit now does rescue work.")).to_be_visible()
    ines.context.close()

    # The sibling customer sees its own restriction only; the other's is "not found".
    sibling = sign_in(browser, console, "medic-ops")
    expect(sibling.get_by_role("heading", name=f"{SIBLING}: ", exact=False)).to_be_visible()
    assert IN_FORCE not in sibling.locator("main").inner_text()
    csrf = sibling.locator('input[name="csrf"]').first.get_attribute("value")
    refused = sibling.request.post(
        f"/console/customer/{IN_FORCE}/appeal", form={"csrf": csrf or "", "grounds": "ours?"}
    )
    missing = sibling.request.post(
        "/console/customer/r-nowhere/appeal", form={"csrf": csrf or "", "grounds": "ours?"}
    )
    assert refused.status == missing.status == 404
    sibling.context.close()
