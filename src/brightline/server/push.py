"""When the serving loop looks at the store again: at once when PostgreSQL pushes a
commit (:mod:`brightline.store.changes`), else at the next poll.

On PostgreSQL a thread holds a listening connection and wakes the loop the moment a
change commits, whichever process made it; the loop then polls only as a safety net
(time-bounded restrictions, a notification lost with a connection), every
``pushed_poll_seconds``. While the listener is not connected — SQLite, or PostgreSQL
away — the loop polls every ``poll_seconds``, and the listener reconnects with backoff;
once it is back it wakes the loop, since changes may have committed unheard.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Final

from brightline.errors import StoreUnavailableError
from brightline.store import Store
from brightline.store.changes import ChangeListener, pushes_changes

log = logging.getLogger("brightline.api")

#: The poll while no change is pushed (SQLite, or the listener away).
REFRESH_SECONDS: Final = 0.1
#: The safety poll while the listener is connected.
PUSHED_POLL_SECONDS: Final = 2.0
#: How long one wait for a notification lasts: also how soon the listener stops.
_LISTEN_SECONDS: Final = 0.25
#: A quiet listening connection makes a round trip this often, to notice a lost database.
_CHECK_SECONDS: Final = 5.0
_BACKOFF_FIRST: Final = 0.1
_BACKOFF_MAX: Final = 5.0


class ChangeSignal:
    """What the serving loop waits for between two looks at the store; built in the
    loop's thread, woken from any thread."""

    def __init__(
        self,
        *,
        poll_seconds: float = REFRESH_SECONDS,
        pushed_poll_seconds: float = PUSHED_POLL_SECONDS,
    ) -> None:
        self.poll_seconds = poll_seconds
        self.pushed_poll_seconds = pushed_poll_seconds
        #: Whether a listener is connected (changes are pushed).
        self.listening = False
        self._woken: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Attach to the running event loop (the server's lifespan does this)."""
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """From any thread: the loop looks at the store now."""
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None and not loop.is_closed():
            loop.call_soon_threadsafe(woken.set)

    async def wait(self, stop: asyncio.Event) -> None:
        """Until woken, ``stop`` is set, or the poll interval in force has passed."""
        assert self._woken is not None, "bind() first"
        timeout = self.pushed_poll_seconds if self.listening else self.poll_seconds
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._woken.wait())}
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        self._woken.clear()


class Listener:
    """The thread that listens for pushed changes and wakes ``signal``."""

    def __init__(self, store: Store, signal: ChangeSignal, *, timeout: float) -> None:
        self._store = store
        self._signal = signal
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="brightline-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and wait for the thread to close its connection."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        while not self._stop.is_set():
            try:
                listener = ChangeListener(self._store, timeout=self._timeout)
            except StoreUnavailableError as exc:
                self._lost(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            backoff = _BACKOFF_FIRST
            try:
                self._listen(listener)
            except StoreUnavailableError as exc:
                self._lost(exc)
            finally:
                listener.close()
        self._signal.listening = False

    def _listen(self, listener: ChangeListener) -> None:
        self._signal.listening = True
        log.info(json.dumps({"event": "change-listener-connected"}))
        self._signal.wake()  # whatever committed while no one listened
        quiet = 0.0
        while not self._stop.is_set():
            if listener.wait(_LISTEN_SECONDS):
                self._signal.wake()
                quiet = 0.0
                continue
            quiet += _LISTEN_SECONDS
            if quiet >= _CHECK_SECONDS:
                listener.check()
                quiet = 0.0

    def _lost(self, error: StoreUnavailableError) -> None:
        if self._signal.listening:
            log.warning(json.dumps({"event": "change-listener-lost", "error": str(error)}))
        self._signal.listening = False


def start_listener(store: Store, signal: ChangeSignal, *, timeout: float) -> Listener | None:
    """A running :class:`Listener` if ``store`` pushes changes, else None (poll)."""
    if not pushes_changes(store):
        return None
    listener = Listener(store, signal, timeout=timeout)
    listener.start()
    return listener
