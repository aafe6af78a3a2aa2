"""Bundles opened once per process, however many clients receive them.

A process may hold many enforcement clients (one per gateway worker, say) that
long-poll the same server: when a bundle comes into force they all receive the same
bytes at the same moment. Opening a bundle — parsing it, checking its signature and
payload hash, rebuilding and compiling its snapshot — is a pure function of those bytes
and the verifier key, so the first client to open them keeps the result here and the
others, waiting for it rather than doing the same work beside it, reuse it.

The key is the exact bytes received and the exact key they were checked with: a single
byte of difference, or another key, opens afresh. A failure is not kept: each client
that receives bad bytes opens them itself and raises its own error. What depends on a
client's own state — its high-water mark, the log it holds, its checkpoint policy and
witnesses, the server's freshness note — is still checked by each client, every time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Final

from brightline.bundle import Bundle, open_bundle
from brightline.ledger import NoteVerifier
from brightline.limits import load_json

#: Bundles kept: the one in force and the few before it are all a process meets.
_KEEP: Final = 4

_Key = tuple[str, bytes, bytes, bytes]


class _Opening:
    """One bundle's bytes being opened, then opened (``result``) or failed (None)."""

    __slots__ = ("done", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: tuple[Any, Bundle] | None = None


_lock = threading.Lock()
_opened: OrderedDict[_Key, _Opening] = OrderedDict()


def open_received(content: bytes, verifier: NoteVerifier, *, where: str) -> tuple[Any, Bundle]:
    """The bundle document in ``content`` (JSON bytes) and the bundle opened from it with
    ``verifier`` (:func:`brightline.bundle.open_bundle`).

    The document is shared by every caller given the same bytes: read it, never change
    it. Raises as :func:`~brightline.limits.load_json` (ValueError, InvalidInputError
    naming ``where``) and :func:`~brightline.bundle.open_bundle` do.
    """
    key = (verifier.name, verifier.key_id, verifier.public_key, content)
    with _lock:
        entry = _opened.get(key)
        mine = entry is None
        if entry is None:
            entry = _opened[key] = _Opening()
            while len(_opened) > _KEEP:
                _opened.popitem(last=False)
        else:
            _opened.move_to_end(key)
    if not mine:
        entry.done.wait()
        result = entry.result
        # The opener failed: open the bytes here, so that this caller raises its own error.
        return result if result is not None else _open(content, verifier, where=where)
    try:
        entry.result = _open(content, verifier, where=where)
        return entry.result
    except BaseException:
        with _lock:
            if _opened.get(key) is entry:
                del _opened[key]
        raise
    finally:
        entry.done.set()


def _open(content: bytes, verifier: NoteVerifier, *, where: str) -> tuple[Any, Bundle]:
    document = load_json(content, where=where)
    return document, open_bundle(document, verifier)
