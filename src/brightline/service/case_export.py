"""Reading a case (views, timeline) and exporting it as a bundle verifiable offline.

``export_case`` writes one JSON file: the case (timeline, evidence references and
hashes, findings, decisions, appeals; never a reporter), every ledger entry recording
it — case events and the events of its restrictions — each with its private record,
salt and RFC 9162 inclusion proof, and the signed checkpoint they verify against.
:func:`verify_case_bundle` checks it with nothing but the bundle and the log's public
key: (1) the checkpoint's signature, (2) each entry's inclusion in the checkpoint's
tree, (3) each record against its entry's commitment, (4) each timeline event against
the entry that records it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from brightline import files
from brightline.access import Principal
from brightline.cases import (
    Action,
    CaseEvent,
    CaseState,
    CaseStatus,
    ReporterIdentity,
    derive_case,
)
from brightline.errors import InvalidInputError, Problem
from brightline.ledger import (
    NoteVerifier,
    check_disclosure,
    leaf_hash,
    open_checkpoint,
    verify_inclusion,
)
from brightline.limits import load_json
from brightline.policy import format_time
from brightline.service.cases import load_case, now_utc, require
from brightline.service.ledger import disclose
from brightline.service.restrictions import event_json as restriction_event_json
from brightline.store import Store, canonical_json, events_for, read_outbox
from brightline.store.cases import (
    StoredSignal,
    all_case_events,
    case_events,
    case_outbox_ids,
    get_signal,
    reporter_identity,
)
from brightline.store.ledger import entry_at, latest_checkpoint, ledger_size

EXPORT_FORMAT: Final = "brightline.case-export/1"


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as ``viewer`` may see it. ``reporters`` is filled for case admins only."""

    state: CaseState
    events: tuple[CaseEvent, ...]
    signals: tuple[StoredSignal, ...]
    reporters: Mapping[str, ReporterIdentity | None] | None = None

    @property
    def id(self) -> str:
        return self.state.id

    def to_json(self, *, history: bool = True) -> dict[str, Any]:
        s = self.state
        out: dict[str, Any] = {
            "id": s.id,
            "status": s.status.value,
            "title": s.title,
            "opened_by": s.opened_by,
            "opened_at": format_time(s.opened_at),
            "nodes": list(s.nodes),
            "policies": list(s.policies),
            "assignees": sorted(s.assignees),
            "signals": [signal_json(sig) for sig in self.signals],
            "evidence": [
                {"number": e.number, "by": e.by, "at": format_time(e.at), **e.evidence.to_json()}
                for e in s.evidence
            ],
            "findings": [
                {
                    "number": f.number,
                    "by": f.by,
                    "at": format_time(f.at),
                    "policy": f.finding.policy,
                    "outcome": f.finding.outcome.value,
                    "rationale": f.finding.rationale,
                    "evidence": list(f.finding.evidence),
                }
                for f in s.findings
            ],
            "tasks": [
                {
                    "number": t.number,
                    "title": t.title,
                    "due": t.due,
                    "assignee": t.assignee,
                    "done": t.done,
                }
                for t in s.tasks
            ],
            "plans": list(s.plans),
            "decisions": [
                {
                    "number": d.number,
                    "by": d.by,
                    "at": format_time(d.at),
                    "kind": d.decision.kind.value,
                    "rationale": d.decision.rationale,
                    "restrictions": list(d.decision.restrictions),
                }
                for d in s.decisions
            ],
            "appeals": [
                {
                    "number": a.number,
                    "at": format_time(a.at),
                    "grounds": a.grounds,
                    "outcome": a.outcome.value if a.outcome else None,
                    "rationale": a.rationale,
                }
                for a in s.appeals
            ],
            "closed_at": format_time(s.closed_at),
        }
        if self.reporters is not None:
            out["reporters"] = {
                k: (v.to_json() if v else None) for k, v in sorted(self.reporters.items())
            }
        if history:
            out["events"] = [event_json(e) for e in self.events]
        return out


def signal_json(signal: StoredSignal) -> dict[str, Any]:
    """A signal without its retaliation-sensitive fields (only person or detector)."""
    return {
        "id": signal.ref,
        "source": "detector" if signal.source_kind == "detector" else "person",
        "received_at": format_time(signal.received_at),
        "nodes": list(signal.nodes),
        "policies": list(signal.policies),
        "summary": signal.summary,
        "references": [dict(r) for r in signal.references],
        "alert": signal.alert_id,
    }


def event_json(event: CaseEvent) -> dict[str, Any]:
    return {
        "revision": event.revision,
        "kind": event.move.value,
        "actor": event.actor,
        "at": format_time(event.at),
        "data": dict(event.data),
    }


# -- reading --------------------------------------------------------------------------------


def show_case(store: Store, case_id: str, *, actor: Principal) -> CaseView:
    with store.read() as session:
        state = load_case(session, case_id)
        require(actor, Action.VIEW_CASE, state)
        signals = tuple(_signals(session, state.signals))
        reporters = None
        if actor.may(Action.VIEW_REPORTER):
            reporters = {s.ref: reporter_identity(session, s.id, store.secrets) for s in signals}
        return CaseView(state, tuple(case_events(session, case_id)), signals, reporters)


def list_cases(
    store: Store, *, actor: Principal, status: CaseStatus | None = None
) -> list[CaseView]:
    """Cases the actor may see (an external reviewer: only those assigned to it)."""
    with store.read() as session:
        require(actor, Action.LIST_CASES)
        views = []
        for events in all_case_events(session).values():
            state = derive_case(events)
            if status is not None and state.status is not status:
                continue
            if not actor.may(Action.VIEW_CASE, assigned=state.is_assigned(actor.name)):
                continue
            views.append(CaseView(state, tuple(events), tuple(_signals(session, state.signals))))
        return views


def _signals(session: Session, refs: Iterable[str]) -> Iterable[StoredSignal]:
    for ref in refs:
        signal = get_signal(session, int(ref.removeprefix("S-")))
        if signal is not None:
            yield signal


def case_timeline(store: Store, case_id: str, *, actor: Principal) -> list[dict[str, Any]]:
    """Everything that happened to the case and its restrictions, in time order."""
    with store.read() as session:
        state = load_case(session, case_id)
        require(actor, Action.VIEW_CASE, state)
        items = [{"source": "case", **event_json(e)} for e in case_events(session, case_id)]
        for rid in state.restrictions():
            items += [
                {"source": "restriction", "restriction": rid, **restriction_event_json(e)}
                for e in events_for(session, rid)
            ]
    return sorted(items, key=lambda i: (i["at"], i["source"] != "case"))


# -- export -----------------------------------------------------------------------------------


def _case_outbox_ids(session: Session, case_id: str, state: CaseState) -> set[int]:
    """Outbox events recording the case: its own events and its restrictions' events."""
    wanted = set(case_outbox_ids(session, case_id))
    restrictions = set(state.restrictions())
    after = 0
    while batch := read_outbox(session, after=after, limit=1000):
        for entry in batch:
            if entry.event_type.startswith("restriction."):
                data = entry.data()
                if data.get("case") == case_id or data.get("restriction") in restrictions:
                    wanted.add(entry.id)
        after = batch[-1].id
    return wanted


def _ledger_part(store: Store, case_id: str, state: CaseState) -> dict[str, Any]:
    with store.read() as session:
        wanted = _case_outbox_ids(session, case_id, state)
        checkpoint = latest_checkpoint(session)
        size = checkpoint.size if checkpoint else 0
        logged = {}
        for seq in range(ledger_size(session)):
            outbox_id = entry_at(session, seq).outbox_id
            if outbox_id in wanted:
                logged[outbox_id] = seq
    entries = []
    for outbox_id, seq in sorted(logged.items()):
        if seq >= size:
            continue
        disclosure = disclose(store, seq)
        entries.append(
            {
                "index": seq,
                "outbox_id": outbox_id,
                "event_type": disclosure.event_type,
                "public": canonical_json(disclosure.public),
                "record": disclosure.record,
                "salt": disclosure.salt,
                "proof": [h.hex() for h in disclosure.proof.proof],
            }
        )
    covered = {e["outbox_id"] for e in entries}
    return {
        "checkpoint": checkpoint.note if checkpoint else None,
        "size": size,
        "entries": entries,
        "not_yet_logged": sorted(wanted - covered),
    }


def export_case(
    store: Store,
    case_id: str,
    out: Path,
    *,
    actor: Principal,
    verifier: NoteVerifier | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write the case bundle to ``out``; returns it. Run the ledger sync first, so that the
    case's events are logged under a signed checkpoint (those that are not yet are listed
    under ``not_yet_logged``)."""
    at = now_utc(now)
    with store.read() as session:
        state = load_case(session, case_id)
        require(actor, Action.EXPORT, state)
        view = CaseView(
            state, tuple(case_events(session, case_id)), tuple(_signals(session, state.signals))
        )
    ledger = _ledger_part(store, case_id, state)
    bundle: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": format_time(at),
        "exported_by": actor.name,
        "case": view.to_json(),
        "timeline": case_timeline(store, case_id, actor=actor),
        "ledger": {**ledger, "verifier_key": str(verifier) if verifier else None},
    }
    bundle["digest"] = hashlib.sha256(canonical_json(bundle).encode()).hexdigest()
    files.write_file(out, json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
    return bundle


@dataclass(frozen=True, slots=True)
class BundleCheck:
    entries: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_case_bundle(bundle: Mapping[str, Any], verifier: NoteVerifier) -> BundleCheck:
    """Check a case bundle offline against the log's public key; lists every problem."""
    problems: list[str] = []
    ledger = bundle.get("ledger") or {}
    body = {k: v for k, v in bundle.items() if k != "digest"}
    if hashlib.sha256(canonical_json(body).encode()).hexdigest() != bundle.get("digest"):
        problems.append("the bundle's digest does not match its content")
    # Step 1: the checkpoint is signed by the log's key.
    try:
        checkpoint = open_checkpoint(str(ledger.get("checkpoint") or ""), verifier)
    except InvalidInputError as exc:
        return BundleCheck(0, (*problems, f"checkpoint: {exc}"))
    logged: dict[tuple[int, str], dict[str, Any]] = {}
    entries = ledger.get("entries") or []
    for entry in entries:
        public = str(entry["public"]).encode()
        # Step 2: the entry is in the tree the checkpoint commits to (RFC 9162 §2.1.3.2).
        proof = [bytes.fromhex(h) for h in entry["proof"]]
        if not verify_inclusion(
            leaf_hash(public), entry["index"], checkpoint.size, proof, checkpoint.root_hash
        ):
            problems.append(f"entry {entry['index']}: inclusion proof does not verify")
        # Step 3: the private record is what the public entry commits to.
        if not check_disclosure(public, entry["record"], bytes.fromhex(entry["salt"])):
            problems.append(f"entry {entry['index']}: record does not match its commitment")
        record = entry["record"]
        if "revision" in record and entry["event_type"].startswith("case."):
            logged[(int(record["revision"]), str(record["kind"]))] = record
    # Step 4: every case event of the timeline is one of the verified entries.
    unlogged = set(ledger.get("not_yet_logged") or ())
    for event in bundle.get("case", {}).get("events", []):
        record = logged.get((event["revision"], event["kind"]))
        if record is None:
            if unlogged:
                continue
            problems.append(f"case event {event['revision']} ({event['kind']}) is not in the log")
        elif record.get("data") != event["data"] or record.get("actor") != event["actor"]:
            problems.append(f"case event {event['revision']} differs from its ledger record")
    return BundleCheck(len(entries), tuple(problems))


def read_bundle(path: Path) -> dict[str, Any]:
    try:
        data = load_json(path.read_bytes(), where=str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read a case bundle: {exc}")) from exc
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InvalidInputError(Problem(str(path), f"not a {EXPORT_FORMAT} bundle"))
    return data


__all__ = [
    "BundleCheck",
    "CaseView",
    "case_timeline",
    "export_case",
    "list_cases",
    "read_bundle",
    "show_case",
    "verify_case_bundle",
]
