"""docs/lifecycle.md runs as written: its ``sh`` blocks, extracted as printed and run in
order (each in a shell of its own, as a reader pastes them), on an empty SQLite store and
a fresh data directory, end with the case's restriction lifted on appeal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import brightline

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "lifecycle.md"


def blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)


def test_the_page_has_the_blocks_this_test_runs() -> None:
    found = blocks()
    assert len(found) == 2
    assert found[0].startswith("brightline bootstrap ")  # from an empty store
    assert "restrict show r-0201" in found[-1]


def test_the_lifecycle_page_runs_as_written_from_an_empty_store(tmp_path: Path) -> None:
    source = Path(brightline.__file__).resolve().parents[1]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "brightline"
    shim.write_text(
        "#!/bin/sh\n"
        f'PYTHONPATH="{source}" exec "{sys.executable}" '
        '-c "from brightline.cli import main; main()" "$@"\n'
    )
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "COLUMNS": "200",
        "BRIGHTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'brightline.db'}",
        "BRIGHTLINE_DATA_DIR": str(tmp_path / "brightline-data"),
    }
    out = ""
    for number, block in enumerate(blocks()):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-x"],
            input=block,
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"block {number}:\n{done.stdout}\n{done.stderr}"
        out = done.stdout
    assert "r-0201" in out
    assert "lifted" in out
