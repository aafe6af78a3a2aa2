"""Bounds on untrusted JSON and YAML, checked before they are parsed.

Python's parsers recurse once per nesting level: 20,000 ``[`` in a request field or a file
ends in a RecursionError (or, in PyYAML's composer, a deep stack) long before any
validation can refuse it. Every JSON or YAML input from outside is therefore held to a
size and a nesting depth first, and refused as :class:`InvalidInputError` naming the field
or file. The depth check here scans the text without recursing, so it cannot overflow
itself; the YAML one is in :func:`brightline.world.parse_yaml`.
"""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Any, Final

from brightline.errors import InvalidInputError, Problem

#: Deepest nesting of lists and mappings accepted in any JSON or YAML input. Brightline's
#: own formats nest five levels at most.
MAX_DEPTH: Final = 64
#: Largest YAML text: restriction files and fields, catalogs, rule packs, export maps.
MAX_YAML_BYTES: Final = 16 * 1024 * 1024
#: Largest JSON document: snapshot files, bundles, cloud organization exports, reports.
MAX_JSON_BYTES: Final = 256 * 1024 * 1024
#: Largest line of a JSON Lines file: one node or one metering record.
MAX_JSON_LINE_BYTES: Final = 1024 * 1024

#: Every byte but quotes and brackets, to delete.
_OTHER_BYTES: Final = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP: Final = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def json_depth(data: str | bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings in JSON text.

    Exact for well-formed JSON; for malformed text it may count too deep past the
    first error, never too shallow before it. Linear time, no recursion.
    """
    if _opened(data) == 0:
        return 0
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # Drop the escape pairs that involve a quote or a backslash (pairs bind left to
    # right, as replace() does): every quote left opens or closes a string. Keep only
    # quotes and brackets, and drop strings without brackets ("" pairs: removing two
    # adjacent quotes moves no bracket in or out of a string). The text outside strings
    # is then every other piece between the quotes left. An unterminated string runs to
    # the end, for the parser too, which therefore cannot go deeper after it.
    skeleton = (
        raw.replace(b"\\\\", b"")
        .replace(b'\\"', b"")
        .translate(None, _OTHER_BYTES)
        .replace(b'""', b"")
    )
    brackets = b"".join(skeleton.split(b'"')[::2]) if b'"' in skeleton else skeleton
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets)), default=0))


def _opened(data: str | bytes) -> int:
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def check_json(
    data: str | bytes,
    *,
    where: str,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_DEPTH,
) -> None:
    """Raise InvalidInputError (at ``where``) if ``data`` is over ``max_bytes`` long
    (characters, for text) or nested deeper than ``max_depth``."""
    if len(data) > max_bytes:
        unit = "characters" if isinstance(data, str) else "bytes"
        raise InvalidInputError(Problem(where, f"over {max_bytes} {unit}"))
    # Cheap first: text cannot nest deeper than the number of brackets it opens.
    if _opened(data) > max_depth and json_depth(data) > max_depth:
        raise InvalidInputError(Problem(where, f"nested deeper than {max_depth} levels"))


def load_json(
    data: str | bytes,
    *,
    where: str,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_DEPTH,
    **options: Any,
) -> Any:
    """``json.loads(data, **options)`` once :func:`check_json` passed.

    Raises InvalidInputError for the bounds; ``json.JSONDecodeError`` and
    ``UnicodeDecodeError`` (both ValueErrors) for malformed text, as ``json.loads`` does.
    """
    check_json(data, where=where, max_bytes=max_bytes, max_depth=max_depth)
    return json.loads(data, **options)


__all__ = [
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "MAX_JSON_LINE_BYTES",
    "MAX_YAML_BYTES",
    "check_json",
    "json_depth",
    "load_json",
]
