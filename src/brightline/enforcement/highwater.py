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
    #: The origin (log name) of that checkpoint. A log sealed and continued by another
    #: (``brightline ledger seal-and-restart``) has another origin and key: once the
    #: client is given the new key, its checkpoints are not held to the old log's size.
    origin: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "format": HIGH_WATER_FORMAT,
            "serial": self.serial,
            "version": self.version,
            "ledger_size": None if self.ledger is None else self.ledger.size,
            "ledger_root": None if self.ledger is None else self.ledger.root.hex(),
            "ledger_origin": self.origin,
            "confirmed_at": format_time(self.confirmed_at),
        }

    def encoded(self) -> str:
        """The file's content: written whole and fsynced by the client
        (:func:`brightline.files.write_files`, with the bundle it names)."""
        return json.dumps(self.to_json(), sort_keys=True)

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
            origin = data["ledger_origin"]
            if (origin is None) != (ledger is None) or not isinstance(origin, str | None):
                raise ValueError("ledger_origin must be given with the ledger's size, as text")
            return cls(int(data["serial"]), str(data["version"]), ledger, confirmed_at, origin)
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
