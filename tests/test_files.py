"""Files written whole: a crash, a full disk or a read-only file system leaves every file
readable and as it was, and says which file and why in one line."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from brightline import files
from brightline.errors import StorageError
from tmpfs import PAGE, Tmpfs

NO_SPACE = "No space left on device"
READ_ONLY = "Read-only file system"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(files.PARTIAL_SUFFIX))


# -- whole files ---------------------------------------------------------------------------


def test_write_file_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    files.write_file(target, '{"a": 1}\n')
    target.chmod(0o640)
    files.write_file(target, b'{"a": 2}\n')
    assert target.read_text() == '{"a": 2}\n'
    assert target.stat().st_mode & 0o777 == 0o640
    assert leftovers(target.parent) == []


def test_an_exact_mode_is_set_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        files.write_file(tmp_path / "secret", "x", mode=0o600)
    finally:
        os.umask(old)
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


def test_a_write_that_fails_midway_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "alerts.jsonl"
    target.write_text("old\n")

    def fail_midway() -> None:
        with files.writing_text(target) as out:
            out.write("new, half\n")
            raise RuntimeError("the writer failed")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_write_new_never_replaces_a_file(tmp_path: Path) -> None:
    key = tmp_path / "log.key"
    files.write_new(key, "first\n")
    with pytest.raises(FileExistsError):
        files.write_new(key, "second\n")
    assert key.read_text() == "first\n"
    assert key.stat().st_mode & 0o777 == 0o600
    assert leftovers(tmp_path) == []


def test_a_full_disk_leaves_the_old_file_and_names_the_file_and_the_cause(
    tmpfs: Tmpfs,
) -> None:
    target = tmpfs.path / "data" / "bundle.json"
    files.write_file(target, "old")
    tmpfs.fill(leave=PAGE)  # room for some of the new file, not all of it
    with pytest.raises(StorageError) as raised:
        files.write_file(target, b"x" * (4 * PAGE))
    assert str(raised.value) == f"cannot write {target}: {NO_SPACE}"
    assert "\n" not in str(raised.value)
    assert target.read_text() == "old"
    assert leftovers(target.parent) == []
    tmpfs.unfill()
    files.write_file(target, b"x" * (4 * PAGE))
    assert target.stat().st_size == 4 * PAGE


def test_what_pyarrow_writes_fails_as_a_storage_error_naming_the_target(tmpfs: Tmpfs) -> None:
    target = tmpfs.path / "held-0.parquet"
    tmpfs.fill()
    table = pa.table({"n": list(range(100_000))})

    def write_parquet() -> None:
        with files.writing(target) as out:
            pq.write_table(table, out)

    with pytest.raises(StorageError, match=f"cannot write {target}: {NO_SPACE}$"):
        write_parquet()
    assert not target.exists()
    assert leftovers(tmpfs.path) == []


def test_a_read_only_file_system_names_the_file_and_the_cause(tmpfs: Tmpfs) -> None:
    target = tmpfs.path / "decision-log.json"
    files.write_file(target, "old")
    tmpfs.read_only()
    try:
        with pytest.raises(StorageError) as raised:
            files.write_file(target, "new")
        assert str(raised.value) == f"cannot write {target}: {READ_ONLY}"
        with pytest.raises(StorageError, match=READ_ONLY):
            files.append_record(tmpfs.path / "_manifest.jsonl", "{}")
    finally:
        tmpfs.read_write()
    assert target.read_text() == "old"


def test_the_cause_is_the_systems_words_for_the_error_number() -> None:
    pyarrows = OSError(28, "Error writing bytes to file. Detail: [errno 28] No space left")
    assert files.cause(pyarrows) == NO_SPACE
    assert files.cause(OSError("first line\nsecond")) == "first line"


def test_files_written_together_are_all_there(tmp_path: Path) -> None:
    with files.writing_many() as batch:
        for n in range(3):
            batch.write(tmp_path / "tile" / str(n), bytes([n]) * 32)
    files.write_file(tmp_path / "checkpoint", "size 3\n")
    assert sorted(p.name for p in (tmp_path / "tile").iterdir()) == ["0", "1", "2"]


def test_files_written_in_order_stop_at_the_first_that_fails(tmpfs: Tmpfs) -> None:
    bundle, mark = tmpfs.path / "bundle.json", tmpfs.path / "high-water.json"
    files.write_files([(bundle, "old bundle"), (mark, "old mark")])
    assert (bundle.read_text(), mark.read_text()) == ("old bundle", "old mark")
    tmpfs.fill(leave=2 * PAGE)  # room for the bundle, not for the mark after it
    with pytest.raises(StorageError) as raised:
        files.write_files([(bundle, "new bundle"), (mark, b"m" * (4 * PAGE))])
    assert str(raised.value) == f"cannot write {mark}: {NO_SPACE}"
    assert (bundle.read_text(), mark.read_text()) == ("new bundle", "old mark")
    assert leftovers(tmpfs.path) == []
    tmpfs.unfill()
    files.write_files([(bundle, "newer bundle"), (mark, "new mark")])
    assert (bundle.read_text(), mark.read_text()) == ("newer bundle", "new mark")


# -- record files --------------------------------------------------------------------------


def test_a_torn_tail_is_ignored_and_cut_off_by_the_next_append(tmp_path: Path) -> None:
    log = tmp_path / "_manifest.jsonl"
    files.append_record(log, json.dumps({"n": 1}))
    files.append_record(log, json.dumps({"n": 2}))
    whole = log.read_bytes()
    with log.open("r+b") as handle:  # the last record, cut in the middle
        handle.truncate(len(whole) - 5)
    assert [json.loads(line) for line in files.read_records(log)] == [{"n": 1}]
    files.append_record(log, json.dumps({"n": 3}))
    assert log.read_bytes() == b'{"n": 1}\n{"n": 3}\n'


def test_records_keep_blank_lines_so_that_numbers_are_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "suppressions.jsonl"
    log.write_bytes(b"a\n\nb\ntorn")
    assert files.read_records(log) == [b"a", b"", b"b"]
    assert files.read_records(tmp_path / "missing") == []


def test_a_record_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one line"):
        files.append_record(tmp_path / "log", "two\nlines")


def test_an_append_on_a_full_disk_takes_its_bytes_back(tmpfs: Tmpfs) -> None:
    log = tmpfs.path / "_manifest.jsonl"
    # A record file 40 bytes short of a page: the next record starts in that page and must
    # spill into a new one, which a full disk refuses after part of the line is written.
    files.append_record(log, "y" * (PAGE - 41))
    assert log.stat().st_size == PAGE - 40
    line = json.dumps({"file": "x" * 200})
    before = log.read_bytes()
    tmpfs.fill()
    with pytest.raises(StorageError) as raised:
        files.append_record(log, line)
    assert str(raised.value) == f"cannot write {log}: {NO_SPACE}"
    assert log.read_bytes() == before
    tmpfs.unfill()
    files.append_record(log, line)
    assert log.read_bytes() == before + line.encode() + b"\n"


# -- killed writers ------------------------------------------------------------------------

WRITER = """
import json, sys
from pathlib import Path
from brightline import files
root = Path(sys.argv[1])
n = 0
while True:
    n += 1
    files.write_file(root / "whole.json", json.dumps({"n": n, "pad": "x" * 50_000}))
    files.append_record(root / "records.jsonl", json.dumps({"n": n, "pad": "y" * 3_000}))
"""


def test_a_writer_killed_at_any_moment_leaves_readable_files(tmp_path: Path) -> None:
    rng = random.Random(16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    appended = 0
    for _ in range(5):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], env=env)
        time.sleep(0.4 + rng.random() * 0.4)  # imports, then a few hundred writes
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        whole = json.loads((tmp_path / "whole.json").read_text())
        records = [json.loads(line) for line in files.read_records(tmp_path / "records.jsonl")]
        assert whole["n"] >= 1
        assert [r["n"] for r in records[appended:]] == list(range(1, len(records) - appended + 1))
        appended = len(records)
    files.remove_partials(tmp_path)
    assert leftovers(tmp_path) == []
    files.append_record(tmp_path / "records.jsonl", "{}")
    assert files.read_records(tmp_path / "records.jsonl")[-1] == b"{}"
