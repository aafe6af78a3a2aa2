"""The JSON documents an importer reads, each knowing the file it came from.

Cloud CLIs print one JSON value per call. A user may give each output as a file of its
own, or append several outputs to one file (``aws … >> org.json``), or give JSON Lines
(``gcloud asset export``). :func:`read_documents` accepts all three, and every value
remembers its file (and line, when a file holds several) so that errors can name
``accounts.json: $.Accounts[3].Id``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from brightline.errors import InvalidInputError, Problem
from brightline.limits import check_json

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SourceText:
    """One input file: its name as the user gave it, and its text."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Document:
    """One JSON value read from ``name`` (starting on ``line`` when the file holds several)."""

    name: str
    data: Any
    line: int | None = None

    def where(self, path: JsonPath = ()) -> str:
        """``file: $.a[0].b`` (``file:line: $…`` for one of several values in a file)."""
        location = f"{self.name}:{self.line}" if self.line is not None else self.name
        return f"{location}: {json_path(path)}"


def json_path(path: JsonPath) -> str:
    """``('Accounts', 3, 'Id')`` → ``$.Accounts[3].Id``."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def read_documents(sources: Sequence[SourceText]) -> list[Document]:
    """Every JSON value in ``sources``, in order. Raises InvalidInputError naming every
    malformed file with its line, after reading them all."""
    documents: list[Document] = []
    problems: list[Problem] = []
    for source in sources:
        try:
            documents.extend(_values(source))
        except InvalidInputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidInputError(problems)
    if not documents:
        raise InvalidInputError(Problem(", ".join(s.name for s in sources) or "", "no input"))
    return documents


def _values(source: SourceText) -> list[Document]:
    text = source.text.removeprefix("\ufeff")  # a BOM, as some Windows tools write
    check_json(text, where=source.name)
    decoder = json.JSONDecoder()
    values: list[tuple[int, Any]] = []
    position = _skip_space(text, 0)
    while position < len(text):
        line = text.count("\n", 0, position) + 1
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                Problem(f"{source.name}:{exc.lineno}", f"malformed JSON: {exc.msg}")
            ) from exc
        values.append((line, value))
        position = _skip_space(text, end)
    if not values:
        raise InvalidInputError(Problem(source.name, "empty file"))
    if len(values) == 1:
        return [Document(source.name, values[0][1])]
    return [Document(source.name, value, line) for line, value in values]


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
