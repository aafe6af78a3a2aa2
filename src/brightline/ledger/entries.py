"""Ledger entries: a public form that is logged, and a private record that is not.

Every state change becomes one entry. Its *private record* (who, what, why — names,
case ids, reporter details) stays in the store. The *public form*, which is what the
Merkle log commits to and what tiles publish, carries only the event type, the time,
fields that are safe to publish (chosen per event type by the caller, e.g. a
restriction's policy and service tags) and a *commitment*:

    commitment = SHA-256( salt ‖ canonical(private record) )

with a fresh 32-byte random salt per entry. The salt makes the commitment hiding (no
one can confirm a guessed record without it); the hash makes it binding (the provider
cannot later show a different record). An auditor given a record and its salt checks
it against the public log with :func:`check_disclosure` and an inclusion proof.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from brightline.errors import InvalidInputError
from brightline.limits import load_json

PUBLIC_FORM_VERSION: Final = 1
SALT_SIZE: Final = 32
#: C2SP entry bundles store each entry's length in two bytes.
MAX_ENTRY_SIZE: Final = 65_535


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8; the bytes that get hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def commitment(salt: bytes, record: Mapping[str, Any]) -> bytes:
    if len(salt) != SALT_SIZE:
        raise InvalidInputError(f"salt must be {SALT_SIZE} bytes")
    return hashlib.sha256(salt + canonical_json(dict(record))).digest()


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One entry: its public form is the logged leaf data; ``record`` and ``salt`` stay private."""

    event_type: str
    time: str
    record: Mapping[str, Any]
    salt: bytes
    disclosed: Mapping[str, Any]

    @classmethod
    def seal(
        cls,
        *,
        event_type: str,
        time: str,
        record: Mapping[str, Any],
        disclosed: Mapping[str, Any] | None = None,
        salt: bytes | None = None,
    ) -> LedgerEntry:
        """Build an entry with a fresh random salt (or a given one, for tests and replays)."""
        entry = cls(
            event_type=event_type,
            time=time,
            record=dict(record),
            salt=secrets.token_bytes(SALT_SIZE) if salt is None else salt,
            disclosed=dict(disclosed or {}),
        )
        if len(entry.public_bytes()) > MAX_ENTRY_SIZE:
            raise InvalidInputError(
                f"public form of a {event_type} entry exceeds {MAX_ENTRY_SIZE} bytes"
            )
        return entry

    @property
    def commitment(self) -> bytes:
        return commitment(self.salt, self.record)

    def public_form(self) -> dict[str, Any]:
        return {
            "v": PUBLIC_FORM_VERSION,
            "type": self.event_type,
            "time": self.time,
            "commitment": self.commitment.hex(),
            "public": dict(self.disclosed),
        }

    def public_bytes(self) -> bytes:
        """The leaf data logged in the Merkle tree (RFC 9162 hashes it with a 0x00 prefix)."""
        return canonical_json(self.public_form())


def parse_public_form(data: bytes) -> dict[str, Any]:
    """Parse a logged entry; raises InvalidInputError if it is not a public form."""
    try:
        value = load_json(data, where="ledger entry")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"not a ledger entry: {exc}") from exc
    required = {"v", "type", "time", "commitment", "public"}
    if not isinstance(value, dict) or not required <= value.keys():
        raise InvalidInputError("not a ledger entry: missing fields")
    return value


def check_disclosure(public: bytes, record: Mapping[str, Any], salt: bytes) -> bool:
    """True when ``record`` and ``salt`` are what the logged public form commits to."""
    try:
        form = parse_public_form(public)
        expected = bytes.fromhex(str(form["commitment"]))
        return hmac.compare_digest(expected, commitment(salt, record))
    except (InvalidInputError, ValueError):
        return False
