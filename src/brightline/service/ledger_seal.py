"""Sealing the current log and continuing in a new one (``brightline ledger seal-and-restart``).

A log cannot be rewritten: what it published stays public, as it was published. When
what entries publish changes, the log in use is sealed and a new one started, in one
write transaction:

1. every pending outbox event is logged in the current log, which is then signed with
   its key: that checkpoint is its *final checkpoint*, and the log never grows again;
2. the next log is started under a new origin (by default the first log's origin
   followed by ``/<n>``), with a new key named after it;
3. its first entry, a ``ledger.continued`` event, commits to the sealed log's origin,
   final size and root and to the SHA-256 of its final signed checkpoint
   (:mod:`brightline.ledger.chain`), and the new log's first checkpoint is signed.

Every entry after that goes to the new log. The sealed log, its checkpoints and its key's
``log.pub`` are kept: it stays verifiable and can still be exported and disclosed.
The key files move only once the transaction has committed (:mod:`.ledger_keys`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from brightline.access import Action, Principal, authorize
from brightline.config import Settings
from brightline.errors import ConflictError, LedgerIntegrityError, NotFoundError
from brightline.ledger import CONTINUED, Continuation, NoteSigner, NoteVerifier, open_checkpoint
from brightline.policy import format_time
from brightline.service.ledger import granularity_of, sync_log
from brightline.service.ledger_keys import (
    LedgerKeys,
    sealed_verifiers,
    settle_keys,
    stage_key,
)
from brightline.store import Store, append_outbox
from brightline.store.ledger import (
    StoredLog,
    current_log,
    latest_checkpoint,
    ledger_log,
    ledger_logs,
    start_log,
)
from brightline.store.releases import outbox_of_type
from brightline.transparency.private_figures import RELEASE_EVENT


@dataclass(frozen=True, slots=True)
class SealResult:
    """The sealed log (number, origin, final checkpoint) and the log that continues it."""

    sealed: StoredLog
    final_checkpoint: str
    final_size: int
    log: StoredLog
    verifier: NoteVerifier
    checkpoint: str


def _next_origin(logs: list[StoredLog], signer: NoteSigner) -> str:
    base = logs[0].origin or signer.name
    return f"{base}/{logs[-1].number + 1}"


def _refuse_after_a_release(session: Session) -> None:
    """A transparency report states the privacy budget spent by every earlier release of
    figures with differential privacy, and ``report verify`` checks that list against the
    release entries of the report's own log (``brightline.transparency.private_doc``). A
    release logged in a sealed log could be neither listed (it is not in the new log) nor
    left out (the budget would be understated), so no report could be signed after the
    seal. Until reports follow a chain of logs, a store that has released figures is not
    sealed."""
    released = outbox_of_type(session, RELEASE_EVENT)
    if released:
        raise ConflictError(
            f"this store has released figures with differential privacy ({len(released)} "
            f"{RELEASE_EVENT} event{'' if len(released) == 1 else 's'}): a report made after "
            "a seal checks its privacy budget against the releases of its own log only, so "
            "a store that has released figures cannot be sealed yet (docs/ledger.md)"
        )


def seal_and_restart(
    settings: Settings,
    store: Store,
    *,
    actor: Principal,
    expected: int | None = None,
    origin: str | None = None,
    now: datetime | None = None,
) -> SealResult:
    """Seal the current log at its final checkpoint and start the next one, whose first
    entry continues it (see the module docstring). ``expected`` is the number of the log
    the caller means to seal: if another is current (a seal already ran), ConflictError,
    so that running the command twice never seals twice. ``origin`` names the new log
    (default: the first log's origin and ``/<n>``); it must be new to the store.

    Needs the ``seal-ledger`` permission (AccessDeniedError) and the current log's key
    (NotFoundError); refuses an empty log, an origin already used, a store that has
    released figures with differential privacy or a key that is not the current log's
    (ConflictError / LedgerIntegrityError). Safe to run again after a
    crash: a key staged for the new log is reused, and key files left half moved are
    settled.
    """
    authorize(actor, Action.SEAL_LEDGER)
    with store.read() as session:
        logs = ledger_logs(session)
        _refuse_after_a_release(session)
    settle_keys(settings, logs)  # a seal that committed before a crash: finish it first
    if expected is not None and expected != logs[-1].number:
        already = ": it is sealed already" if expected < logs[-1].number else ""
        raise ConflictError(
            f"log {expected} is not the current log (log {logs[-1].number}, "
            f"{logs[-1].origin}){already}"
        )
    old_signer = LedgerKeys.of(settings).signer()
    if old_signer is None:
        raise NotFoundError(
            f"no ledger key at {LedgerKeys.of(settings).private}: sealing signs the log's "
            "final checkpoint with it"
        )
    new_origin = origin or _next_origin(logs, old_signer)
    if new_origin in {log.origin for log in logs} | {old_signer.name}:
        raise ConflictError(f"a ledger log named {new_origin!r} already exists: choose another")
    new_signer = stage_key(settings, new_origin)
    at = now or datetime.now(UTC)
    granularity = granularity_of(settings)
    with store.write() as session:
        sealed = current_log(session)
        if sealed.number != logs[-1].number:
            raise ConflictError(f"log {logs[-1].number} was sealed meanwhile; run again")
        _refuse_after_a_release(session)  # again, under the write lock
        # 1. Log what is pending in the old log and sign its final checkpoint.
        final = sync_log(session, signer=old_signer, at=at, granularity=granularity)
        if final.size == 0:
            raise ConflictError(f"log {sealed.number} is empty: there is nothing to seal")
        stored = latest_checkpoint(session, log=sealed.number)
        if stored is None or stored.size != final.size:  # sync_log just signed it
            raise LedgerIntegrityError(f"log {sealed.number} has no final checkpoint")
        checkpoint = open_checkpoint(stored.note, old_signer.verifier())
        continuation = Continuation.of(checkpoint, stored.note)
        # 2. Start the next log; 3. its first entry continues the sealed one.
        log = start_log(session, origin=new_origin)
        append_outbox(
            session,
            "ledger.continued",  # CONTINUED, spelled out: tests/test_disclosure.py reads it
            {
                **continuation.public(),
                "log": log.number,
                "sealed_log": sealed.number,
                "actor": actor.name,
                "at": format_time(at),  # exact, in private: the entry's time is rounded
            },
            at=at,
        )
        first = sync_log(session, signer=new_signer, at=at, granularity=granularity)
        if first.size != 1 or first.checkpoint is None:
            raise LedgerIntegrityError(f"log {log.number} does not start with its {CONTINUED}")
        sealed = ledger_log(session, sealed.number)
        logs = ledger_logs(session)
    settle_keys(settings, logs)
    return SealResult(
        sealed,
        stored.note,
        final.size,
        log,
        new_signer.verifier(),
        first.checkpoint,
    )


def log_verifier(settings: Settings, store: Store, log: int | None) -> NoteVerifier:
    """The verifier key of a log of the deployment: ``log.pub`` for the current one, the
    key kept under ``ledger/logs/<n>/`` for a sealed one."""
    with store.read() as session:
        current = current_log(session).number
        which = ledger_log(session, log)
    if which.number == current:
        return LedgerKeys.of(settings).verifier()
    for verifier in sealed_verifiers(settings):
        if verifier.name == which.origin:
            return verifier
    raise NotFoundError(
        f"no verifier key for log {which.number} ({which.origin}) at "
        f"{LedgerKeys.sealed(settings, which.number).public}: give it with --verifier"
    )
