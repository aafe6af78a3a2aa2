"""The suppressions file only grows, the alerts file is rewritten whole: a crash or a
full disk leaves each readable, and the next write repairs a torn suppression."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from brightline.detection import (
    Alert,
    Suppression,
    add_suppression,
    read_alerts,
    read_suppressions,
    write_alerts,
)
from brightline.errors import StorageError
from tmpfs import Tmpfs

NOW = datetime(2025, 10, 5, tzinfo=UTC)


def suppression(node: str) -> Suppression:
    return Suppression(rule="*", node=node, until=NOW, reason="known test tenant", by="ops")


def alert(n: int) -> Alert:
    return Alert(
        id=f"a-{n}",
        pack="mass-surveillance",
        policy="mass-surveillance",
        node=f"sub-{n}",
        node_kind="subscription",
        score=0.9,
        threshold=0.5,
        rules=("bulk-transcription",),
        window_start=date(2025, 10, 1),
        window_end=date(2025, 10, 2),
        values={"bulk-transcription": [{"minutes": n}]},
    )


def test_a_torn_suppression_is_ignored_and_cut_off_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "suppressions.jsonl"
    add_suppression(path, suppression("sub-1"))
    add_suppression(path, suppression("sub-2"))
    whole = path.read_bytes()
    path.write_bytes(whole[:-20])  # killed while appending sub-2
    assert [s.node for s in read_suppressions(path)] == ["sub-1"]
    add_suppression(path, suppression("sub-3"))
    assert [s.node for s in read_suppressions(path)] == ["sub-1", "sub-3"]
    assert path.read_bytes().count(b"\n") == 2


def test_alerts_that_do_not_fit_leave_the_file_as_it_was(tmpfs: Tmpfs) -> None:
    path = tmpfs.path / "alerts.jsonl"
    write_alerts(path, [alert(1)], now=NOW)
    before = path.read_bytes()
    tmpfs.fill()
    with pytest.raises(StorageError, match="No space left on device"):
        write_alerts(path, [alert(n) for n in range(200)], now=NOW)
    assert path.read_bytes() == before
    assert [a["id"] for a in read_alerts(path)] == ["a-1"]
