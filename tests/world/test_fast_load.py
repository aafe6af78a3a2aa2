"""The fast loaders keep every problem of the precise ones, at the same file, line and field.

``load_directory`` (orjson, checks over whole columns) is compared with
``load_directory_precisely`` (``json.loads`` and ``NodeRecord`` line by line), and
``parse_yaml`` (libyaml) with ``parse_yaml_python`` (the pure-Python loader), on the
invalid inputs of the test suite, on edge cases of the formats, and on generated ones.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brightline.errors import InvalidInputError
from brightline.limits import MAX_JSON_LINE_BYTES
from brightline.policy import parse_restrictions
from brightline.world import Directory, World, load_world, sources
from brightline.world.load import load_directory, load_directory_precisely
from brightline.world.sources import parse_yaml, parse_yaml_python

TESTS = Path(__file__).parents[1]
EXAMPLE = TESTS.parent / "examples" / "world"


def outcome(load: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``("ok", value)`` or ``("problems", [each problem as printed])``."""
    try:
        return "ok", load(*args, **kwargs)
    except InvalidInputError as exc:
        return "problems", [str(p) for p in exc.problems]


def rows(directory: Directory) -> list[tuple[Any, ...]]:
    return [(n.id, n.parent, n.kind, n.name, dict(n.attrs)) for n in directory]


def assert_same_directory(path: Path) -> None:
    fast, precise = outcome(load_directory, path), outcome(load_directory_precisely, path)
    assert fast[0] == precise[0], (fast, precise)
    if fast[0] == "ok":
        assert rows(fast[1]) == rows(precise[1])
    else:
        assert fast[1] == precise[1]


def node(id: Any, parent: Any = None, kind: Any = "unit", **extra: Any) -> dict[str, Any]:
    return {"id": id, "parent": parent, "kind": kind, "name": str(id), **extra}


def dump(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# The invalid worlds of tests/world/test_world_load.py, and edge cases of JSON Lines.
DIRECTORIES: dict[str, list[Any]] = {
    "malformed line": [node("c"), "{not json", node("d", "c")],
    "every error": [
        node("c", kind="customer"),
        node("c"),
        node("orphan", "ghost"),
        node("x", "y"),
        node("y", "x"),
        node("below", "x"),
        node("bad id!", "c"),
        {"id": "z", "kind": "unit", "colour": "red"},
    ],
    "self parent": [node("a", "a")],
    "deep and huge lines": [
        node("c", kind="customer"),
        "[" * 20_000,
        json.dumps({**node("h"), "attrs": {"note": "x" * MAX_JSON_LINE_BYTES}}),
        "{",
    ],
    "nested 65 deep but JSON": [
        node("c"),
        json.dumps({**node("d", "c"), "attrs": {"a": [[[]]]}}),
        "[" * 65 + "]" * 65,
    ],
    "not objects": [node("c"), "[]", "42", '"text"', "null", "true"],
    "wrong types": [
        node("c"),
        node(7, "c"),
        node("d", 8),
        node("e", "c", kind=None),
        node("f", "c", name=None),
        {**node("g", "c"), "name": 5},
        {**node("h", "c"), "attrs": None},
        {**node("i", "c"), "attrs": []},
        {**node("j", "c"), "attrs": {"a": None}},
        {**node("k", "c"), "attrs": {"a": [1]}},
        {**node("l", "c"), "attrs": {"a": {"b": 1}}},
    ],
    "parents that are not ids": [
        node("c"),
        node("d", "bad parent!"),
        node("e", ["c"]),
        node("f", {"id": "c"}),
        node("g", ""),
        node("h", "c" * 129),
        node("i", "ghost"),
    ],
    "missing fields": [{"id": "c"}, {"kind": "unit"}, {}],
    "ids at their bounds": [node("a" * 128), node("b" * 129), node(""), node("é"), node("a\n")],
    "attributes of every type": [
        {**node("c"), "attrs": {"s": "x", "i": 3, "f": 1.5, "b": True, "z": 0, "e": 1e16}},
    ],
    "numbers orjson refuses": [
        '{"id": "c", "kind": "unit", "attrs": {"n": NaN}}',
        '{"id": "d", "kind": "unit", "attrs": {"n": 123456789012345678901234567890}}',
        '{"id": "e", "kind": "unit", "attrs": {"n": -Infinity}}',
    ],
    "lone surrogate": ['{"id": "c", "kind": "unit", "name": "\\ud800"}'],
    "duplicate keys": ['{"id": "c", "kind": "unit", "id": "d"}'],
    "blank lines": [node("c"), "", "   ", "\t", "\x0c", "\u00a0", node("d", "c")],
    "children first": [node("d", "c"), node("e", "d"), node("c", kind="customer")],
    "duplicates with attributes": [
        {**node("c"), "attrs": {"a": 1}},
        {**node("c"), "attrs": {"b": 2}},
    ],
}


@pytest.mark.parametrize("block", [32, sources.BULK_BLOCK_BYTES])
@pytest.mark.parametrize("case", sorted(DIRECTORIES))
def test_fast_directory_reports_what_the_precise_one_does(
    case: str, block: int, tmp_path: Path
) -> None:
    path = tmp_path / "directory.jsonl"
    path.write_text("\n".join(dump(line) for line in DIRECTORIES[case]) + "\n")
    with patch.object(sources, "BULK_BLOCK_BYTES", block):
        assert_same_directory(path)


@pytest.mark.parametrize(
    "data",
    [
        b'{"id": "c", "kind": "unit"}\r\n{"id": "d", "parent": "c", "kind": "unit"}\r\n',
        b'{"id": "c", "kind": "unit"}\r{"id": "d", "parent": "c", "kind": "unit"}\r',
        b'{"id": "c", "kind": "unit"}\n{"id": "d", "kind": "\xff"}\n{"id": "e", "kind": "x"}',
        b'\xef\xbb\xbf{"id": "c", "kind": "unit"}\n',
        b'{"id": "c", "kind": "unit"}',  # no final newline
        b'{"id": "c", "kind": "unit"}\n\n\n',
        b"",
        b"\n",
        b'{"id": "c", "kind": "unit", "name": "a\\u0000b"}\n',
        # exactly at the bound, and one over (with and without the final newline)
        b'{"id": "c", "kind": "unit", "name": "' + b"x" * (MAX_JSON_LINE_BYTES - 40) + b'"}\n',
        b'{"id": "c", "kind": "unit", "name": "' + b"x" * (MAX_JSON_LINE_BYTES - 40) + b'"}',
        b'{"id": "c", "kind": "unit", "name": "'
        + "é".encode() * (MAX_JSON_LINE_BYTES // 2)
        + b'"}',
    ],
)
def test_fast_directory_reads_bytes_as_text_mode_does(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "directory.jsonl"
    path.write_bytes(data)
    assert_same_directory(path)


def test_the_example_world_loads_alike() -> None:
    assert_same_directory(EXAMPLE / "directory.jsonl")


# Generated files: valid nodes, mutated (a field dropped, retyped, renamed, a parent
# pointed elsewhere) and lines that are not nodes, in any order.
IDS = ["c", "d", "e", "f", "bad id", "", "x" * 129]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(IDS),
    st.text(max_size=5),
)
NODE_VALUES = st.fixed_dictionaries(
    {"id": st.sampled_from(IDS[:4]), "kind": st.sampled_from(["unit", "customer"])},
    optional={
        "parent": st.one_of(st.none(), st.sampled_from(IDS)),
        "name": st.one_of(st.text(max_size=5), SCALARS),
        "attrs": st.one_of(
            st.dictionaries(st.text(max_size=3), SCALARS, max_size=3),
            SCALARS,
            st.lists(SCALARS, max_size=2),
        ),
        "colour": SCALARS,
    },
)
LINES = st.one_of(
    NODE_VALUES.map(lambda v: json.dumps(v, allow_nan=True)),
    st.dictionaries(st.sampled_from(["id", "kind", "parent"]), SCALARS).map(json.dumps),
    SCALARS.map(json.dumps),
    st.sampled_from(["", " ", "{", "[1,", '{"id": "c"', "[" * 70, "]"]),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(LINES, max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    block=st.sampled_from([1, 7, 64, sources.BULK_BLOCK_BYTES]),
)
def test_generated_directories_load_alike(
    lines: list[str], newline: str, block: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Read in blocks of any size: lines cut at a block's end are read whole."""
    path = tmp_path_factory.mktemp("gen") / "directory.jsonl"
    path.write_bytes(newline.join(lines).encode("utf-8", "surrogatepass"))
    with patch.object(sources, "BULK_BLOCK_BYTES", block):
        assert_same_directory(path)


# -- YAML -------------------------------------------------------------------------------


def _string_constants(module: Path) -> list[str]:
    tree = ast.parse(module.read_text())
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.strip()
    ]


#: Every string written in the test modules of restriction and world files (their YAML
#: fixtures among them), as it is and as one restriction of a list.
YAML_SOURCES = [
    TESTS / "policy" / "test_restriction_file.py",
    TESTS / "world" / "test_world_load.py",
    TESTS / "world" / "test_catalog_units.py",
]
YAML_TEXTS = sorted(
    {text for module in YAML_SOURCES for text in _string_constants(module)}
    | {
        f"- {{id: r-1, {text}}}"
        for text in _string_constants(TESTS / "policy" / "test_restriction_file.py")
        if "\n" not in text
    }
    | {
        "a: 1\na: 2\n",
        "- &x [1, 2]\n- *x\n",
        "a: &one 1\nb: *one\n",
        "[" * 64 + "x" + "]" * 64,
        "[" * 65 + "x" + "]" * 65,
        "[" * 20_000 + "x",
        "".join(" " * i + "k:\n" for i in range(65)),
        "--- 1\n--- 2\n",
        "a:\n\tb: 1\n",
        "a: \x07\n",
        "? [a, b]\n: c\n",
        "{1: a, 1.5: b, true: c, null: d}",
        "a: !!binary aGVsbG8=\n",
        "a: 2025-09-25T00:00:00Z\nb: 2025-09-25\nc: 0o17\nd: 0x1f\ne: .inf\n",
        (EXAMPLE / "restrictions.yaml").read_text(),
        (EXAMPLE / "catalog.yaml").read_text(),
    }
)


@pytest.mark.parametrize("text", YAML_TEXTS, ids=range(len(YAML_TEXTS)))
def test_libyaml_parses_as_the_python_loader_does(text: str) -> None:
    fast = outcome(parse_yaml, text, name="f.yaml")
    precise = outcome(parse_yaml_python, text, name="f.yaml")
    assert fast[0] == precise[0], (fast, precise)
    if fast[0] == "ok":
        assert (fast[1].data, fast[1].lines) == (precise[1].data, precise[1].lines)
    else:
        assert fast[1] == precise[1]


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(EXAMPLE)


@pytest.mark.parametrize("text", YAML_TEXTS, ids=range(len(YAML_TEXTS)))
def test_restrictions_report_alike_from_either_parser(text: str, world: World) -> None:
    source = outcome(parse_yaml_python, text, name="restrictions.yaml")
    if source[0] != "ok":
        return  # the parse itself is compared above
    fast = outcome(parse_restrictions, parse_yaml(text, name="restrictions.yaml"), world)
    assert fast == outcome(parse_restrictions, source[1], world)
