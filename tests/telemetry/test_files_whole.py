"""Ingest on a disk that fills, on a read-only file system, after a crash: one line naming
the file and the cause, exit code 9, the dataset and its manifest as they were, and the
next run works. On a real tmpfs (see ``tests/tmpfs.py``)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import Result
from typer.testing import CliRunner

from brightline.cli import app
from brightline.telemetry import ManifestEntry, TelemetryDataset, ingest_file
from brightline.world import World, load_world
from tmpfs import PAGE, Tmpfs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "world"
NOW = datetime(2025, 10, 5, tzinfo=UTC)
HEADER = "ts,subscription_id,service,operation,region,quantity,unit\n"
STORAGE_EXIT = 9
NO_SPACE = "No space left on device"
READ_ONLY = "Read-only file system"


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(EXAMPLES)


def usage_file(path: Path, *, rows: int, seed: int, bad_every: int = 0) -> Path:
    """Valid metering rows (distinct per seed, on days of their own: a later file
    replaces the rows an earlier one stored for the same periods); every
    ``bad_every``-th row names a subscription that does not exist, to be quarantined."""
    lines = [HEADER]
    for n in range(rows):
        subscription = "sub-nope" if bad_every and n % bad_every == 0 else "sub-hq-mail"
        lines.append(
            f"2025-10-{3 * seed + 1 + n % 3:02d}T{n % 24:02d}:00:00Z,{subscription},"
            f"storage.blob,read,westeurope,{seed}.{n},requests\n"
        )
    path.write_text("".join(lines))
    return path


def ingest(data_dir: Path, *paths: Path) -> Result:
    runner = CliRunner(env={"BRIGHTLINE_DATA_DIR": str(data_dir)})
    return runner.invoke(app, ["telemetry", "ingest", *map(str, paths), "--world", str(EXAMPLES)])


def stored_rows(dataset: TelemetryDataset) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in dataset.files())


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its content."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def assert_one_line_error(result: Result, *parts: str) -> None:
    assert result.exit_code == STORAGE_EXIT, (result.output, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot write "), lines[0]
    for part in parts:
        assert part in lines[0], lines[0]


def test_a_disk_that_fills_at_the_manifest_append_changes_nothing_and_the_next_run_works(
    tmpfs: Tmpfs, world: World, tmp_path: Path
) -> None:
    data = tmpfs.path / "data"
    dataset = TelemetryDataset(data / "telemetry")
    manifest = dataset.root / "_manifest.jsonl"
    first = usage_file(tmp_path / "first.csv", rows=50, seed=1)
    assert ingest(data, first).exit_code == 0
    # An earlier entry sized so that the manifest ends 100 bytes short of a page: the
    # next line (over 200 bytes) starts in that page and needs a new one.
    filler = ManifestEntry("0" * 64, "", "0" * 20, rows=1, accepted=1, quarantined=0, at="")
    overhead = len(json.dumps(filler.to_dict())) + 1
    padding = PAGE - 100 - manifest.stat().st_size - overhead
    dataset.record(dataclasses.replace(filler, file="p" * padding))
    size = manifest.stat().st_size
    assert size % PAGE == PAGE - 100, size

    # What the second file's rows take, measured on a copy of the dataset that is removed.
    second = usage_file(tmp_path / "second.csv", rows=2_000, seed=2)
    probe = TelemetryDataset(tmpfs.path / "probe")
    free = tmpfs.free()
    ingest_file(second, world, probe, now=NOW)
    # Less the probe's one-page manifest, plus the page of the rollups' pending marker,
    # which an ingest holds until its manifest entry is written: the same page.
    rows_need = free - tmpfs.free()
    shutil.rmtree(probe.root)
    assert rows_need > 0

    before = snapshot(dataset.root)
    tmpfs.fill(leave=rows_need)
    result = ingest(data, second)
    assert_one_line_error(result, str(manifest), NO_SPACE)
    assert snapshot(dataset.root) == before
    assert [e.file for e in dataset.manifest().values()] == [first.name, "p" * padding]

    tmpfs.unfill()
    again = ingest(data, second)
    assert again.exit_code == 0, (again.output, again.stderr)
    assert stored_rows(dataset) == 50 + 2_000
    assert manifest.read_bytes().endswith(b"\n")
    assert second.name in {e.file for e in dataset.manifest().values()}


def test_a_full_disk_before_ingest_changes_nothing_and_the_next_run_works(
    tmpfs: Tmpfs, tmp_path: Path
) -> None:
    data = tmpfs.path / "data"
    dataset = TelemetryDataset(data / "telemetry")
    assert ingest(data, usage_file(tmp_path / "first.csv", rows=50, seed=1)).exit_code == 0
    before = snapshot(dataset.root)
    second = usage_file(tmp_path / "second.csv", rows=2_000, seed=2, bad_every=10)
    tmpfs.fill()
    result = ingest(data, second)
    assert_one_line_error(result, str(dataset.root), NO_SPACE)
    assert snapshot(dataset.root) == before
    tmpfs.unfill()
    again = ingest(data, second)
    assert again.exit_code == 0, (again.output, again.stderr)
    assert stored_rows(dataset) == 50 + 1_800


def test_a_read_only_file_system_names_the_cause_not_the_clean_up(
    tmpfs: Tmpfs, tmp_path: Path
) -> None:
    data = tmpfs.path / "data"
    dataset = TelemetryDataset(data / "telemetry")
    assert ingest(data, usage_file(tmp_path / "first.csv", rows=50, seed=1)).exit_code == 0
    before = snapshot(dataset.root)
    second = usage_file(tmp_path / "second.csv", rows=100, seed=2, bad_every=10)
    tmpfs.read_only()
    try:
        result = ingest(data, second)
        assert_one_line_error(result, str(dataset.root), READ_ONLY)
        assert snapshot(dataset.root) == before
    finally:
        tmpfs.read_write()
    again = ingest(data, second)
    assert again.exit_code == 0, (again.output, again.stderr)
    assert stored_rows(dataset) == 50 + 90


def test_a_torn_manifest_tail_is_ignored_and_repaired_by_the_next_ingest(
    tmp_path: Path, world: World
) -> None:
    dataset = TelemetryDataset(tmp_path / "data" / "telemetry")
    manifest = dataset.root / "_manifest.jsonl"
    first, second, third = (
        usage_file(tmp_path / f"{name}.csv", rows=10, seed=seed)
        for seed, name in enumerate(["first", "second", "third"], 1)
    )
    ingest_file(first, world, dataset, now=NOW)
    ingest_file(second, world, dataset, now=NOW)
    whole = manifest.read_bytes()
    manifest.write_bytes(whole[: len(whole) - 40])  # the second entry, cut mid-way
    assert [e.file for e in dataset.manifest().values()] == [first.name]

    result = ingest(tmp_path / "data", third)
    assert result.exit_code == 0, (result.output, result.stderr)
    lines = manifest.read_bytes().splitlines(keepends=True)
    assert [json.loads(line)["file"] for line in lines] == [first.name, third.name]
    assert all(line.endswith(b"\n") for line in lines)
    # The second file's entry was lost with the tail, not its rows: ingesting it again
    # replaces its own rows instead of adding to them.
    assert not ingest_file(second, world, dataset, now=NOW).duplicate
    assert stored_rows(dataset) == 30


INGEST = "from brightline.cli import main; main()"


def wait_until_writing(dataset: TelemetryDataset, running: subprocess.Popen[bytes]) -> None:
    """Until the ingest has begun writing (imports can take seconds on a busy machine)."""
    deadline = time.monotonic() + 60
    while not (dataset.root / "_staging").exists() and running.poll() is None:
        assert time.monotonic() < deadline, "the ingest never started writing"
        time.sleep(0.01)


def test_an_ingest_killed_while_writing_leaves_a_readable_dataset(
    tmp_path: Path, world: World
) -> None:
    data = tmp_path / "data"
    dataset = TelemetryDataset(data / "telemetry")
    rows = 150_000
    big = usage_file(tmp_path / "big.csv", rows=rows, seed=3, bad_every=7)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "BRIGHTLINE_DATA_DIR": str(data),
    }
    rng = random.Random(8)
    for _ in range(2):
        command = [sys.executable, "-c", INGEST, "telemetry", "ingest", str(big)]
        running = subprocess.Popen(
            [*command, "--world", str(EXAMPLES)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_writing(dataset, running)
        time.sleep(rng.random() * 0.5)
        running.send_signal(signal.SIGKILL)
        running.wait(timeout=30)
        dataset.manifest()  # readable
        for quarantined in dataset.quarantine_dir.glob("*.jsonl"):
            for line in quarantined.read_text().splitlines():
                json.loads(line)

    result = ingest(data, big)
    assert result.exit_code == 0, (result.output, result.stderr)
    accepted = rows - len(range(0, rows, 7))
    assert stored_rows(dataset) == accepted  # once, whatever the killed runs left
    assert not (dataset.root / "_staging").exists()
    hidden = [p for p in dataset.root.rglob(".*") if p.name.endswith(".partial")]
    assert hidden == []
