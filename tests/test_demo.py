"""The demo's story end to end, at a small scale: through the service steps (asserting the
facts each step leaves) and through ``brightline demo`` (asserting what it leaves in its
directory)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from brightline.cli import app
from brightline.config import Settings
from brightline.demo import RESTRICTION_ID, STEPS, Demo, DemoOptions, finished_case
from brightline.demo.enforce import ApprovalResult, EnforcementResult
from brightline.demo.proof import AppealResult, LedgerResult, TransparencyResult
from brightline.demo.provider import DetectionResult, PeopleResult
from brightline.demo.review import ReportsResult
from brightline.enforcement import Client
from brightline.policy import Request
from brightline.service import Status, show_restriction
from brightline.service.ledger import LedgerKeys, verify_store
from brightline.store import open_store
from brightline.synth.story import LOOK_ALIKES, MINISTRY, UNIT

SCALE = 100


def test_the_story_through_the_service_steps(tmp_path: Path) -> None:
    results: dict[str, Any] = {}
    with Demo.create(DemoOptions(tmp_path / "demo", scale=SCALE)) as demo:
        for step in STEPS:
            results[step.name] = step.run(demo, lambda *_: None)
        case = finished_case(demo)
        restriction = show_restriction(demo.store, RESTRICTION_ID)
        ledger = verify_store(demo.store, LedgerKeys.of(demo.settings).verifier())

    detection: DetectionResult = results["detection"]
    alerted = {a.node for a in detection.alerts}
    # Localized: the alert names the unit that carries the pattern, within its ministry.
    assert UNIT in alerted
    assert MINISTRY not in alerted
    assert not alerted & {*LOOK_ALIKES, *(f"{c}-u{i}" for c in LOOK_ALIKES for i in (0, 1))}
    assert all(score < detection.threshold for *_, score in detection.look_alikes)

    approval: ApprovalResult = results["approval"]
    assert approval.case_status == "decided"
    assert approval.status == "in-force"
    assert approval.self_approval.startswith("refused")
    assert approval.approved_by != approval.proposed_by
    assert restriction.status is Status.IN_FORCE

    reports: ReportsResult = results["reports"]
    assert reports.public_status == (
        "status received; reply: Thank you. We have opened an investigation."
    )
    (public,) = [r for r in reports.signals if r.source == "public"]
    assert public.nodes == ()  # the subject is words: the case linked the unit
    (shown,) = [s for s in case["signals"] if s["id"] == public.ref]
    assert shown["source"] == "person"

    people: PeopleResult = results["people"]
    assert all(d.in_process == d.client == d.http == "allow" for d in people.before)
    enforcement: EnforcementResult = results["enforcement"]
    assert enforcement.bundle_after != enforcement.bundle_before
    for decided in enforcement.after:
        want = decided.call.expected
        assert (decided.in_process, decided.client, decided.http) == (want, want, want), decided
    denied = {d.call.node for d in enforcement.after if d.in_process == "deny"}
    assert denied == {"sub-9900-archive", "sub-9900-transcribe", "sub-9900-translate"}
    assert enforcement.reported.get(f"{RESTRICTION_ID} deny", 0) >= 4

    proof: LedgerResult = results["ledger"]
    assert proof.disclosed_type == "restriction.approved"
    assert proof.commitment_ok
    assert proof.inclusion_ok
    assert proof.checkpoint_ok
    assert proof.tiles_size == proof.size
    assert ledger.size >= proof.size

    appeal: AppealResult = results["appeal"]
    assert appeal.outcome == "upheld"
    assert appeal.customer_sees == (RESTRICTION_ID,)  # the customer saw it, and appealed
    assert appeal.filed_by == "freedonia.cloud"
    assert appeal.restriction_status == "in-force"
    assert case["status"] == "re-reviewed"
    assert [d["kind"] for d in case["decisions"]] == ["restrict"]
    assert len(case["appeals"]) == 1

    report: TransparencyResult = results["transparency"]
    assert report.verified, report.problems
    assert report.in_force == 1

    # The enforcement point's bundle stays on disk: with the server gone, it still denies.
    with Client(
        "http://127.0.0.1:9",
        api_key="bl_x_y",
        verifier=people.verifier,
        cache_dir=tmp_path / "demo" / "enforcement-point",
    ) as offline:
        at = enforcement.after[0].call.request(_now())
        assert offline.decide(at).denied
        rescue = Request("sub-9900-rescue", "storage.blob", "write", "westeurope", _now())
        assert not offline.decide(rescue).denied


def test_brightline_demo_runs_the_story_and_leaves_it_in_its_directory(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--dir", str(target), "--scale", str(SCALE), "--pace", "0"]
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert RESTRICTION_ID in output
    assert "The end" in output

    settings = Settings(data_dir=target / "data")
    with open_store(f"sqlite:///{target / 'brightline.db'}") as store:
        assert show_restriction(store, RESTRICTION_ID).status is Status.IN_FORCE
        verify_store(store, LedgerKeys.of(settings).verifier())
    assert (target / "tiles" / "checkpoint").is_file()
    assert (target / "restrictions" / f"{RESTRICTION_ID}.yaml").is_file()
    assert (target / "transparency" / "index.html").is_file()

    # A directory with something in it is refused, unless --force replaces the demo's files.
    again = CliRunner().invoke(app, ["demo", "--dir", str(target), "--pace", "0"])
    assert again.exit_code == 2
    assert "--force" in " ".join(again.output.split())


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_scale_below_the_story_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path), "--scale", "10"])
    assert result.exit_code == 2


def test_demo_serve_leaves_the_console_showing_the_finished_case(tmp_path: Path) -> None:
    """``brightline demo --serve`` as a person runs it: a real process, then a browser's
    requests to the console it prints, then Ctrl-C."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    import httpx

    brightline = str(Path(sys.executable).parent / "brightline")
    command = [brightline, "demo", "--dir", str(tmp_path / "d")]
    command += ["--scale", "100", "--pace", "0", "--serve"]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops the server" in line:
                break
        output = "".join(lines)
        url = re.search(r"The finished case: (http://\S+/console/cases/(C-\d+))", output)
        key = re.search(r"\(investigator\): (bl_\S+)", output)
        assert url is not None, output[-3000:]
        assert key is not None, output[-3000:]
        with httpx.Client(timeout=30) as browser:
            assert browser.get(url.group(1)).status_code == 303  # sign in first
            login = browser.get(url.group(1).split("/console/")[0] + "/console/login")
            token = re.search(r'name="login_token" value="([^"]+)"', login.text)
            assert token is not None
            signed = browser.post(
                str(login.url),
                data={
                    "login_token": token.group(1),
                    "credential": key.group(1),
                    "next": f"/console/cases/{url.group(2)}",
                },
                follow_redirects=True,
            )
            assert signed.status_code == 200
            assert f"Case {url.group(2)}" in signed.text
            assert "re-reviewed" in signed.text  # the story's end: the appeal was decided
            assert "r-9900-1" in signed.text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            process.stdout.close()
    assert process.returncode == 0
