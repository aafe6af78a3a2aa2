"""A case export proves what it says, on both databases: `verify_case_bundle` re-derives the
case's summary, its restrictions and its timeline from the ledger records whose
commitments it checked, and refuses a bundle that says anything else, naming the field,
even when the forger recomputed the bundle's digest."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from brightline.cases import (
    AppealOutcome,
    DocumentKind,
    DocumentReference,
    Finding,
    FindingOutcome,
)
from brightline.config import Settings
from brightline.errors import ConflictError, InvalidInputError
from brightline.ledger import NoteVerifier, generate_key
from brightline.service import approve_restriction
from brightline.service.case_export import export_case, read_bundle, verify_case_bundle
from brightline.service.cases import (
    add_evidence,
    assign,
    close_case,
    decide_appeal,
    open_case,
    record_appeal,
    record_finding,
    start_review,
)
from brightline.service.ledger import sync_ledger
from brightline.service.plans import decide_restrict
from brightline.store import Store, canonical_json
from cases.case_scenarios import POLICY, People, at, report

RESTRICTION = """\
id: r-9900
scope: unit-9900
actions: ["storage.*:*"]
regions: [westeurope]
reason: {policy: mass-surveillance}
"""

Bundle = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Exported:
    bundle: Bundle
    other: Bundle  # another case's bundle, under the same checkpoint
    verifier: NoteVerifier


def _upheld_appeal(store: Store, people: People, tmp_path: Path) -> Exported:
    """The issue's case: a restriction approved, appealed, the appeal upheld, closed;
    and a second case opened alongside, exported under the same checkpoint."""
    investigator, reviewer = people["investigator"], people["reviewer"]
    settings = Settings(data_dir=tmp_path / "data")
    signal = report(store, actor=people["admin"])
    case = open_case(store, actor=investigator, title="Unit 9900", signals=[signal], now=at(1)).id
    assign(store, case, "reviewer", actor=investigator, now=at(2))
    start_review(store, case, actor=investigator, now=at(3))
    document = DocumentReference(DocumentKind.CONTRACT, "ab" * 32, "Framework agreement")
    add_evidence(store, case, document, actor=reviewer, now=at(4))
    finding = Finding(POLICY, FindingOutcome.SUBSTANTIATED, "telecom-scale speech", (1,))
    record_finding(store, case, finding, actor=reviewer, now=at(5))
    decide_restrict(
        store,
        settings,
        case,
        RESTRICTION,
        name="r.yaml",
        actor=investigator,
        rationale="substantiated",
        now=at(6),
    )
    approve_restriction(store, "r-9900", actor=people["approver1"], settings=settings, now=at(7))
    record_appeal(store, case, actor=investigator, grounds="unit repurposed", now=at(8))
    decide_appeal(
        store,
        case,
        actor=people["approver2"],
        outcome=AppealOutcome.UPHELD,
        rationale="still transcribing",
        now=at(9),
    )
    close_case(store, case, actor=investigator, why="upheld", now=at(10))
    other = open_case(
        store, actor=investigator, title="Another", signals=[report(store, actor=people["admin"])]
    ).id

    signer = generate_key("brightline.test/log")
    sync_ledger(store, signer=signer, now=at(11))
    auditor = people["auditor"]
    bundle = export_case(
        store, case, tmp_path / "case.json", actor=auditor, verifier=signer.verifier(), now=at(12)
    )
    second = export_case(
        store, other, tmp_path / "other.json", actor=auditor, verifier=signer.verifier()
    )
    return Exported(bundle, second, signer.verifier())


def _reseal(bundle: Bundle) -> Bundle:
    """What a forger does after editing: recompute the bundle's digest."""
    body = {k: v for k, v in bundle.items() if k != "digest"}
    bundle["digest"] = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    return bundle


def _entry(bundle: Bundle, event_type: str) -> int:
    """The position in ``ledger.entries`` of the first entry of ``event_type``."""
    types = [e["event_type"] for e in bundle["ledger"]["entries"]]
    return types.index(event_type)


def _timeline_item(bundle: Bundle, kind: str) -> int:
    return [t["kind"] for t in bundle["timeline"]].index(kind)


def _set(path: str, value: Any) -> Callable[[Bundle, Bundle], None]:
    """Set the value at a dotted path with [n] indexes (``case.appeals[0].outcome``)."""

    def edit(bundle: Bundle, _other: Bundle) -> None:
        *parents, last = path.replace("[", ".").replace("]", "").split(".")
        target: Any = bundle
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return edit


def _drop_entry(event_type: str) -> Callable[[Bundle, Bundle], None]:
    def edit(bundle: Bundle, _other: Bundle) -> None:
        del bundle["ledger"]["entries"][_entry(bundle, event_type)]

    return edit


def _swap_entries(bundle: Bundle, _other: Bundle) -> None:
    entries = bundle["ledger"]["entries"]
    entries[0], entries[1] = entries[1], entries[0]


def _graft_other_case(bundle: Bundle, other: Bundle) -> None:
    """Add the other case's opening entry (valid proof, same checkpoint), in log order."""
    entries = bundle["ledger"]["entries"]
    entries.append(other["ledger"]["entries"][_entry(other, "case.opened")])
    entries.sort(key=lambda e: e["index"])


def _swap_timeline(bundle: Bundle, _other: Bundle) -> None:
    timeline = bundle["timeline"]
    timeline[1], timeline[2] = timeline[2], timeline[1]


def _drop_timeline(bundle: Bundle, _other: Bundle) -> None:
    del bundle["timeline"][_timeline_item(bundle, "approved")]


def _rejected_in_timeline(bundle: Bundle, _other: Bundle) -> None:
    bundle["timeline"][_timeline_item(bundle, "approved")]["kind"] = "rejected"


def _lifted_everywhere(bundle: Bundle, _other: Bundle) -> None:
    """The issue's forgery, done thoroughly: the outcome changed in the summary, in its
    event and in the timeline (only the committed record still says "upheld")."""
    bundle["case"]["appeals"][0]["outcome"] = "lift"
    for event in (*bundle["case"]["events"], *bundle["timeline"]):
        if event["kind"] == "appeal-decided":
            event["data"]["outcome"] = "lift"


def _invent_finding(bundle: Bundle, _other: Bundle) -> None:
    findings = bundle["case"]["findings"]
    findings.append({**findings[0], "number": 2, "policy": "other"})


def _forged_event_claimed_unlogged(bundle: Bundle, _other: Bundle) -> None:
    events = bundle["case"]["events"]
    forged = {**events[-1], "revision": len(events) + 1, "kind": "appealed"}
    events.append(forged)
    bundle["ledger"]["not_yet_logged"] = [10**6]


def _drop_closing(bundle: Bundle, other: Bundle) -> None:
    """The last entry removed, the summary kept: the entries then give an earlier case."""
    _drop_entry("case.closed")(bundle, other)


#: name → (the forgery, what the refusal must say).
FORGERIES: dict[str, tuple[Callable[[Bundle, Bundle], None], str]] = {
    "status": (
        _set("case.status", "decided"),
        'case.status: the bundle says "decided", the verified entries give "closed"',
    ),
    "appeal outcome (the issue)": (
        _set("case.appeals[0].outcome", "lift"),
        'case.appeals[0].outcome: the bundle says "lift", the verified entries give "upheld"',
    ),
    "appeal outcome everywhere but the record": (
        _lifted_everywhere,
        'case.appeals[0].outcome: the bundle says "lift", the verified entries give "upheld"',
    ),
    "appeal rationale": (_set("case.appeals[0].rationale", "x"), "case.appeals[0].rationale"),
    "appeals hidden": (_set("case.appeals", []), "case.appeals[0]: absent from the bundle"),
    "finding outcome": (
        _set("case.findings[0].outcome", "unsubstantiated"),
        'case.findings[0].outcome: the bundle says "unsubstantiated", the verified entries '
        'give "substantiated"',
    ),
    "finding invented": (
        _invent_finding,
        "case.findings[1]: not in the verified entries",
    ),
    "decision's restrictions": (
        _set("case.decisions[0].restrictions", []),
        "case.decisions[0].restrictions",
    ),
    "decision kind": (_set("case.decisions[0].kind", "no-restriction"), "case.decisions[0].kind"),
    "restriction phase": (
        _set("case.restrictions[0].phase", "lifted"),
        'case.restrictions[0].phase: the bundle says "lifted", the verified entries give "active"',
    ),
    "restriction status": (
        _set("case.restrictions[0].status", "lifted"),
        'case.restrictions[0].status: the bundle says "lifted", the verified entries give '
        '"in-force"',
    ),
    "restriction scope": (
        _set("case.restrictions[0].restriction.scope", "unit-8200"),
        "case.restrictions[0].restriction.scope",
    ),
    "restrictions hidden": (
        _set("case.restrictions", []),
        "case.restrictions[0]: absent from the bundle",
    ),
    "evidence hash": (_set("case.evidence[0].sha256", "cd" * 32), "case.evidence[0].sha256"),
    "closing time": (_set("case.closed_at", None), "case.closed_at"),
    "assignees": (_set("case.assignees", []), "case.assignees[0]"),
    "signal's nodes": (_set("case.signals[0].nodes", ["unit-1"]), "case.signals[0].nodes[0]"),
    "a field no entry gives": (
        _set("case.reviewed_by_court", True),
        "case.reviewed_by_court: not in the verified entries (the bundle says true)",
    ),
    "case event edited": (_set("case.events[0].actor", "someone-else"), "case.events[0].actor"),
    "case event removed": (
        lambda b, _o: b["case"]["events"].pop(3),
        "case.events[3]",
    ),
    "case event claimed not yet logged": (
        _forged_event_claimed_unlogged,
        "case.events[10]: not in the verified entries",
    ),
    "timeline reordered": (_swap_timeline, "timeline[1]"),
    "timeline item removed": (_drop_timeline, "timeline["),
    "timeline item edited": (_rejected_in_timeline, '.kind: the bundle says "rejected"'),
    "ledger size": (_set("ledger.size", 1000), "ledger.size: the bundle says 1000, its checkpoint"),
    "verifier key": (_set("ledger.verifier_key", "other+00000000+AAAA"), "ledger.verifier_key"),
    "entry type": (_set("ledger.entries[0].event_type", "case.closed"), "ledger.entries[0]"),
    "entry outbox id": (_set("ledger.entries[0].outbox_id", 1), "ledger.entries[0].outbox_id"),
    "entries reordered": (_swap_entries, "ledger.entries[1]: entry"),
    "entry of another case grafted": (_graft_other_case, "records case C-2, not C-1"),
    "middle entry removed": (
        _drop_entry("case.appealed"),
        "(case.appeal-decided): the entries of case C-1 do not replay here (case C-1: "
        "revision 9 where 8 was expected)",
    ),
    "closing entry removed": (
        _drop_closing,
        'case.status: the bundle says "closed", the verified entries give "re-reviewed"',
    ),
    "restriction's proposal removed": (_drop_entry("restriction.proposed"), "r-9900"),
    "signal's entry removed": (_drop_entry("signal.received"), "S-1"),
    "signal text of another signal": (
        _set("signal_texts[0].signal", "S-9"),
        "signal_texts: the bundle gives texts for ['S-9'], the case's signals are ['S-1']",
    ),
}


@pytest.fixture
def exported(store: Store, people: People, tmp_path: Path) -> Exported:
    return _upheld_appeal(store, people, tmp_path)


def test_an_honest_export_verifies(exported: Exported, tmp_path: Path) -> None:
    written = json.loads((tmp_path / "case.json").read_text(encoding="utf-8"))
    check = verify_case_bundle(written, exported.verifier)
    assert check.ok, check.problems
    assert check.entries == len(written["ledger"]["entries"])
    assert verify_case_bundle(exported.other, exported.verifier).ok
    case = written["case"]
    assert case["status"] == "closed"
    assert [a["outcome"] for a in case["appeals"]] == ["upheld"]
    assert [(r["id"], r["phase"]) for r in case["restrictions"]] == [("r-9900", "active")]
    assert [s["id"] for s in case["signals"]] == ["S-1"]
    assert "summary" not in case["signals"][0]  # the reporter's words are not in the log
    assert written["signal_texts"][0]["signal"] == "S-1"
    kinds = [(t["source"], t["kind"]) for t in written["timeline"]]
    assert ("restriction", "approved") in kinds
    assert kinds[-1] == ("case", "closed")


def test_every_forged_field_is_refused_by_name(exported: Exported) -> None:
    """Each forgery on its own, digest recomputed: refused, and the refusal names the field
    (with the bundle's value and the one its verified entries give)."""
    missed = {}
    for name, (forge, expected) in FORGERIES.items():
        bundle = copy.deepcopy(exported.bundle)
        forge(bundle, exported.other)
        problems = verify_case_bundle(_reseal(bundle), exported.verifier).problems
        if not any(expected in p for p in problems) or any("digest" in p for p in problems):
            missed[name] = problems
    assert not missed


def test_an_edit_without_a_new_digest_is_refused_for_both(exported: Exported) -> None:
    bundle = copy.deepcopy(exported.bundle)
    bundle["case"]["appeals"][0]["outcome"] = "lift"
    problems = verify_case_bundle(bundle, exported.verifier).problems
    assert any("digest does not match" in p for p in problems)
    assert any(p.startswith("case.appeals[0].outcome") for p in problems)


def test_a_malformed_bundle_is_refused_without_a_crash(exported: Exported) -> None:
    for damage in (
        lambda b: b.__setitem__("case", []),
        lambda b: b.__setitem__("timeline", {}),
        lambda b: b["ledger"].__setitem__("entries", [{"index": "x"}]),
        lambda b: b["ledger"]["entries"][0].__setitem__("record", "text"),
        lambda b: b["ledger"]["entries"][0].__setitem__("proof", ["zz"]),
        lambda b: b.__setitem__("exported_at", "yesterday"),
    ):
        bundle = copy.deepcopy(exported.bundle)
        damage(bundle)
        assert not verify_case_bundle(_reseal(bundle), exported.verifier).ok


def test_a_case_with_nothing_under_a_checkpoint_is_not_exported(
    store: Store, people: People, tmp_path: Path
) -> None:
    signal = report(store, actor=people["admin"])
    case = open_case(store, actor=people["investigator"], title="t", signals=[signal]).id
    with pytest.raises(ConflictError, match="checkpoint"):
        export_case(store, case, tmp_path / "c.json", actor=people["auditor"])


def test_an_older_or_ambiguous_bundle_file_is_not_read(tmp_path: Path) -> None:
    older = tmp_path / "older.json"
    older.write_text('{"format": "brightline.case-export/1", "case": {}}', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="export the case again"):
        read_bundle(older)
    twice = tmp_path / "twice.json"
    twice.write_text(
        '{"format": "brightline.case-export/2", "case": {"status": "closed", "status": "open"}}',
        encoding="utf-8",
    )
    with pytest.raises(InvalidInputError, match="duplicate key 'status'"):
        read_bundle(twice)
