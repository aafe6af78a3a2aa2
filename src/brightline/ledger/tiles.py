"""C2SP ``tlog-tiles``: a whole log as static files, and reading one back to verify it.

Layout of an exported directory (what a static web server serves as the log):

- ``checkpoint`` — the latest signed checkpoint (written last);
- ``tile/<L>/<N>`` — hash tile ``N`` of level ``L``: 256 hashes of 32 bytes;
  the last tile of a level is ``tile/<L>/<N>.p/<W>`` with ``W`` (1–255) hashes;
- ``tile/entries/<N>`` (``.p/<W>``) — entry bundle ``N``: entries
  ``256·N …``, each a big-endian uint16 length followed by the entry bytes.

``N`` is written in groups of three decimal digits, every group but the last
prefixed with ``x``: index 1234067 is ``x001/x234/067``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from brightline import files
from brightline.errors import InvalidInputError, LedgerIntegrityError
from brightline.ledger.audit import audit_tiles
from brightline.ledger.checkpoint import Checkpoint, NoteVerifier, open_checkpoint
from brightline.ledger.tree import (
    TILE_HEIGHT,
    TILE_WIDTH,
    HashSource,
    TiledTree,
)
from brightline.ledger.verify import HASH_SIZE, leaf_hash

__all__ = [
    "MAX_ENTRY_SIZE",
    "TileDirSource",
    "TilePath",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "entries_path",
    "export_tiles",
    "read_entries",
    "tile_path",
    "verify_tile_dir",
]

MAX_ENTRY_SIZE = 0xFFFF
"""Largest entry an entry bundle can hold (its length is a uint16)."""
_MAX_LEVEL = 63
_CHECKPOINT = "checkpoint"


# --- paths -----------------------------------------------------------------------------


def _encode_index(index: int) -> str:
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidInputError(f"tile index must be a non-negative integer, not {index!r}")
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _suffix(width: int) -> str:
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= TILE_WIDTH:
        raise InvalidInputError(f"tile width must be 1..{TILE_WIDTH}, not {width!r}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``; raises :class:`InvalidInputError` out of range."""
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= _MAX_LEVEL:
        raise InvalidInputError(f"tile level must be 0..{_MAX_LEVEL}, not {level!r}")
    return f"tile/{level}/{_encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``."""
    return f"tile/entries/{_encode_index(index)}{_suffix(width)}"


_PATH = re.compile(
    r"tile/(?P<level>entries|0|[1-9][0-9]?)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


@dataclass(frozen=True, slots=True)
class TilePath:
    """A parsed tile path; ``level`` is ``None`` for an entry bundle."""

    level: int | None
    index: int
    width: int

    @classmethod
    def parse(cls, path: str) -> TilePath:
        """Parse a canonical tile path; raises :class:`InvalidInputError` otherwise."""
        match = _PATH.fullmatch(path)
        if match is None:
            raise InvalidInputError(f"{path!r} is not a tlog-tiles path")
        level = None if match["level"] == "entries" else int(match["level"])
        index = int(match["index"].replace("x", "").replace("/", ""))
        width = int(match["width"]) if match["width"] else TILE_WIDTH
        parsed = cls(level, index, width)
        if str(parsed) != path:  # rejects non-canonical forms: x000 prefixes, .p/256, level 64
            raise InvalidInputError(f"{path!r} is not a canonical tlog-tiles path")
        return parsed

    def __str__(self) -> str:
        if self.level is None:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)


# --- entry bundles ---------------------------------------------------------------------


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as one bundle; raises :class:`InvalidInputError` for an entry over 65535 bytes."""
    parts: list[bytes] = []
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise InvalidInputError(f"entry {i} is {len(entry)} bytes; at most {MAX_ENTRY_SIZE}")
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
    return b"".join(parts)


def _decode_prefix(blob: bytes) -> tuple[list[bytes], bool]:
    """The whole entries at the start of ``blob``, and whether nothing was left over."""
    entries: list[bytes] = []
    append = entries.append
    pos, size = 0, len(blob)
    while pos + 2 <= size:
        start = pos + 2
        # The big-endian length read byte by byte: twice as fast as int.from_bytes of a
        # slice, which matters to whoever decodes a million entries (the verifiers).
        end = start + (blob[pos] << 8 | blob[pos + 1])
        if end > size:
            break
        append(blob[start:end])
        pos = end
    return entries, pos == size


def decode_entry_bundle(blob: bytes) -> list[bytes]:
    """The entries of a bundle; raises :class:`InvalidInputError` if it is truncated."""
    entries, complete = _decode_prefix(blob)
    if not complete:
        raise InvalidInputError(f"entry bundle is truncated after {len(entries)} entries")
    return entries


# --- export ----------------------------------------------------------------------------


def _hash_tiles(size: int) -> Iterator[tuple[int, int, int]]:
    """``(level, index, width)`` of every hash tile a tree of ``size`` leaves publishes."""
    level = 0
    while (count := size >> (TILE_HEIGHT * level)) > 0:
        for index in range(count // TILE_WIDTH):
            yield level, index, TILE_WIDTH
        if count % TILE_WIDTH:
            yield level, count // TILE_WIDTH, count % TILE_WIDTH
        level += 1


def export_tiles(
    directory: Path,
    *,
    source: HashSource,
    entries: Iterable[bytes],
    signed_checkpoint: str,
    verifier: NoteVerifier,
) -> Checkpoint:
    """Write the log of ``signed_checkpoint`` to ``directory`` as tlog-tiles.

    The checkpoint must verify with ``verifier`` and its root must be the root
    of ``source`` at its size, and ``entries`` must hold at least that many
    entries (later ones are ignored): otherwise :class:`LedgerIntegrityError`
    (or :class:`InvalidInputError` for an entry over 65535 bytes), and nothing
    is published as ``checkpoint``. Tiles are written first and the checkpoint
    last, so a reader never sees a checkpoint whose tiles are missing.
    """
    checkpoint = open_checkpoint(signed_checkpoint, verifier)
    size = checkpoint.size
    if TiledTree(source).root(size) != checkpoint.root_hash:
        raise LedgerIntegrityError("the checkpoint's root is not the stored tree's root")

    # Tiles and entries are forced to disk before the checkpoint that refers to them is
    # written: after a crash, a reader never finds a checkpoint whose tiles are missing.
    with files.writing_many() as batch:
        for level, index, width in _hash_tiles(size):
            batch.write(
                directory / tile_path(level, index, width), source.read_tile(level, index, width)
            )

        bundle: list[bytes] = []
        written = 0
        for entry in entries:
            if written + len(bundle) == size:
                break
            bundle.append(entry)
            if len(bundle) == TILE_WIDTH:
                path = entries_path(written // TILE_WIDTH)
                batch.write(directory / path, encode_entry_bundle(bundle))
                written += TILE_WIDTH
                bundle = []
        if bundle:
            path = entries_path(written // TILE_WIDTH, len(bundle))
            batch.write(directory / path, encode_entry_bundle(bundle))
            written += len(bundle)
        if written != size:
            raise LedgerIntegrityError(
                f"the checkpoint has {size} entries but only {written} exist"
            )

    files.write_file(directory / _CHECKPOINT, signed_checkpoint.encode())
    return checkpoint


# --- reading back ----------------------------------------------------------------------


def _read_tile_file(directory: Path, full: str, partial: str) -> bytes | None:
    """A partial tile's bytes from its ``.p/<W>`` file, or else from the full tile.

    tlog-tiles lets a client use the full tile in place of a partial one.
    """
    for relative in (partial, full) if partial != full else (full,):
        try:
            return (directory / relative).read_bytes()
        except FileNotFoundError:
            continue
    return None


@dataclass(frozen=True, slots=True)
class TileDirSource:
    """A :class:`HashSource` over an exported tiles directory."""

    directory: Path

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        blob = _read_tile_file(
            self.directory, tile_path(level, index), tile_path(level, index, width)
        )
        need = width * HASH_SIZE
        if blob is None or len(blob) < need:
            raise LedgerIntegrityError(f"{tile_path(level, index, width)} is missing or short")
        return blob[:need]


def read_entries(directory: Path, size: int) -> Iterator[bytes]:
    """The first ``size`` entries of an exported directory, as the bundles hold them.

    Stops early, without raising, at a missing or truncated bundle; a bundle
    holding the wrong number of entries is yielded as it is. Callers compare
    what they get against hashes (see :func:`verify_tile_dir`).
    """
    for index in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        blob = _read_tile_file(directory, entries_path(index), entries_path(index, width))
        if blob is None:
            return
        entries, complete = _decode_prefix(blob)
        yield from entries
        if not complete:
            return


def verify_tile_dir(directory: Path, verifier: NoteVerifier) -> Checkpoint:
    """Verify an exported directory against its checkpoint and return the checkpoint.

    Checks the checkpoint's signature, recomputes every leaf hash from the entry
    bundles and the whole tree from them, and compares every hash tile and the
    root. Raises :class:`LedgerIntegrityError` for a missing or badly signed
    checkpoint, and :class:`~brightline.ledger.audit.TamperedLogError` naming the
    first bad index when an entry or tile was altered, removed, reordered or
    inserted.
    """
    try:
        note = (directory / _CHECKPOINT).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError) as exc:
        raise LedgerIntegrityError(f"{directory / _CHECKPOINT} is missing or not UTF-8") from exc
    checkpoint = open_checkpoint(note, verifier)
    leaf_hashes = (leaf_hash(entry) for entry in read_entries(directory, checkpoint.size))
    audit_tiles(
        TileDirSource(directory),
        size=checkpoint.size,
        leaf_hashes=leaf_hashes,
        root=checkpoint.root_hash,
    )
    return checkpoint
