"""The bundle in force kept beside the store as a compiled snapshot file, so that a server
restarts by mapping it instead of loading the world and compiling.

One file per version, ``<data_dir>/snapshots/<version>.blsnap`` (0600), written whole
(:func:`brightline.files.writing`: a partial file under another name until it is
renamed into place) in the format of :mod:`brightline.policy.compiled`, with the
bundle's signed payload as a section and its version, serial, digest, issue time, note
and next boundary (the earliest ``not_after`` after its issue) in the header.

:func:`open_kept` gives the bundle only if the file is whole and undamaged, belongs to
exactly the bundle asked for (version, serial and digest of the newest ``bundle.issued``
event), its note verifies with the deployment's key and signs its payload; anything
else — missing, truncated, damaged, stale — gives None, with the reason, and the caller
compiles from the store as without a file (then keeps a new one). Whether the store
changed since the bundle was issued is the caller's question (the keeper compares the
outbox).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from brightline import files
from brightline.bundle import Bundle, reopen_bundle
from brightline.errors import LedgerIntegrityError
from brightline.ledger import NoteVerifier
from brightline.policy import format_time
from brightline.policy.compiled import (
    CompiledFileError,
    open_compiled,
    snapshot_of,
    snapshot_sections,
    write_compiled,
)

SNAPSHOTS_DIR: Final = "snapshots"
SUFFIX: Final = ".blsnap"
_PAYLOAD: Final = "payload"
#: A partial file this old is a killed writer's, not one being written.
_PARTIAL_AGE_S: Final = 600.0


@dataclass(frozen=True, slots=True)
class KeptBundle:
    bundle: Bundle
    #: The earliest ``not_after`` after the bundle's issue (None: none): from then on
    #: the store's policy is another one, whatever the file says.
    next_boundary: datetime | None


def kept_path(directory: Path, version: str) -> Path:
    return directory / f"{version}{SUFFIX}"


def keep(directory: Path, bundle: Bundle, *, next_boundary: datetime | None) -> Path:
    """Write ``bundle``'s file whole, then remove the files of other versions (and
    partial files killed writers left); StorageError if it cannot be written."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise files.storage_error(directory, exc) from exc
    path = kept_path(directory, bundle.version)
    sections = {**snapshot_sections(bundle.snapshot), _PAYLOAD: bundle.payload_json}
    meta = {
        "version": bundle.version,
        "serial": bundle.serial,
        "digest": bundle.digest,
        "issued_at": format_time(bundle.issued_at),
        "note": bundle.note,
        "next_boundary": format_time(next_boundary),
    }
    with files.writing(path, mode=0o600) as out:
        write_compiled(out, sections, meta=meta, hashed_elsewhere=frozenset({_PAYLOAD}))
    try:
        for other in directory.glob(f"*{SUFFIX}"):
            if other != path:
                other.unlink(missing_ok=True)
        # Partial files a killed writer left; not newer ones: the workers of a server
        # (or servers sharing the directory) may be writing theirs right now.
        stale = time.time() - _PARTIAL_AGE_S
        for leftover in directory.glob(f".*{SUFFIX}.*"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < stale:
                    leftover.unlink()
    except OSError as exc:
        raise files.storage_error(directory, exc) from exc
    return path


def open_kept(
    directory: Path, *, version: str, serial: int, digest: str, verifier: NoteVerifier
) -> KeptBundle | str:
    """The kept bundle ``version`` (``serial``, payload ``digest``), or why it cannot be
    used (a file to rebuild)."""
    path = kept_path(directory, version)
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return f"{path}: empty"
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        return f"{path}: missing"
    except OSError as exc:
        return f"{path}: {files.cause(exc)}"
    try:
        return _open(mapped, version=version, serial=serial, digest=digest, verifier=verifier)
    except (CompiledFileError, LedgerIntegrityError, KeyError, TypeError, ValueError) as exc:
        with contextlib.suppress(BufferError):  # views alive: the collector closes it
            mapped.close()
        return f"{path}: {exc}"


def _open(
    mapped: mmap.mmap, *, version: str, serial: int, digest: str, verifier: NoteVerifier
) -> KeptBundle:
    compiled = open_compiled(memoryview(mapped))
    meta = compiled.meta
    if (meta["version"], meta["serial"], meta["digest"]) != (version, serial, digest):
        raise CompiledFileError(
            f"kept for bundle {str(meta['version'])[:12]}… serial {meta['serial']}, not the "
            f"bundle in the store ({version[:12]}… serial {serial}): stale"
        )
    payload = bytes(compiled.raw(_PAYLOAD))
    if hashlib.sha256(payload).hexdigest() != digest:
        raise CompiledFileError("the payload does not match the bundle's digest (damaged)")
    snapshot = snapshot_of(compiled)
    if snapshot.version != version:
        raise CompiledFileError("the compiled snapshot is of another version")
    bundle = reopen_bundle(
        snapshot,
        serial=serial,
        issued_at=datetime.fromisoformat(str(meta["issued_at"])),
        payload_json=payload,
        note=str(meta["note"]),
        verifier=verifier,
    )
    # Checking the hashes read every page: let them go (they stay in the page cache);
    # the arrays the snapshot reads in place come back as they are used.
    mapped.madvise(mmap.MADV_DONTNEED)
    boundary = meta["next_boundary"]
    return KeptBundle(bundle, None if boundary is None else datetime.fromisoformat(boundary))
