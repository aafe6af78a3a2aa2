"""The enforcement point's high-water mark: the newest bundle and log it has accepted.

``<cache_dir>/high-water.json`` holds the serial and version of the newest bundle the
client accepted, the size and root of the ledger checkpoint that proved it, and when
the server last confirmed that bundle current. It is written whole and fsynced (file
and directory) on every install and confirmation, before the client acts on either,
so that after a crash or a kill the client never accepts anything older than what it
had already used — a validly signed old ``bundle.json`` put back in the cache
directory is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from brightline.bundle import LogState
from brightline.errors import InvalidInputError
from brightline.limits import load_json
from brightline.policy import format_time

HIGH_WATER_FILE: Final = "high-water.json"
HIGH_WATER_FORMAT: Final = "brightline.high-water/1"


@dataclass(frozen=True, slots=True)
class HighWater:
    serial: int
    version: str
    #: The checkpoint that proved the bundle; None for a bundle accepted without a proof
    #: (``accept_unlogged_bundles_unsafe``).
    ledger: LogState | None
    confirmed_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "format": HIGH_WATER_FORMAT,
            "serial": self.serial,
            "version": self.version,
            "ledger_size": None if self.ledger is None else self.ledger.size,
            "ledger_root": None if self.ledger is None else self.ledger.root.hex(),
            "confirmed_at": format_time(self.confirmed_at),
        }

    @classmethod
    def from_json(cls, data: object) -> HighWater:
        if not isinstance(data, dict) or data.get("format") != HIGH_WATER_FORMAT:
            raise InvalidInputError(f"not a {HIGH_WATER_FORMAT} file")
        try:
            size, root = data["ledger_size"], data["ledger_root"]
            ledger = None if size is None else LogState(int(size), bytes.fromhex(str(root)))
            confirmed_at = datetime.fromisoformat(str(data["confirmed_at"]))
            if confirmed_at.tzinfo is None:
                raise ValueError("confirmed_at carries no zone")
            return cls(int(data["serial"]), str(data["version"]), ledger, confirmed_at)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"malformed high-water file: {exc}") from exc


def read_high_water(path: Path) -> HighWater | None:
    """The mark in ``path``; None if there is none. InvalidInputError (or OSError) when
    the file cannot be read as one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return HighWater.from_json(load_json(data, where=str(path)))


def write_high_water(path: Path, mark: HighWater) -> None:
    write_whole(path, json.dumps(mark.to_json(), sort_keys=True).encode())


def write_whole(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old file or the new one,
    never part of either, and the new one survives once this returns: a temporary file
    in the same directory, fsynced, renamed over ``path``, then the directory fsynced
    (the rename is only durable once the directory is). The one place the client writes
    a file whole; meant to become the shared whole-file write of ``brightline.files``."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
