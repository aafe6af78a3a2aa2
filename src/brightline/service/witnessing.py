"""The log's side of witnessing (C2SP tlog-witness): submitting the latest checkpoint to
the witnesses of the settings and keeping their cosignatures with it; and checking that
a checkpoint one verifies carries a quorum of valid cosignatures.

Submitting happens after the append has committed, never inside it: a slow or absent
witness delays nothing but its own cosignature. A witness that fails (unreachable,
timed out, refusing) is logged and returned as such, and the checkpoint is submitted to
it again on the next call — the next sync, or the server's next round.

For each witness the log sends ``old <size>`` where size is the latest checkpoint that
witness cosigned (0 if none), with the consistency proof from there; a witness that
remembers another size answers 409 with it, and the log retries once from that size.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final

import httpx

from brightline.config import Settings, WitnessEndpoint
from brightline.errors import BrightlineError, InvalidInputError, LedgerIntegrityError
from brightline.ledger import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    Cosignature,
    CosignatureVerifier,
    NoteVerifier,
    TiledTree,
    WitnessQuorum,
    add_signatures,
    cosignatures,
    note_signatures,
    open_checkpoint,
    parse_tree_size,
)
from brightline.service.witness import key_text
from brightline.store import Store
from brightline.store.ledger import (
    SqlTileStore,
    StoredCheckpoint,
    add_cosignature,
    latest_checkpoint,
    witnessed_size,
)

log = logging.getLogger("brightline.ledger")

#: The most of a witness's answer that is read.
_MAX_ANSWER: Final = 64 * 1024
#: C2SP tlog-tiles: the signed checkpoint sits at ``<prefix>/checkpoint``.
_TILES_CHECKPOINT: Final = "checkpoint"


class Outcome(StrEnum):
    COSIGNED = "cosigned"  # a valid cosignature was received and kept
    HELD = "held"  # the checkpoint already carries this witness's cosignature
    REFUSED = "refused"  # the witness answered with a refusal
    FAILED = "failed"  # unreachable, timed out, or an answer that is not a valid cosignature


@dataclass(frozen=True, slots=True)
class Submission:
    witness: str
    outcome: Outcome
    detail: str


@dataclass(frozen=True, slots=True)
class WitnessingResult:
    """What one round of submissions did to the latest checkpoint (size None: the log
    has no signed checkpoint yet); ``cosigned`` counts the witnesses of the settings whose
    valid cosignature it carries now."""

    size: int | None
    submissions: tuple[Submission, ...]
    cosigned: int


def witness_latest(
    settings: Settings,
    store: Store,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> WitnessingResult:
    """Submit the latest checkpoint to every witness of the settings that has not
    cosigned it yet, in parallel, each bounded by ``ledger_witness_timeout``; keep each
    valid cosignature. Never raises for a witness's failure (see the result)."""
    endpoints = settings.ledger_witnesses
    with store.read() as session:
        latest = latest_checkpoint(session)
        if latest is None or not endpoints:
            return WitnessingResult(None if latest is None else latest.size, (), 0)
        pending = []
        held = []
        for endpoint in endpoints:
            key = endpoint.verifier()
            if cosignatures(latest.note, [key]):
                held.append(Submission(key.name, Outcome.HELD, "already cosigned"))
            else:
                old = (
                    witnessed_size(session, witness=key.name, key_id=key.key_id, log=latest.log)
                    or 0
                )
                pending.append((endpoint, min(old, latest.size)))
    submit = _Submitter(store, latest, settings.ledger_witness_timeout, transport, clock)
    with ThreadPoolExecutor(max_workers=max(1, len(pending))) as pool:
        done = list(pool.map(lambda p: submit(*p), pending))
    with store.read() as session:
        current = latest_checkpoint(session)
    note = current.note if current is not None and current.id == latest.id else latest.note
    count = len(cosignatures(note, [e.verifier() for e in endpoints]))
    return WitnessingResult(latest.size, (*held, *done), count)


class _Submitter:
    def __init__(
        self,
        store: Store,
        checkpoint: StoredCheckpoint,
        timeout: float,
        transport: httpx.BaseTransport | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._checkpoint = checkpoint
        self._timeout = timeout
        self._transport = transport
        self._clock = clock

    def __call__(self, endpoint: WitnessEndpoint, old: int) -> Submission:
        key = endpoint.verifier()
        try:
            with httpx.Client(timeout=self._timeout, transport=self._transport) as client:
                submission = self._submit(client, endpoint, key, old)
        except httpx.HTTPError as exc:
            submission = Submission(key.name, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        except BrightlineError as exc:
            submission = Submission(key.name, Outcome.FAILED, str(exc))
        level = logging.INFO if submission.outcome is Outcome.COSIGNED else logging.WARNING
        event = {
            "event": f"witness-{submission.outcome}",
            "witness": key.name,
            "url": endpoint.url,
            "size": self._checkpoint.size,
            "detail": submission.detail,
        }
        log.log(level, json.dumps(event))
        return submission

    def _submit(
        self, client: httpx.Client, endpoint: WitnessEndpoint, key: CosignatureVerifier, old: int
    ) -> Submission:
        checkpoint = self._checkpoint
        response = self._post(client, endpoint, old)
        if response.status_code == 409 and _is_size(response):
            # The witness remembers another size: prove from there instead, once.
            known = parse_tree_size(response.text)
            if known > checkpoint.size:
                return Submission(
                    key.name,
                    Outcome.REFUSED,
                    f"the witness holds size {known}, more than this log's {checkpoint.size}",
                )
            response = self._post(client, endpoint, known)
        if response.status_code != 200:
            words = response.text[:300].strip()
            return Submission(key.name, Outcome.REFUSED, f"{response.status_code}: {words}")
        return self._keep(key, response.text)

    def _post(self, client: httpx.Client, endpoint: WitnessEndpoint, old: int) -> httpx.Response:
        size = self._checkpoint.size
        with self._store.read() as session:
            tiles = SqlTileStore(session, log=self._checkpoint.log)
            proof = TiledTree(tiles).consistency_proof(old, size) if old else ()
        body = AddCheckpoint(old, proof, self._checkpoint.signed_note).encode()
        return client.post(f"{endpoint.url}/add-checkpoint", content=body)

    def _keep(self, key: CosignatureVerifier, answer: str) -> Submission:
        """Keep the answer's lines that are this witness's valid cosignature of the
        checkpoint (others, by keys not configured, are ignored, as the spec says)."""
        checkpoint = self._checkpoint
        try:
            if len(answer) > _MAX_ANSWER:
                raise InvalidInputError("the answer is too long")
            lines = answer.splitlines(keepends=True)
            answered = add_signatures(checkpoint.signed_note, lines)
            text, signatures = note_signatures(answered)
        except InvalidInputError as exc:
            return Submission(key.name, Outcome.FAILED, f"not signature lines: {exc}")
        valid = [s.line() for s in signatures if key.timestamp(text, s) is not None]
        if not valid:
            return Submission(key.name, Outcome.FAILED, "no valid cosignature by its key")
        with self._store.write() as session:
            add_cosignature(
                session,
                checkpoint=checkpoint.id,
                witness=key.name,
                key_id=key.key_id,
                line=valid[-1],
                at=self._clock(),
            )
        return Submission(key.name, Outcome.COSIGNED, f"size {checkpoint.size}")


def _is_size(response: httpx.Response) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE


# --- verifying ----------------------------------------------------------------------------


def witness_quorum(
    keys: list[str], quorum: int | None, settings: Settings | None = None
) -> WitnessQuorum:
    """The witnesses a verifier requires: the ``keys`` given (each a witness verifier
    key, or a file holding one) with ``quorum`` (default: all); with no keys, those of
    ``settings`` and its quorum, if given (the operator's own verification)."""
    if keys:
        return WitnessQuorum.of([_read_witness_key(k) for k in keys], quorum=quorum)
    if quorum is not None:
        raise InvalidInputError("--witness-quorum needs --witness keys")
    if settings is None or not settings.ledger_witnesses:
        return WitnessQuorum.none()
    return WitnessQuorum.of(
        [w.verifier() for w in settings.ledger_witnesses], quorum=settings.ledger_witness_quorum
    )


def _read_witness_key(value: str) -> CosignatureVerifier:
    return CosignatureVerifier.parse(key_text(value, "witness"))


def require_witnessed(
    note: str, verifier: NoteVerifier, witnesses: WitnessQuorum
) -> tuple[Cosignature, ...]:
    """Check a published checkpoint: signed by the log's key, then cosigned by a quorum of
    ``witnesses``. Raises LedgerIntegrityError naming how many cosignatures were valid
    and how many needed."""
    open_checkpoint(note, verifier)
    return witnesses.check(note)


def witnessed_store(
    store: Store, verifier: NoteVerifier, witnesses: WitnessQuorum
) -> tuple[Cosignature, ...]:
    """:func:`require_witnessed` for the store's latest checkpoint."""
    with store.read() as session:
        latest = latest_checkpoint(session)
    if latest is None:
        raise LedgerIntegrityError("the ledger has no signed checkpoint to verify against")
    return require_witnessed(latest.note, verifier, witnesses)


def witnessed_tiles(
    directory: Path, verifier: NoteVerifier, witnesses: WitnessQuorum
) -> tuple[Cosignature, ...]:
    """:func:`require_witnessed` for an exported tiles directory's checkpoint."""
    try:
        note = (directory / _TILES_CHECKPOINT).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {directory / _TILES_CHECKPOINT}: {exc}") from exc
    return require_witnessed(note, verifier, witnesses)
