"""Untrusted JSON is measured before it is parsed: size and nesting depth, without recursion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brightline.errors import InvalidInputError
from brightline.limits import MAX_DEPTH, check_json, json_depth, load_json

# Text that trips naive scanners: quotes, backslashes and brackets inside strings.
TRICKY = st.sampled_from(['a[b{\\"', '"]}', "\\", "\\\\", '\\\\"[', "é[ü", "", "x"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text() | TRICKY, inner),
    max_leaves=40,
)


def _depth(value: Any) -> int:
    """The reference: nesting of lists and dicts, walked with a stack."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            depth += 1
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
        deepest = max(deepest, depth)
    return deepest


@given(JSON_VALUES, st.booleans())
def test_json_depth_is_the_nesting_of_the_value(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth(text) == _depth(value)
    assert json_depth(text.encode()) == _depth(value)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('"[[[["', 0),  # brackets in a string
        ('["\\"[[", [1]]', 2),  # an escaped quote does not end the string
        ('["\\\\", [[]]]', 3),  # an escaped backslash does not escape the quote after it
        ('["unterminated [[[[', 1),  # the parser stops at the string too
    ],
)
def test_json_depth_reads_strings_as_the_parser_does(text: str, depth: int) -> None:
    assert json_depth(text) == depth


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_twenty_thousand_levels_are_refused_without_recursing(opening: str) -> None:
    text = opening * 20_000
    with pytest.raises(InvalidInputError) as caught:
        load_json(text, where="body")
    assert [str(p) for p in caught.value.problems] == [
        f"body: nested deeper than {MAX_DEPTH} levels"
    ]


def test_the_bound_is_inclusive_and_size_is_bounded() -> None:
    assert load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, where="x") is not None
    with pytest.raises(InvalidInputError, match="nested deeper"):
        check_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), where="x")
    with pytest.raises(InvalidInputError, match=r"^f\.json: over 10 bytes$"):
        check_json(b'["a", "bcd"]', where="f.json", max_bytes=10)
