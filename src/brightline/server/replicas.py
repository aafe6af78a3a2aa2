"""Several servers on one database: a change made through a server that does not log the
ledger (another holds the ledger writer's lock, :mod:`brightline.store.writer_lock`)
returns once the writer has logged it and this server serves the bundle it brings, as
it would on the writer itself; bounded by FOLLOW_SECONDS, which covers the writer's
failover (another server takes the lock within a second of the writer's death)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Final

from starlette.concurrency import run_in_threadpool

from brightline.errors import StoreUnavailableError
from brightline.server.state import AppState, refresh, store_call
from brightline.service.ledger import ledger_position

log = logging.getLogger("brightline.api")

FOLLOW_SECONDS: Final = 10.0
#: How often a server that made a change looks whether the writer logged it.
_LOOK_SECONDS: Final = 0.02


async def follow_writer(state: AppState) -> bool:
    """Wait until the ledger holds every change made so far (the outbox as it is now;
    changes made since by others do not hold this one up) and no bundle issued here
    waits for the log, refreshing meanwhile, so that this server takes over the ledger
    if its writer is gone. False, logged, if that took longer than FOLLOW_SECONDS: the
    change stands and is logged once a writer is back."""
    deadline = time.monotonic() + FOLLOW_SECONDS
    try:
        made, _ = await store_call(state, ledger_position, state.store)
        while time.monotonic() < deadline:
            changed = await store_call(state, refresh, state)
            if changed and state.changed is not None:
                async with state.changed:
                    state.changed.notify_all()
            _, logged = await store_call(state, ledger_position, state.store)
            if logged >= made and not state.keeper.awaiting_log:
                return True
            await asyncio.sleep(_LOOK_SECONDS)
    except StoreUnavailableError as exc:
        log.warning(json.dumps({"event": "follow-writer-failed", "error": str(exc)}))
        return False
    log.warning(json.dumps({"event": "follow-writer-timed-out", "seconds": FOLLOW_SECONDS}))
    return False


#: How long a server that does not write the ledger waits, as it starts, for the writer
#: to log the first bundle (servers started together on a fresh store).
START_SECONDS: Final = 30.0


async def first_refresh(state: AppState) -> None:
    """The refresh a server starts with. A server that does not write the ledger may find
    no bundle logged yet (the writer started a moment before it): it refreshes again until
    one is, for up to START_SECONDS; the writer raises at once, as a single server does."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            await run_in_threadpool(refresh, state)
            return
        except StoreUnavailableError:
            if state.writes_ledger or time.monotonic() >= deadline:
                raise
            await asyncio.sleep(_LOOK_SECONDS * 5)
