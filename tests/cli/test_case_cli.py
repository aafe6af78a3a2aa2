"""The case commands end to end, on both databases: clear refusals and --json output, each
command acting as a principal with its own key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from brightline.store import canonical_json
from cases.case_scenarios import EXAMPLE
from cli.people import ADMIN, People, words

RESTRICTION = "id: r-cli\nscope: unit-9900\nactions: ['storage.*:*']\nregions: [westeurope]\n"


def test_case_from_report_to_close_through_the_cli(people: People, tmp_path: Path) -> None:
    run = people.invoke
    run("world", "import", str(EXAMPLE), by=ADMIN)
    for name, role in (
        ("ivy", "investigator"),
        ("ext", "external-reviewer"),
        ("ann", "approver"),
        ("bob", "approver"),
    ):
        people.enrol(name, role)
    refused = run("principal", "grant", "eve", "approver", by="ivy", code=7)
    assert "may not grant-roles" in words(refused)

    signal = json.loads(
        run(
            "report",
            "submit",
            "--node",
            "unit-9900",
            "--policy",
            "mass-surveillance",
            "--summary",
            "calls transcribed",
            "--json",
            by="ivy",
        )
    )
    case = json.loads(
        run("case", "open", "--title", "9900", "--signal", signal["signal"], "--json", by="ivy")
    )["id"]
    assert case == "C-1"
    run("case", "show", case, by="ext", code=7)
    run("case", "assign", case, "ext", by="ivy")
    run("case", "review", case, by="ivy")
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(b"%PDF- provider contract")
    run(
        "case",
        "evidence",
        "add",
        case,
        "--title",
        "Contract",
        "--document",
        "contract",
        "--file",
        str(contract),
        "--upload",
        by="ext",
    )
    run(
        "case",
        "finding",
        "add",
        case,
        "--policy",
        "mass-surveillance",
        "--outcome",
        "substantiated",
        "--rationale",
        "matches",
        "--evidence",
        "1",
        by="ext",
    )
    refused = run("case", "close", case, "--why", "x", by="ivy", code=4)
    assert "substantiated finding" in words(refused)

    proposal = tmp_path / "r.yaml"
    proposal.write_text(RESTRICTION)
    planned = json.loads(run("restrict", "plan", str(proposal), "--json", by="ivy"))
    assert planned["restrictions"][0]["subscriptions"] == 5
    decided = json.loads(
        run(
            "case",
            "decide",
            case,
            "--restrict",
            str(proposal),
            "--rationale",
            "substantiated",
            "--json",
            by="ivy",
        )
    )
    assert decided["status"] == "decided"
    run("case", "approve", "r-cli", by="ext", code=7)
    approved = json.loads(run("case", "approve", "r-cli", "--json", by="ann"))
    assert approved["status"] == "in-force"
    run("case", "appeal", case, "--grounds", "repurposed", by="ivy")
    run("case", "appeal", case, "--outcome", "upheld", "--rationale", "no", by="bob")
    closed = json.loads(run("case", "close", case, "--why", "done", "--json", by="ivy"))
    assert closed["status"] == "closed"
    again = run("case", "assign", case, "ext", by="ivy", code=4)
    assert "closed" in again
    timeline = json.loads(run("case", "timeline", case, "--json", by="ivy"))
    assert [t["kind"] for t in timeline if t["source"] == "restriction"] == ["proposed", "approved"]

    # Exported and verified offline; an edited outcome, digest recomputed, exits with 5.
    run("ledger", "keygen")
    bundle = tmp_path / "c1.json"
    run("case", "export", case, "--out", str(bundle), by="ivy")
    key = str(tmp_path / "data" / "ledger" / "log.pub")
    assert "entries verified" in run("case", "verify", str(bundle), "--verifier", key)
    forged = json.loads(bundle.read_text(encoding="utf-8"))
    assert forged["case"]["appeals"][0]["outcome"] == "upheld"
    forged["case"]["appeals"][0]["outcome"] = "[bold]lift"
    body = {k: v for k, v in forged.items() if k != "digest"}
    forged["digest"] = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    bundle.write_text(json.dumps(forged), encoding="utf-8")
    refused = words(run("case", "verify", str(bundle), "--verifier", key, code=5))
    assert (
        'case.appeals[0].outcome: the bundle says "[bold]lift", the verified entries give '
        '"upheld"' in refused
    )


def test_only_a_case_admin_sees_who_reported(people: People) -> None:
    run = people.invoke
    run("world", "import", str(EXAMPLE), by=ADMIN)
    people.enrol("ivy", "investigator")
    signal = json.loads(
        run(
            "report",
            "submit",
            "--node",
            "unit-9900",
            "--policy",
            "mass-surveillance",
            "--summary",
            "seen at work",
            "--source",
            "employee",
            "--name",
            "Rosa",
            "--json",
            by="ivy",
        )
    )["signal"]
    assert "may not view-reporter" in words(run("case", "reporter", signal, by="ivy", code=7))
    # The bootstrapped admin is also a case admin.
    assert json.loads(run("case", "reporter", signal, by=ADMIN))["name"] == "Rosa"


def test_notification_contacts_and_log_are_for_case_admins(people: People) -> None:
    people.enrol("ivy", "investigator")
    people.invoke(
        "case",
        "notify",
        "add-contact",
        "--name",
        "legal",
        "--channel",
        "smtp",
        "--target",
        "legal@provider.example",
        by=ADMIN,
    )
    assert json.loads(people.invoke("case", "notify", "log", "--json", by=ADMIN)) == []
    refused = people.invoke("case", "notify", "log", by="ivy", code=7)
    assert "may not view-notifications" in words(refused)
