"""A witness (C2SP tlog-witness), as ``brightline ledger witness`` runs it for someone who
is not the log's operator: its own Ed25519 key, the logs it serves, and its memory of
each log, all in one directory:

- ``witness.key`` (mode 0600) and ``witness.pub``: the cosigner key and its verifier key
  (``<name>+<id>+<base64(0x04 || key)>``), which verifiers pass as ``--witness``;
- ``state.json``: per log origin, the size and root hash of the latest checkpoint
  cosigned. It is rewritten whole (a new file, fsynced, renamed over the old one, the
  directory fsynced) before a cosignature is returned, so a crash leaves the old memory
  or the new one, never a torn one;
- ``state.lock``: held while a submission is checked and recorded, so that two
  submissions — from two threads or two witness processes on the directory — cannot
  both advance from the same size (the race the spec warns about).

A state file that cannot be read is an error, never an empty memory: forgetting a log
would let it roll back.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from brightline import files
from brightline.errors import (
    ConflictError,
    InvalidInputError,
    LedgerIntegrityError,
    NotFoundError,
    StorageError,
    StoreUnavailableError,
)
from brightline.ledger import (
    SIZE_CONTENT_TYPE,
    CosignatureSigner,
    CosignatureVerifier,
    NoteVerifier,
    WitnessedLog,
    WitnessStatus,
    WitnessVerdict,
    generate_cosigner,
    judge_submission,
)
from brightline.ledger.verify import HASH_SIZE

log = logging.getLogger("brightline.witness")

KEY_FILE: Final = "witness.key"
PUBLIC_FILE: Final = "witness.pub"
STATE_FILE: Final = "state.json"
LOCK_FILE: Final = "state.lock"
_STATE_FORMAT: Final = "brightline.witness-state/1"


def witness_keygen(directory: Path, *, name: str) -> CosignatureVerifier:
    """Create the witness's key in ``directory`` (private file mode 0600); refuses to
    overwrite one (:class:`ConflictError`): verifiers trust the key, not the directory."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    signer = generate_cosigner(name)
    try:
        files.write_new(directory / KEY_FILE, signer.to_secret_string() + "\n", mode=0o600)
    except FileExistsError as exc:
        raise ConflictError(
            f"{directory / KEY_FILE} already exists; not overwriting a key"
        ) from exc
    files.write_file(directory / PUBLIC_FILE, str(signer.verifier()) + "\n", mode=0o644)
    return signer.verifier()


def key_text(value: str, what: str) -> str:
    """A key given as the key itself or as a file holding it (``log.pub``, ``witness.pub``)."""
    path = Path(value)
    if "+" not in value or path.is_file():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                f"{value} is neither a {what} verifier key nor a readable file: {exc}"
            ) from exc
    return value


def read_log_key(value: str) -> NoteVerifier:
    """A log's verifier key given as the key itself or as a file holding it (log.pub)."""
    return NoteVerifier.parse(key_text(value, "log"))


@dataclass(frozen=True, slots=True)
class WitnessAnswer:
    """An HTTP answer to ``add-checkpoint``: status, body and content type."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    """A witness over its directory, serving the logs whose verifier keys it is given (a
    log's origin is its key's name, as C2SP tlog-checkpoint has it; an origin may have
    several keys). ``clock`` gives the cosignatures' POSIX time.

    Raises :class:`NotFoundError` without a key, :class:`LedgerIntegrityError` for a
    state file that does not read back."""

    def __init__(
        self,
        directory: Path,
        *,
        logs: Sequence[NoteVerifier],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not logs:
            raise InvalidInputError("a witness needs at least one log verifier key (--log)")
        self.directory = directory
        key = directory / KEY_FILE
        try:
            self._signer = CosignatureSigner.parse(key.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"no witness key at {key}; run `brightline ledger witness-keygen`"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read the witness key at {key}: {exc}") from exc
        by_origin: dict[str, list[NoteVerifier]] = {}
        for verifier in logs:
            by_origin.setdefault(verifier.name, []).append(verifier)
        self._logs = {origin: tuple(keys) for origin, keys in by_origin.items()}
        self._clock = clock
        self._lock = threading.Lock()
        self.state()  # refuse to start on a state file that does not read back

    def verifier(self) -> CosignatureVerifier:
        return self._signer.verifier()

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(sorted(self._logs))

    def state(self) -> dict[str, WitnessedLog]:
        """What the witness remembers, per log origin."""
        return _read_state(self.directory / STATE_FILE)

    def add_checkpoint(self, body: bytes) -> WitnessAnswer:
        """Answer one ``add-checkpoint`` request body (C2SP tlog-witness)."""
        with self._locked():
            state = self.state()
            verdict = judge_submission(body, logs=self._logs, state=state)
            accepted, text = verdict.accepted, verdict.text
            if accepted is not None and state.get(accepted.origin) != accepted:
                # Recorded before answering, under the lock (tlog-witness).
                _write_state(self.directory / STATE_FILE, {**state, accepted.origin: accepted})
        if accepted is None or text is None:
            self._log_refusal(body, verdict)
            if verdict.known_size is not None:
                size = f"{verdict.known_size}\n".encode()
                return WitnessAnswer(verdict.status, size, SIZE_CONTENT_TYPE)
            return WitnessAnswer(verdict.status, (verdict.reason + "\n").encode())
        line = self._signer.sign(text, timestamp=int(self._clock()))
        event = {"event": "witness-cosigned", "origin": accepted.origin, "size": accepted.size}
        log.info(json.dumps(event))
        return WitnessAnswer(WitnessStatus.OK, line.encode())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, (self.directory / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _log_refusal(self, body: bytes, verdict: WitnessVerdict) -> None:
        event = {"event": "witness-refused", "status": verdict.status, "reason": verdict.reason}
        misbehaving = verdict.status is WitnessStatus.UNPROCESSABLE or (
            verdict.status is WitnessStatus.CONFLICT and verdict.known_size is None
        )
        if misbehaving:
            # A fork or a split view, signed by the log (that was checked first): keep the
            # request, it may prove the log's misbehaviour (the spec allows logging it).
            event["request"] = body.decode("utf-8", "replace")
            log.warning(json.dumps(event))
        else:
            log.info(json.dumps(event))


# --- the state file ------------------------------------------------------------------


def _read_state(path: Path) -> dict[str, WitnessedLog]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise LedgerIntegrityError(f"cannot read the witness state {path}: {exc}") from exc
    try:
        document = json.loads(raw)
        if document.get("format") != _STATE_FORMAT:
            raise ValueError(f"not {_STATE_FORMAT}")
        state = {}
        for origin, entry in document["logs"].items():
            root = base64.b64decode(entry["root"], validate=True)
            size = entry["size"]
            if len(root) != HASH_SIZE or not isinstance(size, int) or size < 0:
                raise ValueError(f"bad entry for {origin}")
            state[origin] = WitnessedLog(origin, size, root)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise LedgerIntegrityError(
            f"the witness state {path} does not read back ({exc}); refusing to forget it"
        ) from exc
    return state


def _write_state(path: Path, state: Mapping[str, WitnessedLog]) -> None:
    document = {
        "format": _STATE_FORMAT,
        "logs": {
            origin: {"size": entry.size, "root": base64.b64encode(entry.root).decode()}
            for origin, entry in sorted(state.items())
        },
    }
    try:
        files.write_file(path, json.dumps(document, indent=2) + "\n", mode=0o600)
    except (OSError, StorageError) as exc:
        # Nothing is cosigned that is not recorded: the request fails, the memory stays.
        raise StoreUnavailableError(f"cannot record the witness state {path}: {exc}") from exc
