"""Reading a case (views, timeline) and exporting it as a bundle verifiable offline.

``export_case`` writes one JSON file: every ledger entry recording the case — its
events, its restrictions' events, the receipt of its signals — each with its private
record, salt and RFC 9162 inclusion proof, the signed checkpoint they verify against,
and what those records give (:mod:`brightline.service.case_summary`): the case (status,
signals, evidence references and hashes, findings, decisions, appeals, restrictions,
events; never a reporter) and its timeline. What people and detectors wrote about a
signal is kept out of the log, so it travels apart, as ``signal_texts``.
:func:`verify_case_bundle` checks it with nothing but the bundle and the log's public
key, and derives the case and the timeline again from the records it verified.
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
from brightline.errors import ConflictError, InvalidInputError, LedgerIntegrityError, Problem
from brightline.ledger import (
    Checkpoint,
    NoteVerifier,
    WitnessQuorum,
    check_disclosure,
    leaf_hash,
    open_checkpoint,
    parse_public_form,
    verify_inclusion,
)
from brightline.policy import format_time
from brightline.service.case_summary import (
    LoggedRecord,
    case_export_differences,
    case_json,
    case_records,
    derive_case_export,
    event_json,
    first_difference,
    timeline_order,
)
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
from brightline.transparency import strict_json

EXPORT_FORMAT: Final = "brightline.case-export/2"
#: Bundles whose summary was not derived from their entries.
_OLDER_FORMATS: Final = frozenset({"brightline.case-export/1"})


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
        out = case_json(self.state, signals=[signal_json(sig) for sig in self.signals])
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
    return timeline_order(items)


# -- export -----------------------------------------------------------------------------------


def _case_outbox_ids(session: Session, case_id: str, state: CaseState) -> set[int]:
    """Outbox events recording the case: its own events, its restrictions' events and the
    receipt of its signals."""
    wanted = set(case_outbox_ids(session, case_id))
    restrictions, signals = set(state.restrictions()), set(state.signals)
    after = 0
    while batch := read_outbox(session, after=after, limit=1000):
        for entry in batch:
            if entry.event_type.startswith("restriction."):
                data = entry.data()
                if data.get("case") == case_id or data.get("restriction") in restrictions:
                    wanted.add(entry.id)
            elif entry.event_type == "signal.received" and entry.data().get("signal") in signals:
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


def _logged(entry: Mapping[str, Any]) -> LoggedRecord:
    return LoggedRecord(int(entry["index"]), str(entry["event_type"]), entry["record"])


def export_case(
    store: Store,
    case_id: str,
    out: Path,
    *,
    actor: Principal,
    verifier: NoteVerifier | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write the case bundle to ``out``; returns it. Run the ledger sync first: the bundle
    says what the entries under the latest signed checkpoint prove, no more (events not
    yet under it are counted under ``not_yet_logged``). ConflictError if none of the
    case's events is under a signed checkpoint yet."""
    at = now_utc(now)
    with store.read() as session:
        state = load_case(session, case_id)
        require(actor, Action.EXPORT, state)
        texts = {signal.ref: signal for signal in _signals(session, state.signals)}
    ledger = _ledger_part(store, case_id, state)
    if not any(e["event_type"].startswith("case.") for e in ledger["entries"]):
        raise ConflictError(
            f"no event of case {case_id} is under a signed checkpoint yet: create the log's "
            "key (`brightline ledger keygen`) and sync the ledger first"
        )
    # The same rule as the verifier's, so that an honest bundle is exactly what it derives.
    records = case_records(case_id, [_logged(e) for e in ledger["entries"]])
    kept = {r.index for r in records}
    derived = derive_case_export(case_id, records, at=at)
    bundle: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": format_time(at),
        "exported_by": actor.name,
        **derived,
        "signal_texts": [
            {
                "signal": ref,
                "summary": texts[ref].summary,
                "references": [dict(r) for r in texts[ref].references],
            }
            for ref in (s["id"] for s in derived["case"]["signals"])
            if ref in texts
        ],
        "ledger": {
            **ledger,
            "entries": [e for e in ledger["entries"] if e["index"] in kept],
            "verifier_key": str(verifier) if verifier else None,
        },
    }
    bundle["digest"] = _digest(bundle)
    files.write_file(out, json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
    return bundle


def _digest(bundle: Mapping[str, Any]) -> str:
    body = {k: v for k, v in bundle.items() if k != "digest"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


# -- verification -----------------------------------------------------------------------------

#: What a bundle, its ledger part and each of its entries may hold: anything else would be
#: a claim that nothing checks.
_BUNDLE_KEYS: Final = frozenset(
    {"format", "exported_at", "exported_by", "case", "timeline", "signal_texts", "ledger", "digest"}
)
_LEDGER_KEYS: Final = frozenset({"checkpoint", "size", "entries", "not_yet_logged", "verifier_key"})
_ENTRY_KEYS: Final = frozenset(
    {"index", "outbox_id", "event_type", "public", "record", "salt", "proof"}
)


@dataclass(frozen=True, slots=True)
class BundleCheck:
    entries: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_case_bundle(
    bundle: Mapping[str, Any],
    verifier: NoteVerifier,
    *,
    witnesses: WitnessQuorum = WitnessQuorum.none(),
) -> BundleCheck:
    """Check a case bundle offline against the log's public key; lists every problem found.

    (0) The digest over the rest of the bundle (a damaged file; anyone can recompute it).
    (1) The checkpoint's signature, the quorum of ``witnesses``' cosignatures on it (none
        by default), and the bundle's size and key against it.
    (2) Each entry's inclusion in the checkpoint's tree (RFC 9162 §2.1.3.2), in log order.
    (3) Each record against its entry's commitment, the entry's labels against its
        public form and record.
    (4) The case (status, signals, evidence, findings, decisions, appeals and outcomes,
        restrictions, events) and the timeline derived again from the verified records
        (:func:`~brightline.service.case_summary.derive_case_export`, the exporter's own
        rule) and compared field by field; each signal text names a signal of the case.
    Nothing else may be in the bundle.
    """
    problems = _unknown_keys("", bundle, _BUNDLE_KEYS)
    if bundle.get("format") != EXPORT_FORMAT:
        problems.append(f"format: not {EXPORT_FORMAT}")
    # Step 0.
    if _digest(bundle) != bundle.get("digest"):
        problems.append("the bundle's digest does not match its content")
    ledger = bundle.get("ledger")
    if not isinstance(ledger, Mapping):
        return BundleCheck(0, (*problems, "ledger: not an object"))
    problems += _unknown_keys("ledger.", ledger, _LEDGER_KEYS)
    # Step 1: the checkpoint is signed by the log's key and cosigned by the witnesses.
    try:
        checkpoint = open_checkpoint(str(ledger.get("checkpoint") or ""), verifier)
        witnesses.check(str(ledger.get("checkpoint")))
    except (InvalidInputError, LedgerIntegrityError) as exc:
        return BundleCheck(0, (*problems, f"checkpoint: {exc}"))
    size = ledger.get("size")
    if type(size) is not int or size != checkpoint.size:
        problems.append(f"ledger.size: the bundle says {size!r}, its checkpoint {checkpoint.size}")
    if ledger.get("verifier_key") not in (None, str(verifier)):
        problems.append(
            f"ledger.verifier_key: the bundle names {ledger.get('verifier_key')!r}, "
            f"its checkpoint verifies with {str(verifier)!r}"
        )
    # Steps 2 and 3.
    records, entry_problems = _verified_records(ledger.get("entries"), checkpoint)
    if entry_problems:  # derive nothing from entries that do not verify
        return BundleCheck(len(records), (*problems, *entry_problems))
    # Step 4: the bundle says what its verified entries give, no more and no less.
    return BundleCheck(len(records), (*problems, *_derivation_problems(bundle, records)))


def _unknown_keys(prefix: str, value: Mapping[str, Any], allowed: frozenset[str]) -> list[str]:
    return [f"{prefix}{key}: not part of a case export" for key in value if key not in allowed]


def _differences(path: str, exported: Any, derived: Any) -> list[str]:
    found = first_difference(path, exported, derived)
    return [] if found is None else [found]


def _verified_records(entries: Any, checkpoint: Checkpoint) -> tuple[list[LoggedRecord], list[str]]:
    if not isinstance(entries, list):
        return [], ["ledger.entries: not a list"]
    records: list[LoggedRecord] = []
    problems: list[str] = []
    previous = -1
    for i, entry in enumerate(entries):
        where = f"ledger.entries[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: not an object")
            continue
        problems += _unknown_keys(f"{where}.", entry, _ENTRY_KEYS)
        try:
            index, public = int(entry["index"]), str(entry["public"]).encode()
            proof = [bytes.fromhex(h) for h in entry["proof"]]
            record, salt = entry["record"], bytes.fromhex(entry["salt"])
            form = parse_public_form(public)
        except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
            problems.append(f"{where}: malformed entry ({exc})")
            continue
        if index <= previous:
            problems.append(
                f"{where}: entry {index} is not after entry {previous} "
                "(entries are in log order, each once)"
            )
        previous = max(previous, index)
        # Step 2: the entry is in the tree the checkpoint commits to (RFC 9162 §2.1.3.2).
        if not verify_inclusion(
            leaf_hash(public), index, checkpoint.size, proof, checkpoint.root_hash
        ):
            problems.append(f"{where}: entry {index}'s inclusion proof does not verify")
            continue
        # Step 3: the private record is what the public entry commits to.
        if not isinstance(record, Mapping) or not check_disclosure(public, record, salt):
            problems.append(f"{where}: entry {index}'s record does not match its commitment")
            continue
        event_type = str(form["type"])
        problems += _differences(f"{where}.event_type", entry.get("event_type"), event_type)
        problems += _differences(
            f"{where}.outbox_id", entry.get("outbox_id"), record.get("outbox_event")
        )
        records.append(LoggedRecord(index, event_type, record))
    return records, problems


def _derivation_problems(bundle: Mapping[str, Any], records: list[LoggedRecord]) -> list[str]:
    case = bundle.get("case")
    case_id = case.get("id") if isinstance(case, Mapping) else None
    try:
        at = datetime.fromisoformat(str(bundle.get("exported_at")))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:  # each restriction's status is read at this time
        return [f"exported_at: not a time with a zone: {bundle.get('exported_at')!r}"]
    try:
        derived = derive_case_export(str(case_id), records, at=at)
    except LedgerIntegrityError as exc:
        return [str(exc)]
    problems = case_export_differences(bundle, derived)
    signals = [s["id"] for s in derived["case"]["signals"]]
    texts = bundle.get("signal_texts")
    if not isinstance(texts, list):
        return [*problems, "signal_texts: not a list"]
    named = [t.get("signal") if isinstance(t, Mapping) else None for t in texts]
    if len(set(named)) != len(named) or not set(named) <= set(signals):
        problems.append(
            f"signal_texts: the bundle gives texts for {named}, the case's signals are {signals}"
        )
    return problems


def read_bundle(path: Path) -> dict[str, Any]:
    """A case bundle's JSON, read strictly (a duplicate key or NaN is refused)."""
    try:
        data = strict_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(Problem(str(path), f"cannot read a case bundle: {exc}")) from exc
    if isinstance(data, dict) and data.get("format") in _OLDER_FORMATS:
        raise InvalidInputError(
            Problem(
                str(path),
                f"a {data['format']} bundle, whose summary cannot be checked against its "
                "entries: export the case again",
            )
        )
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
