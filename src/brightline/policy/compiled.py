"""The compiled snapshot format (``brightline.compiled/1``): a snapshot as its arrays, so
that a server restarts by mapping a file instead of loading the world and compiling.

Layout, every integer little-endian::

    MAGIC (8 bytes) · header length (8 bytes, unsigned) · header (JSON) · padding
    section · padding · section · …

The header holds the format, the caller's ``meta`` (what the file belongs to: the
server keeps the bundle's version, serial and digest there), the file's total size,
and each section's offset, length and type: ``bytes`` or a numpy dtype. Sections start
on 64-byte boundaries, so arrays are read in place (``numpy.frombuffer``) from a
mapping of the file. The header's ``sha256`` covers the rest of the header and every
section except those it lists in ``hashed_elsewhere`` (a section the caller checks by
its own hash, such as a bundle payload whose digest the ledger holds).

Sections of a snapshot: the directory's columns (ids joined by newlines — ids never
hold one — parent positions, kind codes, the names as one text and where each ends,
attributes as JSON), the catalog and the notice as JSON, the restrictions as JSON in
full (reasons included: the file stays on the server), each restriction's action codes
(CSR), and the candidates: the distinct candidate lists (CSR) and each node's list.

:func:`open_compiled` raises :class:`CompiledFileError` for anything that is not a
whole, undamaged file of this format; it never returns part of one.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, BinaryIO, Final

import numpy as np
import orjson

from brightline.errors import BrightlineError, InvalidInputError
from brightline.policy.notice import Notice
from brightline.policy.restriction import ActionPattern, Mode, Restriction
from brightline.policy.snapshot import Snapshot
from brightline.world import Catalog, Directory, DirectoryParts, Region, Service, World

COMPILED_FORMAT: Final = "brightline.compiled/1"
MAGIC: Final = b"BLSNAP\x00\x01"
_ALIGN: Final = 64
_LENGTH: Final = 8
_BYTES: Final = "bytes"


class CompiledFileError(BrightlineError):
    """A compiled snapshot file that cannot be used as it is: truncated, damaged, of
    another format. Whoever reads one rebuilds it; none of it is used."""


Section = bytes | np.ndarray


def snapshot_sections(snapshot: Snapshot) -> dict[str, Section]:
    """The sections that :func:`snapshot_of` rebuilds ``snapshot`` from."""
    parts = snapshot.world.directory.parts()
    catalog = snapshot.world.catalog
    codes, groups, group_of = snapshot.compiled_parts()
    action_start, action_codes = _csr([sorted(c) for c in codes])
    group_start, group_members = _csr(groups)
    return {
        "ids": "\n".join(parts.ids).encode(),
        "parents": np.ascontiguousarray(parts.parents, dtype="<i4"),
        "kind_names": orjson.dumps(list(parts.kinds)),
        "kind_codes": np.ascontiguousarray(parts.kind_codes, dtype="<i4"),
        "names": parts.names.encode(),
        "name_ends": np.ascontiguousarray(parts.name_ends, dtype="<i8"),
        "attrs": orjson.dumps([[i, dict(a)] for i, a in sorted(parts.attrs.items())]),
        "catalog": orjson.dumps(
            {
                "services": [
                    [s.id, list(s.operations), sorted(s.tags), list(s.units)]
                    for s in catalog.services.values()
                ],
                "regions": [[r.id, r.country] for r in catalog.regions.values()],
                "units": list(catalog.units),
            }
        ),
        "notice": orjson.dumps(snapshot.notice.to_json()),
        "restrictions": orjson.dumps([r.canonical() for r in snapshot.restrictions]),
        "action_start": action_start,
        "action_codes": action_codes,
        "group_start": group_start,
        "group_members": group_members,
        "group_of": np.ascontiguousarray(group_of, dtype="<i4"),
        "version": snapshot.version.encode(),
    }


def _csr(rows: list[list[int]] | list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, rows), dtype="<i8", count=len(rows))
    start = np.concatenate(([0], np.cumsum(lengths))).astype("<i8")
    flat = np.fromiter((v for row in rows for v in row), dtype="<i4", count=int(start[-1]))
    return start, flat


def write_compiled(
    out: BinaryIO,
    sections: Mapping[str, Section],
    *,
    meta: Mapping[str, Any],
    hashed_elsewhere: frozenset[str] = frozenset(),
) -> None:
    """Write a compiled file of ``sections`` to ``out`` (positioned at its start)."""
    table: dict[str, list[Any]] = {}
    offset = 0
    for name, section in sections.items():
        kind = _BYTES if isinstance(section, bytes) else section.dtype.str
        table[name] = [offset, len(_raw(section)), kind]
        offset = _aligned(offset + len(_raw(section)))
    header: dict[str, Any] = {
        "format": COMPILED_FORMAT,
        "meta": dict(meta),
        "sections": table,
        "hashed_elsewhere": sorted(hashed_elsewhere),
        "body_size": offset,
    }
    digest = _covered(header)
    for name, section in sections.items():
        if name not in hashed_elsewhere:
            digest.update(_raw(section))
    header["sha256"] = digest.hexdigest()
    head = orjson.dumps(header)
    start = _aligned(len(MAGIC) + _LENGTH + len(head))
    out.write(MAGIC + len(head).to_bytes(_LENGTH, "little") + head)
    out.write(bytes(start - len(MAGIC) - _LENGTH - len(head)))
    written = 0
    for section in sections.values():
        data = _raw(section)
        out.write(data)
        written += len(data)
        padding = _aligned(written) - written
        out.write(bytes(padding))
        written += padding


def _covered(header: Mapping[str, Any]) -> Any:
    """A hash started with the header (all of it but the hash): a damaged meta or
    section table is refused as a damaged section is."""
    return hashlib.sha256(orjson.dumps(header, option=orjson.OPT_SORT_KEYS))


def _raw(section: Section) -> memoryview | bytes:
    return section if isinstance(section, bytes) else section.data.cast("B")


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


@dataclass(frozen=True, slots=True)
class CompiledFile:
    """A compiled file checked whole: its ``meta`` and its sections, read in place."""

    meta: Mapping[str, Any]
    _buffer: memoryview
    _sections: Mapping[str, tuple[int, int, str]]

    def raw(self, name: str) -> memoryview:
        offset, length, _ = self._section(name)
        return self._buffer[offset : offset + length]

    def array(self, name: str) -> np.ndarray:
        """A read-only array over the section, not a copy."""
        _, _length, kind = self._section(name)
        if kind == _BYTES:
            raise CompiledFileError(f"section {name!r} is bytes, not an array")
        return np.frombuffer(self.raw(name), dtype=np.dtype(kind))

    def json(self, name: str) -> Any:
        return orjson.loads(self.raw(name))

    def _section(self, name: str) -> tuple[int, int, str]:
        found = self._sections.get(name)
        if found is None:
            raise CompiledFileError(f"no section {name!r}")
        return found


def open_compiled(buffer: memoryview) -> CompiledFile:
    """Check ``buffer`` (a whole file, typically mapped) and give its sections;
    CompiledFileError, saying what is wrong, if it is not a whole undamaged file."""
    if len(buffer) < len(MAGIC) + _LENGTH or bytes(buffer[: len(MAGIC)]) != MAGIC:
        raise CompiledFileError(f"not a {COMPILED_FORMAT} file (no magic)")
    size = int.from_bytes(buffer[len(MAGIC) : len(MAGIC) + _LENGTH], "little")
    end = len(MAGIC) + _LENGTH + size
    if end > len(buffer):
        raise CompiledFileError("truncated in the header")
    try:
        header = orjson.loads(buffer[len(MAGIC) + _LENGTH : end])
        if header["format"] != COMPILED_FORMAT:
            raise CompiledFileError(f"format {header['format']!r}, not {COMPILED_FORMAT}")
        start = _aligned(end)
        body_size = int(header["body_size"])
        sections = {
            str(name): (start + int(offset), int(length), str(kind))
            for name, (offset, length, kind) in header["sections"].items()
        }
        skipped = frozenset(header["hashed_elsewhere"])
        meta = header["meta"]
        expected = str(header.pop("sha256"))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CompiledFileError(f"malformed header: {exc}") from exc
    if not isinstance(meta, dict):
        raise CompiledFileError("malformed header: meta is not an object")
    if start + body_size != len(buffer):
        raise CompiledFileError(
            f"{len(buffer)} bytes where the header says {start + body_size}: truncated or extended"
        )
    digest = _covered(header)
    for name, (offset, length, _) in sections.items():
        if offset + length > len(buffer):
            raise CompiledFileError(f"section {name!r} runs past the end of the file")
        if name not in skipped:
            digest.update(buffer[offset : offset + length])
    if digest.hexdigest() != expected:
        raise CompiledFileError("the header or sections do not match the file's hash (damaged)")
    return CompiledFile(MappingProxyType(meta), buffer, MappingProxyType(sections))


def snapshot_of(compiled: CompiledFile) -> Snapshot:
    """The snapshot :func:`snapshot_sections` was given, rebuilt without compiling."""
    try:
        return _snapshot_of(compiled)
    except (
        InvalidInputError,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        UnicodeDecodeError,
    ) as exc:
        # The hash matched, so the writer wrote this: another version of the format.
        raise CompiledFileError(f"sections do not form a snapshot: {exc}") from exc


def _snapshot_of(compiled: CompiledFile) -> Snapshot:
    ids = bytes(compiled.raw("ids")).decode().split("\n") if len(compiled.raw("ids")) else []
    parts = DirectoryParts(
        ids=ids,
        parents=compiled.array("parents"),
        kinds=tuple(compiled.json("kind_names")),
        kind_codes=compiled.array("kind_codes"),
        names=bytes(compiled.raw("names")).decode(),
        name_ends=compiled.array("name_ends"),
        attrs={i: MappingProxyType(a) for i, a in compiled.json("attrs")},
    )
    catalog = compiled.json("catalog")
    world = World(
        directory=Directory.from_parts(parts),
        catalog=Catalog(
            services=MappingProxyType(
                {
                    s[0]: Service(
                        id=s[0], operations=tuple(s[1]), tags=frozenset(s[2]), units=tuple(s[3])
                    )
                    for s in catalog["services"]
                }
            ),
            regions=MappingProxyType(
                {r[0]: Region(id=r[0], country=r[1]) for r in catalog["regions"]}
            ),
            units=tuple(catalog["units"]),
        ),
    )
    build = _Restrictions().build
    restrictions = [build(body) for body in compiled.json("restrictions")]
    action_start = compiled.array("action_start").tolist()
    action_codes = compiled.array("action_codes").tolist()
    shared: dict[tuple[int, ...], frozenset[int]] = {}
    codes = []
    for a, b in itertools.pairwise(action_start):
        key = tuple(action_codes[a:b])
        codes.append(shared.setdefault(key, frozenset(key)))
    group_start = compiled.array("group_start").tolist()
    members = compiled.array("group_members").tolist()
    groups = [members[a:b] for a, b in itertools.pairwise(group_start)]
    return Snapshot.from_compiled(
        world,
        restrictions,
        version=bytes(compiled.raw("version")).decode(),
        notice=Notice.from_json(compiled.json("notice"), name="compiled snapshot"),
        action_codes=codes,
        groups=groups,
        group_of=compiled.array("group_of"),
    )


class _Restrictions:
    """Restrictions from their canonical forms, written from validated ones: built
    without validating again, and sharing equal parts (action patterns, region sets,
    times), as most restrictions of a large policy repeat them. Fields are set
    through the slots' descriptors: a frozen dataclass's ``__init__`` costs ten times
    more, which at tens of thousands of restrictions is most of a restart."""

    _FIELDS: Final = tuple(
        (name, getattr(Restriction, name))
        for name in (
            "id",
            "scope",
            "actions",
            "regions",
            "exempt",
            "not_before",
            "not_after",
            "mode",
            "reason",
        )
    )

    def __init__(self) -> None:
        self._shared: dict[Any, Any] = {}

    def _share(self, key: Any, make: Any) -> Any:
        found = self._shared.get(key)
        if found is None:
            found = self._shared[key] = make()
        return found

    def build(self, body: Mapping[str, Any]) -> Restriction:
        actions = body["actions"]
        regions = body["regions"]
        values = (
            body["id"],
            body["scope"],
            tuple(map(self._action, actions)),
            None if regions is None else self._share(("r", *regions), lambda: frozenset(regions)),
            tuple(body["exempt"]),
            self._time(body["not_before"]),
            self._time(body["not_after"]),
            self._share(("m", body["mode"]), lambda: Mode(body["mode"])),
            MappingProxyType(body["reason"]),
        )
        restriction = Restriction.__new__(Restriction)
        for (_, slot), value in zip(self._FIELDS, values, strict=True):
            slot.__set__(restriction, value)
        return restriction

    def _action(self, text: str) -> ActionPattern:
        found = self._shared.get(text)
        if found is None:
            found = self._shared[text] = ActionPattern(*text.split(":", 1))
        return found

    def _time(self, text: str | None) -> datetime | None:
        if text is None:
            return None
        return self._share(("t", text), lambda: datetime.fromisoformat(text))  # type: ignore[no-any-return]
