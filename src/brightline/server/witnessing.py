"""The server's witnessing round: in the background, apart from the loop that keeps the
ledger and the bundle current, so that a slow witness never holds up an append or a
bundle. Each round submits the latest checkpoint to the witnesses that have not cosigned
it; after a failure the next round waits longer (up to a minute), after a success or
when there is nothing to do it comes back to every second. Among several servers on one
database, only the ledger's writer (:mod:`brightline.store.writer_lock`) submits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Final

from starlette.concurrency import run_in_threadpool

from brightline.errors import BrightlineError
from brightline.server.state import AppState
from brightline.service.witnessing import Outcome, WitnessingResult, witness_latest

log = logging.getLogger("brightline.api")

WITNESS_SECONDS: Final = 1.0
MAX_WITNESS_SECONDS: Final = 60.0


def witness_round(state: AppState) -> WitnessingResult:
    """One round, counted in the metrics."""
    result = witness_latest(state.settings, state.store)
    for submission in result.submissions:
        if submission.outcome is not Outcome.HELD:
            state.metrics.witness_submissions.labels(
                witness=submission.witness, outcome=submission.outcome.value
            ).inc()
    state.metrics.witness_cosignatures.set(result.cosigned)
    return result


async def keep_witnessed(state: AppState, stop: asyncio.Event) -> None:
    """Witnessing rounds until ``stop`` is set; like the refresh loop, never cancelled in
    the middle of a round (each witness's wait is bounded by its timeout)."""
    delay = WITNESS_SECONDS
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            return
        if not state.writes_ledger:
            continue  # the ledger's writer (another server) submits what it signed
        try:
            result = await run_in_threadpool(witness_round, state)
        except BrightlineError as exc:  # the database may be away for a while
            log.warning(json.dumps({"event": "witnessing-failed", "error": str(exc)}))
            delay = min(delay * 2, MAX_WITNESS_SECONDS)
            continue
        failed = any(s.outcome in (Outcome.FAILED, Outcome.REFUSED) for s in result.submissions)
        delay = min(delay * 2, MAX_WITNESS_SECONDS) if failed else WITNESS_SECONDS
