"""Figures about investigations with differential privacy: release, sign, disclose, audit.

A transparency report releases them in three steps (``write_transparency_report`` calls
the first two around a ledger sync):

1. :func:`release_private_figures` counts the figures exactly from the private records of
   the investigation entries already logged, checks the deployment's privacy budget
   against every release made before (ConflictError, and nothing released, if it would be
   exceeded), draws the noise with OpenDP and appends a ``transparency.released`` outbox
   event whose payload (the entry's private record) keeps the exact values and the
   noise — in one write transaction, so two reports cannot both spend the last of a
   budget;
2. once that event is logged, :func:`sign_private_figures` signs the published document
   with the ledger's key, naming its release entry and every earlier release's (a
   report's series release, of the same type, listed with ε = 0: see :func:`_epsilon`);
3. an auditor given :func:`disclose_release` (the release record and every input record,
   each with its salt) runs ``brightline.service.private_audit.audit_transparency_report``,
   which checks each record against the log's commitment and recomputes every figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from brightline.config import Settings
from brightline.errors import InvalidInputError, LedgerIntegrityError, NotFoundError, Problem
from brightline.service.ledger import (
    CONSUMER,
    Disclosure,
    LedgerKeys,
    disclose,
    private_record,
)
from brightline.store import OutboxEntry, Store, append_outbox, consumer_position, read_outbox
from brightline.store.ledger import latest_checkpoint, ledger_size
from brightline.store.releases import (
    is_suppression_record,
    logged_events,
    outbox_events,
    outbox_of_type,
)
from brightline.transparency import Parameters, PublicEntry
from brightline.transparency.investigations import (
    PrivateRecord,
    count_investigations,
    is_investigation,
)
from brightline.transparency.private_doc import PrivateFigures
from brightline.transparency.private_figures import (
    RELEASE_EVENT,
    Noise,
    PriorRelease,
    Release,
    make_release,
)


@dataclass(frozen=True, slots=True)
class PendingRelease:
    """A release appended to the outbox, to be signed once the ledger has logged it."""

    outbox_id: int
    release: Release


def release_private_figures(
    store: Store,
    *,
    settings: Settings,
    parameters: Parameters,
    now: datetime,
    noise: Noise | None = None,
) -> PendingRelease:
    """Count, check the budget, draw and record one release (see the module's docstring).

    The inputs are every investigation event before the release, in log order: those the
    ledger holds and those it has yet to log (which it will log, in order, just before the
    release: the write lock is held from reading them to appending it). Raises
    ConflictError over budget, InvalidInputError for bad settings, NotFoundError without
    the ledger's signing key or a signed checkpoint (nothing to sign the figures with, or
    nothing to count).
    """
    if LedgerKeys.of(settings).signer() is None:
        raise NotFoundError("no ledger signing key to sign the private figures with")
    if noise is None:
        from brightline.transparency.dp_noise import OpenDPNoise

        noise = OpenDPNoise()
    with store.write() as session:
        if latest_checkpoint(session) is None:
            raise NotFoundError(
                "the ledger has no signed checkpoint yet: run `brightline ledger sync`"
            )
        records, release_index = _records_before_release(session)
        exact = count_investigations(
            records,
            period=parameters.period,
            as_of=parameters.as_of,
            policies=settings.privacy_policies,
        )
        prior = [
            PriorRelease(None, _epsilon(e.data())) for e in outbox_of_type(session, RELEASE_EVENT)
        ]
        release = make_release(
            exact,
            period=parameters.period,
            as_of=parameters.as_of,
            policies=settings.privacy_policies,
            # The entry this release gets: every event before it is an input (see below).
            inputs_log_size=release_index,
            inputs=len(records),
            per_figure=settings.privacy_epsilon_per_figure,
            cap=settings.privacy_epsilon_budget,
            prior=prior,
            noise=noise,
        )
        # The type written out (it is RELEASE_EVENT): tests read every type from the source.
        outbox_id = append_outbox(session, "transparency.released", release.record(), at=now)
    return PendingRelease(outbox_id, release)


def _records_before_release(session: Session) -> tuple[list[PrivateRecord], int]:
    """The private records of every investigation event before an event appended now,
    each with the ledger index it has or will have, and the index that event will have."""
    size = ledger_size(session)
    logged = [
        (event.index, entry.event_type, event.outbox_id)
        for event in logged_events(session, size=size)
        if is_investigation((entry := PublicEntry.parse(event.index, event.public)).event_type)
    ]
    events = outbox_events(session, [outbox_id for _, _, outbox_id in logged])
    missing = [index for index, _, outbox_id in logged if outbox_id not in events]
    if missing:
        raise LedgerIntegrityError(f"entry {missing[0]} records an outbox event that is gone")
    records = [
        PrivateRecord(index, event_type, private_record(events[outbox_id]))
        for index, event_type, outbox_id in logged
    ]
    pending = _pending(session)
    for offset, event in enumerate(pending):
        if is_investigation(event.event_type):
            records.append(PrivateRecord(size + offset, event.event_type, private_record(event)))
    return records, size + len(pending)


def _pending(session: Session) -> list[OutboxEntry]:
    """Outbox events the ledger has not logged yet, in the order it will log them."""
    found: list[OutboxEntry] = []
    position = consumer_position(session, CONSUMER)
    while batch := read_outbox(session, after=position, limit=1_000):
        found.extend(batch)
        position = batch[-1].id
    return found


def _epsilon(payload: Any) -> float:
    """The ε a release spent. Every ``transparency.released`` event is listed in the
    budget, since its public form (type and day) cannot tell a reader which kind it is and
    :func:`~brightline.transparency.private_doc.check_published` wants every release entry
    accounted for; a series release (what a report's restriction tables hid, under
    ``suppression``: ``brightline.service.report_series``) publishes exact counts with no
    noise and spends none."""
    if is_suppression_record(payload):
        return 0.0
    value = payload.get("release_epsilon") if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LedgerIntegrityError("a transparency.released event states no ε")
    return float(value)


def sign_private_figures(
    store: Store, *, settings: Settings, pending: PendingRelease
) -> PrivateFigures:
    """The release's document, naming its ledger entry and the earlier releases', signed
    with the ledger's key. Raises NotFoundError without the key, LedgerIntegrityError if
    the release is not logged yet."""
    signer = LedgerKeys.of(settings).signer()
    if signer is None:
        raise NotFoundError("no ledger signing key to sign the private figures with")
    with store.read() as session:
        releases = [e for e in outbox_of_type(session, RELEASE_EVENT) if e.id <= pending.outbox_id]
        ids = {e.id for e in releases}
        entry_of = {
            event.outbox_id: event.index
            for event in logged_events(session, size=ledger_size(session))
            if event.outbox_id in ids
        }
    if pending.outbox_id not in entry_of:
        raise LedgerIntegrityError("the release is not logged yet: sync the ledger first")
    if entry_of[pending.outbox_id] != pending.release.inputs_log_size:
        raise LedgerIntegrityError(
            f"the release was logged as entry {entry_of[pending.outbox_id]}, not as entry "
            f"{pending.release.inputs_log_size} after every input it counted"
        )
    prior = [
        PriorRelease(entry_of[e.id], _epsilon(e.data()))
        for e in releases
        if e.id != pending.outbox_id
    ]
    if len(prior) != len(pending.release.budget.releases):
        raise LedgerIntegrityError("the releases logged are not those the budget counted")
    figures = PrivateFigures.of(
        pending.release, release_entry=entry_of[pending.outbox_id], releases=prior
    )
    return figures.signed(signer)


def disclose_release(store: Store, index: int) -> list[Disclosure]:
    """What an auditor needs to recount release entry ``index``: its own disclosure, then
    every investigation entry below its inputs' log size, each with record and salt."""
    release = disclose(store, index)
    if release.event_type != RELEASE_EVENT:
        raise InvalidInputError(Problem("ENTRY", f"entry {index} is not a {RELEASE_EVENT} entry"))
    if is_suppression_record(release.record):
        raise InvalidInputError(
            Problem(
                "ENTRY",
                f"entry {index} is a series release (what a report's restriction tables "
                "showed and hid), not a release of figures with differential privacy",
            )
        )
    inputs = release.record.get("inputs")
    size = inputs.get("log_size") if isinstance(inputs, dict) else None
    if not isinstance(size, int) or size > index:
        raise LedgerIntegrityError(f"the release record of entry {index} states no inputs")
    with store.read() as session:
        wanted = [
            event.index
            for event in logged_events(session, size=size)
            if is_investigation(PublicEntry.parse(event.index, event.public).event_type)
        ]
    return [release, *(disclose(store, i) for i in wanted)]
