"""What an outsider gets from the published tiles, decoded from the C2SP specs alone.

The decoder (the first half of this file) uses the Python standard library and nothing of
Brightline: it reads a tiles directory as C2SP tlog-tiles describes it (``checkpoint``, a
C2SP signed note; ``tile/<L>/<N>`` hash tiles; ``tile/entries/<N>`` entry bundles of
big-endian uint16 length-prefixed entries; ``.p/<W>`` for a partial tile), hashes the
entries as RFC 9162 leaves, rebuilds the tree and checks it against the hash tiles and
the checkpoint's root. Brightline only produces the log (the disclosure scenario, every
event type at least once) in the second half.

What the tiles must not give away: anything about a case, a signal or a report beyond
its type, its day and its commitment; a time finer than a UTC midnight; the id an
operator gave a restriction.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# -- the decoder: standard library only ---------------------------------------------------

TILE_WIDTH = 256
HASH_SIZE = 32


def tile_index_path(n: int) -> str:
    """C2SP tlog-tiles: N as 3-digit path elements, every one but the last with an x."""
    digits = f"{n:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def read_tile(directory: Path, kind: str, n: int, width: int) -> bytes:
    """A tile of ``width`` items: the partial ``.p/<W>`` file or, as the spec allows, the
    full tile in its place."""
    full = directory / "tile" / kind / tile_index_path(n)
    candidates = [full] if width == TILE_WIDTH else [Path(f"{full}.p") / str(width), full]
    for path in candidates:
        if path.is_file():
            return path.read_bytes()
    raise AssertionError(f"tile {kind}/{n} of width {width} is missing")


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """C2SP signed note with a tlog checkpoint body: origin, size, base64 root hash, then
    optional extension lines, a blank line and the signatures."""
    body, separator, _signatures = text.partition("\n\n")
    assert separator, "a signed note has a blank line before its signatures"
    lines = body.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    assert len(root) == HASH_SIZE
    return origin, size, root


def decode_bundle(blob: bytes) -> list[bytes]:
    entries = []
    offset = 0
    while offset < len(blob):
        length = int.from_bytes(blob[offset : offset + 2], "big")
        entries.append(blob[offset + 2 : offset + 2 + length])
        offset += 2 + length
    assert offset == len(blob), "an entry bundle ends inside an entry"
    return entries


def leaf(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of a leaf."""
    return hashlib.sha256(b"\x00" + entry).digest()


def tree_root(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1: MTH over leaf hashes, split at the largest power of two below n."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + tree_root(hashes[:k]) + tree_root(hashes[k:])).digest()


def decode_tiles(directory: Path) -> list[bytes]:
    """Every entry of the log, checked against the level-0 hash tiles and the root."""
    _, size, root = parse_checkpoint((directory / "checkpoint").read_text(encoding="utf-8"))
    entries: list[bytes] = []
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - n * TILE_WIDTH)
        bundle = decode_bundle(read_tile(directory, "entries", n, width))
        assert len(bundle) == width, f"entry bundle {n} holds {len(bundle)} entries"
        hashes = read_tile(directory, "0", n, width)[: width * HASH_SIZE]
        for i, entry in enumerate(bundle):
            assert leaf(entry) == hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE], n * TILE_WIDTH + i
        entries += bundle
    assert tree_root([leaf(e) for e in entries]) == root, "the entries do not give the root"
    return entries


# -- the log: made by Brightline -------------------------------------------------------------


def _produce(tmp_path: Path) -> tuple[Path, list[str]]:
    """The disclosure scenario, synced after every step as the command line does, exported
    as tiles; returns the tiles directory and the store's restriction ids."""
    from pydantic import SecretStr

    from brightline.config import Settings
    from brightline.service.ledger import LedgerKeys, export_tiles_dir, keygen, sync
    from brightline.store import open_store, restriction_ids
    from disclosure_scenario import every_event

    settings = Settings(
        database_url=SecretStr(f"sqlite:///{tmp_path / 'brightline.db'}"),
        data_dir=tmp_path / "data",
    )
    keygen(settings, name="brightline.test/log")
    tiles = tmp_path / "tiles"
    with open_store(settings) as store:
        for _ in every_event(store, settings, tmp_path):
            sync(settings, store)
        export_tiles_dir(store, tiles, LedgerKeys.of(settings).verifier())
        with store.read() as session:
            ids = list(restriction_ids(session))
    return tiles, ids


ENFORCEMENT = {
    "restriction.approved",
    "restriction.promotion-approved",
    "restriction.lift-approved",
}
MIDNIGHT = re.compile(r"\d{4}-\d{2}-\d{2}T00:00:00Z")


def test_the_decoder_uses_nothing_but_the_standard_library() -> None:
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported == {
        "__future__",
        "ast",
        "base64",
        "hashlib",
        "json",
        "re",
        "datetime",
        "pathlib",
        "typing",
    }


def test_the_public_tiles_say_nothing_about_investigations_and_no_time_or_id(
    tmp_path: Path,
) -> None:
    tiles, restriction_ids = _produce(tmp_path)
    forms: list[dict[str, Any]] = [json.loads(entry) for entry in decode_tiles(tiles)]
    types = {form["type"] for form in forms}
    # The story wrote reports (signals from people), alerts, every case move and more.
    assert "signal.received" in types
    assert {t for t in types if t.startswith("case.")} >= {"case.opened", "case.closed"}
    assert types & ENFORCEMENT == ENFORCEMENT

    for form in forms:
        assert set(form) == {"v", "type", "time", "commitment", "public"}, form
        assert re.fullmatch(r"[0-9a-f]{64}", form["commitment"])
        # Every time is a UTC midnight.
        assert MIDNIGHT.fullmatch(form["time"]), form
        at = datetime.fromisoformat(form["time"].replace("Z", "+00:00"))
        assert at.utcoffset() == UTC.utcoffset(None)
        assert (at.hour, at.minute, at.second, at.microsecond) == (0, 0, 0, 0)
        if form["type"] in ENFORCEMENT:
            assert re.fullmatch(r"R-[1-9][0-9]*", form["public"]["restriction"]), form
            assert "case" not in form["public"]
        elif form["type"] == "bundle.issued":
            # A policy bundle handed to the enforcement points: two SHA-256 hashes.
            assert set(form["public"]) == {"version", "digest"}, form
            assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in form["public"].values())
        else:
            # Cases, signals (reports from people and detectors alike), proposals,
            # principals, world imports: type, day and commitment only.
            assert form["public"] == {}, form

    # No restriction id of the store anywhere in the published files.
    assert restriction_ids
    published = b"".join(p.read_bytes() for p in sorted(tiles.rglob("*")) if p.is_file())
    for rid in restriction_ids:
        assert rid.encode() not in published, rid
