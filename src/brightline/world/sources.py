"""Reading YAML and JSON Lines files so that every value keeps the line it came from.

Errors in world and rule files must name the file and the line (or YAML path), so the
parsers here return, beside the plain data, a map from each value's path to its line.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from brightline.errors import InvalidInputError, Problem
from brightline.limits import MAX_DEPTH, MAX_JSON_LINE_BYTES, MAX_YAML_BYTES, check_json

PathKey = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while a loader allocates millions of objects.

    Every allocation past a threshold triggers a collection that walks the objects
    already built, so loading a big world with it running costs several times the
    work itself; the loaders make no reference cycles to collect. Process-wide, so it
    only restores collection when it was the one that paused it.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def format_path(path: Sequence[str | int]) -> str:
    """``('services', 2, 'id')`` → ``services[2].id``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True, slots=True)
class LocatedYaml:
    """A parsed YAML document and the line (1-based) of each of its values."""

    file: str
    data: Any
    lines: dict[PathKey, int]

    def where(self, path: Sequence[str | int]) -> str:
        """``file:line: path`` for a value, using the nearest located ancestor's line."""
        key = tuple(path)
        while key and key not in self.lines:
            key = key[:-1]
        line = self.lines.get(key)
        location = f"{self.file}:{line}" if line is not None else self.file
        return f"{location}: {format_path(path)}" if path else location


def read_yaml(path: Path, *, name: str | None = None) -> LocatedYaml:
    """Parse one YAML document. Malformed YAML or duplicate keys raise InvalidInputError."""
    name = name or path.name
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise InvalidInputError(Problem(name, f"over {MAX_YAML_BYTES} bytes"))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(Problem(name, f"cannot read: {exc}")) from exc
    return parse_yaml(text, name=name)


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses to compose nodes nested deeper than MAX_DEPTH.

    PyYAML's scanner and parser keep explicit stacks, but its composer recurses once per
    level: 20,000 ``[`` would exhaust the stack. Counting levels here stops it at
    MAX_DEPTH, before the recursion could get deep.
    """

    def __init__(self, text: str, *, name: str) -> None:
        super().__init__(text)
        self._name = name
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.ScalarEvent, yaml.AliasEvent):  # leaves: no deeper
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            line = int(self.current_event.start_mark.line) + 1
            raise InvalidInputError(
                Problem(f"{self._name}:{line}", f"nested deeper than {MAX_DEPTH} levels")
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_yaml(text: str, *, name: str) -> LocatedYaml:
    """Parse one YAML document of at most MAX_YAML_BYTES characters nested at most
    MAX_DEPTH levels. Malformed YAML, duplicate keys, aliases of collections and the
    bounds raise InvalidInputError located in ``name``.

    The document is parsed by libyaml (PyYAML's C parser) when it is installed and the
    document is well formed and within the depth bound; anything else — a syntax error,
    a document nested too deep — is parsed again by the pure-Python loader, whose error
    messages are the reference. Both give the same data and lines (same nodes, same
    marks, same construction): only the parser differs.
    """
    if len(text) > MAX_YAML_BYTES:
        raise InvalidInputError(Problem(name, f"over {MAX_YAML_BYTES} characters"))
    with bulk_allocation():
        fast = _parse_yaml_c(text, name=name)
        return fast if fast is not None else parse_yaml_python(text, name=name)


def parse_yaml_python(text: str, *, name: str) -> LocatedYaml:
    """:func:`parse_yaml` with the pure-Python parser only (the reference for errors)."""
    if len(text) > MAX_YAML_BYTES:
        raise InvalidInputError(Problem(name, f"over {MAX_YAML_BYTES} characters"))
    try:
        loader = _BoundedLoader(text, name=name)
    except yaml.YAMLError as exc:  # e.g. a character YAML does not allow
        raise InvalidInputError(Problem(name, f"malformed YAML: {exc}")) from exc
    try:
        return _located(loader, name)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise InvalidInputError(
            Problem(where, f"malformed YAML: {exc.problem or exc.context}")
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidInputError(Problem(name, f"malformed YAML: {exc}")) from exc
    finally:
        loader.dispose()


_COLLECTION_STARTS: Final = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_COLLECTION_ENDS: Final = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _parse_yaml_c(text: str, *, name: str) -> LocatedYaml | None:
    """The document parsed by libyaml, or None when the pure-Python loader must parse it
    (no libyaml, malformed YAML, nested deeper than MAX_DEPTH).

    libyaml's composer recurses once per level in C, so the depth is measured first on
    its event stream (an explicit stack, no recursion) before anything is composed.
    """
    loader_class = getattr(yaml, "CSafeLoader", None)
    if loader_class is None:
        return None
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader_class):
            if isinstance(event, _COLLECTION_STARTS):
                depth += 1
                if depth > MAX_DEPTH:
                    return None
            elif isinstance(event, _COLLECTION_ENDS):
                depth -= 1
        loader = loader_class(text)
    except yaml.YAMLError:
        return None
    try:
        return _located(loader, name)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def _located(loader: yaml.SafeLoader, name: str) -> LocatedYaml:
    """The loader's single document and its lines; InvalidInputError for duplicate keys
    and aliases of collections."""
    root = loader.get_single_node()
    lines: dict[PathKey, int] = {}
    problems: list[Problem] = []
    data = _build(loader, root, (), lines, problems, name, set()) if root is not None else None
    if problems:
        raise InvalidInputError(problems)
    return LocatedYaml(name, data, lines)


def _build(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: PathKey,
    lines: dict[PathKey, int],
    problems: list[Problem],
    name: str,
    seen: set[int],
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.CollectionNode):
        # An alias (*name) makes a collection appear twice; refused, because nested
        # aliases would make a few hundred bytes expand exponentially.
        if id(node) in seen:
            problems.append(
                Problem(
                    f"{name}:{node.start_mark.line + 1}: {format_path(path)}",
                    "YAML aliases (*name) of mappings or lists are not allowed; write it out",
                )
            )
            return None
        seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STR_TAG and type(key_node) is yaml.ScalarNode:
                key = key_node.value  # most keys: skip the constructor's dispatch
            else:
                key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                problems.append(
                    Problem(
                        f"{name}:{key_node.start_mark.line + 1}", "mapping keys must be scalars"
                    )
                )
                continue
            if key in out:
                problems.append(
                    Problem(
                        f"{name}:{key_node.start_mark.line + 1}: {format_path((*path, str(key)))}",
                        f"duplicate key {key!r}",
                    )
                )
                continue
            child = (*path, key if isinstance(key, str) else str(key))
            if value_node.tag == _STR_TAG and type(value_node) is yaml.ScalarNode:
                lines[child] = value_node.start_mark.line + 1
                out[key] = value_node.value
            else:
                out[key] = _build(loader, value_node, child, lines, problems, name, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, i), lines, problems, name, seen)
            for i, item in enumerate(node.value)
        ]
    if node.tag == _STR_TAG:  # most scalars: skip the constructor's dispatch
        return node.value
    return loader.construct_object(node, deep=True)


_STR_TAG: Final = "tag:yaml.org,2002:str"


def read_json_lines(path: Path, *, name: str | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each non-blank line.

    A malformed line (or one over MAX_JSON_LINE_BYTES characters or nested deeper than
    MAX_DEPTH) raises InvalidInputError only after the whole file was read, with every
    such line named, so that a validation run reports them all at once.
    """
    name = name or path.name
    problems: list[Problem] = []
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(Problem(name, f"cannot read: {exc}")) from exc
    with handle:
        try:
            for number, line in enumerate(_bounded_lines(handle), start=1):
                value = json_line(line, f"{name}:{number}", problems)
                if value is not NOT_A_VALUE:
                    yield number, value
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, f"not UTF-8 text: {exc}"))
    if problems:
        raise InvalidInputError(problems)


#: What :func:`json_line` returns for a blank line or one with a problem.
NOT_A_VALUE: Final = object()


def json_line(line: str | None, where: str, problems: list[Problem]) -> Any:
    """The value of one line of a JSON Lines file as read from it (its newline
    included), or NOT_A_VALUE for a blank line or, with a problem appended, a line that
    is over MAX_JSON_LINE_BYTES characters (None), nested too deep or not JSON."""
    if line is None:
        problems.append(Problem(where, f"over {MAX_JSON_LINE_BYTES} characters"))
        return NOT_A_VALUE
    if not line.strip():
        return NOT_A_VALUE
    try:
        check_json(line, where=where, max_bytes=MAX_JSON_LINE_BYTES)
        return json.loads(line)
    except InvalidInputError as exc:
        problems.extend(exc.problems)
    except json.JSONDecodeError as exc:
        problems.append(Problem(where, f"malformed JSON: {exc.msg} (column {exc.colno})"))
    return NOT_A_VALUE


@dataclass(slots=True)
class JsonLines:
    """Consecutive lines of a JSON Lines file parsed in bulk: the value of each
    non-blank line that orjson parsed, and the lines it did not, parsed again the
    precise way (:func:`json_line`).

    ``problems`` are the lines that are not values, as :func:`read_json_lines` names
    them, in line order, each with its line number. :meth:`recheck` parses one line
    the precise way again, for a value that failed validation: a line nested deeper
    than MAX_DEPTH is refused for that before any of its fields is looked at.
    """

    name: str
    first: int  # the line number of lines[0]
    lines: list[bytes]
    ends_with_newline: bool  # whether the last of ``lines`` ended with one
    numbers: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    problems: list[tuple[int, Problem]] = field(default_factory=list)

    def recheck(self, number: int, problems: list[Problem]) -> Any:
        """Line ``number`` parsed as :func:`read_json_lines` parses it (NOT_A_VALUE,
        with a problem appended, when it is not a value)."""
        at = number - self.first
        newline = at < len(self.lines) - 1 or self.ends_with_newline
        text = self.lines[at].decode("utf-8") + ("\n" if newline else "")
        if len(text.rstrip("\n")) > MAX_JSON_LINE_BYTES:
            return json_line(None, f"{self.name}:{number}", problems)
        return json_line(text, f"{self.name}:{number}", problems)


class NotInBulkError(Exception):
    """The file must be read line by line by :func:`read_json_lines`: a carriage return
    ends a line on its own (text mode splits there), or a line is not UTF-8 (reading
    stops there), or orjson is not installed; or a value is of a kind the bulk checks
    leave to the precise loader (a node's parent that is neither a node nor an id)."""


#: Bytes read at a time by :func:`read_json_lines_bulk` (then cut after the last newline).
BULK_BLOCK_BYTES: Final = 4 * 1024 * 1024


def read_json_lines_bulk(path: Path, *, name: str | None = None) -> Iterator[JsonLines]:
    """The file's lines a block at a time, each line parsed by orjson (one call a
    line), the lines it refuses (and only those) parsed again by :func:`json_line` for
    their exact problem. Raises NotInBulkError, possibly after some blocks, when the
    file must be read by :func:`read_json_lines` instead."""
    try:
        import orjson
    except ImportError as exc:  # pragma: no cover - orjson is a dependency
        raise NotInBulkError("orjson is not installed") from exc
    name = name or path.name
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidInputError(Problem(name, f"cannot read: {exc}")) from exc
    number = 1
    with handle:
        rest = b""
        while True:
            try:
                block = handle.read(BULK_BLOCK_BYTES)
            except OSError as exc:
                raise InvalidInputError(Problem(name, f"cannot read: {exc}")) from exc
            data = rest + block
            if block:
                cut = data.rfind(b"\n") + 1
                if not cut:  # no end of line yet: read on
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            elif not data:
                return
            chunk = _parsed_lines(name, number, data, orjson.loads)
            number += len(chunk.lines)
            yield chunk
            if not block:
                return


def _parsed_lines(name: str, first: int, data: bytes, loads: Any) -> JsonLines:
    carriage_returns = data.count(b"\r")
    if carriage_returns:
        if carriage_returns != data.count(b"\r\n"):
            raise NotInBulkError("a carriage return ends a line on its own")
        data = data.replace(b"\r\n", b"\n")
    lines = data.split(b"\n")
    ends_with_newline = data.endswith(b"\n")
    if ends_with_newline:
        lines.pop()  # the empty piece after the newline that ends the last line
    chunk = JsonLines(name, first, lines, ends_with_newline)
    try:
        if max(map(len, lines), default=0) > MAX_JSON_LINE_BYTES:
            raise ValueError("a long line")
        chunk.values = [loads(line) for line in lines]  # blank lines are refused too
        chunk.numbers = list(range(first, first + len(lines)))
        return chunk
    except ValueError:  # orjson.JSONDecodeError is one
        pass
    numbers, values = chunk.numbers, chunk.values
    for number, line in enumerate(lines, start=first):
        try:
            if len(line) <= MAX_JSON_LINE_BYTES:
                values.append(loads(line))
                numbers.append(number)
                continue
        except ValueError:
            pass
        problems: list[Problem] = []
        try:
            value = chunk.recheck(number, problems)
        except UnicodeDecodeError as exc:
            raise NotInBulkError("a line is not UTF-8") from exc
        chunk.problems.extend((number, problem) for problem in problems)
        if value is not NOT_A_VALUE:
            values.append(value)
            numbers.append(number)
    return chunk


def _bounded_lines(handle: TextIO) -> Iterator[str | None]:
    """The lines of ``handle``, None for each one over MAX_JSON_LINE_BYTES characters
    (skipped without holding it in memory)."""
    while line := handle.readline(MAX_JSON_LINE_BYTES + 1):
        if len(line.rstrip("\n")) <= MAX_JSON_LINE_BYTES:
            yield line
            continue
        while line and not line.endswith("\n"):
            line = handle.readline(MAX_JSON_LINE_BYTES + 1)
        yield None


def pydantic_problems(exc: ValidationError, where: Any) -> list[Problem]:
    """Turn a pydantic error into Problems; ``where(loc)`` locates a field path."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if isinstance(p, str | int))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(Problem(where(loc), message))
    return problems


def validate_model(model: type[_M], data: Any, where: Any, problems: list[Problem]) -> _M | None:
    """Validate ``data`` as ``model``; on failure append located problems and return None."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, where))
        return None
