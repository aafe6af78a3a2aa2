"""The witness's judgement of a submitted checkpoint: C2SP ``tlog-witness``, pure.

A log submits each new checkpoint to its witnesses with ``POST <prefix>/add-checkpoint``;
the body is ``old <size>\\n``, up to 63 base64 lines of an RFC 9162 consistency proof
from that size, an empty line, then the signed checkpoint note. A witness remembers, per
log origin, only the latest size and root hash it cosigned; :func:`judge_submission` applies the
spec's checks to a body and that memory, in the spec's order, and returns a
:class:`WitnessVerdict` whose status is the HTTP status the witness answers with:

1. a body that does not parse: 400 Bad Request;
2. an origin the witness is not configured for: 404 Not Found;
3. no signature by a key the witness trusts for the origin: 403 Forbidden;
4. an old size above the checkpoint's size: 400;
5. an old size other than the witness's latest (0 if none): 409 Conflict, whose body
   (``text/x.tlog.size``) is the witness's latest size;
6. a proof with old size 0: 400 (the spec says the proof MUST then be empty);
7. the same size as the witness's latest with another root hash (a split view): 409;
8. a consistency proof that does not verify: 422 Unprocessable Entity;
9. otherwise 200: the witness records the checkpoint's size and root — atomically with
   reading its latest, and before answering — then returns its cosignature lines.

Persisting, locking, signing and HTTP belong to the caller (``brightline.service.witness``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from brightline.errors import BrightlineError, InvalidInputError
from brightline.ledger.checkpoint import (
    Checkpoint,
    NoteVerifier,
    note_signatures,
    open_checkpoint,
)
from brightline.ledger.verify import EMPTY_ROOT, HASH_SIZE, verify_consistency

__all__ = [
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "WitnessStatus",
    "WitnessVerdict",
    "WitnessedLog",
    "judge_submission",
    "parse_tree_size",
]

MAX_PROOF_LINES: Final = 63
"""tlog-witness: the client MUST NOT send more than 63 consistency proof lines."""

SIZE_CONTENT_TYPE: Final = "text/x.tlog.size"
"""The content type of a 409 answer giving the witness's latest size."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class WitnessStatus(IntEnum):
    OK = 200
    BAD_REQUEST = 400
    FORBIDDEN = 403
    NOT_FOUND = 404
    CONFLICT = 409
    UNPROCESSABLE = 422


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise InvalidInputError(f"{what} is not a decimal number without leading zeroes")
    return int(text)


def parse_tree_size(text: str) -> int:
    """The body of a 409 answer: a decimal size and a newline."""
    if not text.endswith("\n"):
        raise InvalidInputError("a tree size answer must end with a newline")
    return _decimal(text[:-1], "the tree size answer")


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """An ``add-checkpoint`` request: the size the log believes the witness holds, a
    consistency proof from it to the checkpoint, and the signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse a request body; raises :class:`InvalidInputError` when malformed."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError("the request is not UTF-8") from exc
        head, blank, note = text.partition("\n\n")
        if not blank:
            raise InvalidInputError("the request has no empty line before the checkpoint")
        old, *lines = head.split("\n")
        if not old.startswith("old "):
            raise InvalidInputError("the request does not start with 'old <size>'")
        old_size = _decimal(old[len("old ") :], "the old size")
        if len(lines) > MAX_PROOF_LINES:
            raise InvalidInputError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        return cls(old_size, tuple(_proof_hash(line) for line in lines), note)

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}", *(base64.b64encode(h).decode() for h in self.proof)]
        return ("".join(line + "\n" for line in lines) + "\n" + self.note).encode()


def _proof_hash(line: str) -> bytes:
    try:
        value = base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidInputError("a consistency proof line is not standard base64") from exc
    if len(value) != HASH_SIZE:
        raise InvalidInputError(f"a consistency proof line is not a {HASH_SIZE}-byte hash")
    return value


@dataclass(frozen=True, slots=True)
class WitnessedLog:
    """What a witness remembers of one log: the latest checkpoint it cosigned."""

    origin: str
    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class WitnessVerdict:
    """The answer to a request. On 200, ``accepted`` is the witness's new memory of the
    log and ``text`` the checkpoint text to cosign; ``known_size`` is set only on the
    409 of an old size that is not the witness's (its body)."""

    status: WitnessStatus
    reason: str
    accepted: WitnessedLog | None = None
    text: str | None = None
    known_size: int | None = None

    @classmethod
    def refuse(
        cls, status: WitnessStatus, reason: str, *, known_size: int | None = None
    ) -> WitnessVerdict:
        return cls(status, reason, known_size=known_size)


def judge_submission(
    body: bytes,
    *,
    logs: Mapping[str, Sequence[NoteVerifier]],
    state: Mapping[str, WitnessedLog],
) -> WitnessVerdict:
    """Judge an ``add-checkpoint`` body against the keys the witness trusts per origin
    (``logs``) and what it last cosigned per origin (``state``); see the module's steps."""
    # Step 1: the body parses.
    try:
        request = AddCheckpoint.parse(body)
    except InvalidInputError as exc:
        return WitnessVerdict.refuse(WitnessStatus.BAD_REQUEST, str(exc))
    # Step 2: the origin (the checkpoint's first line) is one the witness serves.
    origin = request.note.partition("\n")[0]
    keys = logs.get(origin)
    if not keys:
        return WitnessVerdict.refuse(WitnessStatus.NOT_FOUND, f"unknown log origin {origin!r}")
    # Step 3: signed by a key trusted for that origin (other signatures are ignored).
    checkpoint = _step3_open(request.note, keys, origin)
    if isinstance(checkpoint, WitnessVerdict):
        return checkpoint
    latest = state.get(origin)
    known = 0 if latest is None else latest.size
    # Step 4: the old size is not above the checkpoint's.
    if request.old_size > checkpoint.size:
        return WitnessVerdict.refuse(
            WitnessStatus.BAD_REQUEST,
            f"old size {request.old_size} is above the checkpoint's size {checkpoint.size}",
        )
    # Step 5: the old size is the witness's latest.
    if request.old_size != known:
        return WitnessVerdict.refuse(
            WitnessStatus.CONFLICT,
            f"old size {request.old_size} is not the latest cosigned size {known}",
            known_size=known,
        )
    refusal = _step6_to_8_consistent(request, checkpoint, latest)
    if refusal is not None:
        return refusal
    # Step 9: accept; the caller records it before answering.
    return WitnessVerdict(
        WitnessStatus.OK,
        "consistent",
        accepted=WitnessedLog(origin, checkpoint.size, checkpoint.root_hash),
        # The exact text signed by the log, which a verifier will hold: never a re-encoding.
        text=note_signatures(request.note)[0],
    )


def _step3_open(
    note: str, keys: Sequence[NoteVerifier], origin: str
) -> Checkpoint | WitnessVerdict:
    malformed = None
    for key in keys:
        try:
            return open_checkpoint(note, key, origin=origin)
        except InvalidInputError as exc:
            malformed = exc  # a bad note or body; another key will not make it parse
            break
        except BrightlineError:
            continue
    if malformed is not None:
        return WitnessVerdict.refuse(WitnessStatus.BAD_REQUEST, str(malformed))
    return WitnessVerdict.refuse(
        WitnessStatus.FORBIDDEN, f"no valid signature by a key trusted for {origin}"
    )


def _step6_to_8_consistent(
    request: AddCheckpoint, checkpoint: Checkpoint, latest: WitnessedLog | None
) -> WitnessVerdict | None:
    # Step 6: from nothing, there is nothing to prove; an empty tree has the empty root.
    if request.old_size == 0:
        if request.proof:
            return WitnessVerdict.refuse(
                WitnessStatus.BAD_REQUEST, "a consistency proof from size 0"
            )
        if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
            return WitnessVerdict.refuse(
                WitnessStatus.UNPROCESSABLE, "an empty tree with a non-empty root"
            )
        return None
    assert latest is not None  # old size == known size > 0
    # Step 7: the same size must be the same tree, else the log shows two views.
    if checkpoint.size == latest.size:
        if request.proof:
            return WitnessVerdict.refuse(
                WitnessStatus.UNPROCESSABLE, "a non-empty proof between equal sizes"
            )
        if checkpoint.root_hash != latest.root:
            return WitnessVerdict.refuse(
                WitnessStatus.CONFLICT,
                f"another root hash at size {latest.size} than the one cosigned: a split view",
            )
        return None
    # Step 8: RFC 9162 §2.1.4.2 from the witness's latest to the checkpoint.
    if not verify_consistency(
        latest.size, checkpoint.size, request.proof, latest.root, checkpoint.root_hash
    ):
        return WitnessVerdict.refuse(
            WitnessStatus.UNPROCESSABLE,
            f"the consistency proof from size {latest.size} to {checkpoint.size} does not verify",
        )
    return None
