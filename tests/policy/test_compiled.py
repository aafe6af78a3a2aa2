"""The compiled snapshot format: what is read back decides as what was compiled, and a
file that is not whole and undamaged is refused, never read in part."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.errors import BrightlineError
from brightline.policy import Snapshot
from brightline.policy.compiled import (
    CompiledFileError,
    open_compiled,
    snapshot_of,
    snapshot_sections,
    write_compiled,
)
from brightline.policy.decision import Decision
from brightline.service.offline import load_world_dir
from worldgen import Scenario, scenarios

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


def _file(snapshot: Snapshot, *, meta: dict[str, object] | None = None) -> bytes:
    out = io.BytesIO()
    sections = {**snapshot_sections(snapshot), "payload": b'{"kept": "as is"}'}
    write_compiled(
        out, sections, meta=meta or {"for": "test"}, hashed_elsewhere=frozenset({"payload"})
    )
    return out.getvalue()


def _reopened(snapshot: Snapshot) -> Snapshot:
    return snapshot_of(open_compiled(memoryview(_file(snapshot))))


def _outcome(snapshot: Snapshot, request: object) -> tuple[object, ...] | str:
    try:
        decision: Decision = snapshot.decide(request)  # type: ignore[arg-type]
    except BrightlineError as exc:  # unknown names: the error itself is compared
        return f"{type(exc).__name__}: {exc}"
    return (decision.effect, decision.matched, decision.would_deny, decision.version)


@settings(max_examples=150, deadline=None)
@given(scenarios(unknown=True))
def test_a_reopened_snapshot_decides_as_the_compiled_one(scenario: Scenario) -> None:
    compiled = scenario.snapshot()
    reopened = _reopened(compiled)
    assert reopened.version == compiled.version
    assert reopened.restrictions == compiled.restrictions
    assert reopened.canonical() == compiled.canonical()
    for node in compiled.world.directory.ids:
        assert [c.id for c in reopened.candidates(node)] == [
            c.id for c in compiled.candidates(node)
        ]
        assert [c.actions for c in reopened.candidates(node)] == [
            c.actions for c in compiled.candidates(node)
        ]
    for request in scenario.requests:
        assert _outcome(reopened, request) == _outcome(compiled, request)


def test_the_example_world_reopens_with_names_attributes_and_reasons() -> None:
    loaded = load_world_dir(EXAMPLE)
    compiled = loaded.snapshot()
    reopened = _reopened(compiled)
    assert reopened.version == compiled.version
    assert reopened.restrictions == compiled.restrictions  # reasons in full, case ids too
    assert reopened.canonical() == compiled.canonical()
    directory, before = reopened.world.directory, compiled.world.directory
    assert [directory[n] for n in before.ids] == [before[n] for n in before.ids]
    assert reopened.world.catalog == compiled.world.catalog
    assert reopened.notice == compiled.notice


def test_meta_and_the_section_hashed_elsewhere_are_read_back() -> None:
    compiled = load_world_dir(EXAMPLE).snapshot()
    opened = open_compiled(memoryview(_file(compiled, meta={"serial": 7})))
    assert opened.meta == {"serial": 7}
    assert bytes(opened.raw("payload")) == b'{"kept": "as is"}'


@pytest.fixture(scope="module")
def example_file() -> bytes:
    return _file(load_world_dir(EXAMPLE).snapshot())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_truncated_file_is_refused(example_file: bytes, data: st.DataObject) -> None:
    size = data.draw(st.integers(0, len(example_file) - 1))
    with pytest.raises(CompiledFileError):
        open_compiled(memoryview(example_file[:size]))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_damaged_byte_is_refused(example_file: bytes, data: st.DataObject) -> None:
    """Any byte changed, except in padding and in the section hashed elsewhere (whose
    owner checks it), makes the file refused."""
    where = data.draw(st.integers(0, len(example_file) - 1))
    damaged = bytearray(example_file)
    damaged[where] ^= 0xFF
    used = _used(example_file)
    if where not in used:
        return
    with pytest.raises(CompiledFileError):
        open_compiled(memoryview(bytes(damaged)))


def _used(content: bytes) -> set[int]:
    """Offsets of the bytes the hash or the header covers (not padding, not payload)."""
    import orjson

    size = int.from_bytes(content[8:16], "little")
    header = orjson.loads(content[16 : 16 + size])
    start = -(-(16 + size) // 64) * 64
    used = set(range(16 + size))
    for name, (offset, length, _) in header["sections"].items():
        if name != "payload":
            used.update(range(start + offset, start + offset + length))
    return used


def test_a_file_of_another_format_is_refused(example_file: bytes) -> None:
    with pytest.raises(CompiledFileError, match="magic"):
        open_compiled(memoryview(b"{}" + example_file))
    extended = example_file + b"\0" * 64
    with pytest.raises(CompiledFileError, match="extended"):
        open_compiled(memoryview(extended))
