"""A real, small file system to fill up and make read-only: a tmpfs mounted for one test.

Mounting needs root (CI runs the tests as root). Where it is not allowed, the tests that
use it are skipped, saying why. tmpfs counts space in whole pages, as ``statvfs`` reports
it, so a test can leave exactly the pages a write needs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SIZE = "2m"
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Tmpfs:
    path: Path
    fillers: list[Path] = field(default_factory=list)

    def free(self) -> int:
        """Bytes free, a whole number of pages."""
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize

    def fill(self, *, leave: int = 0) -> None:
        """Take every free byte but ``leave`` (a multiple of the page size) with a file
        outside the directories under test."""
        assert leave % PAGE == 0, leave
        filler = self.path / f"filler-{len(self.fillers)}"
        self.fillers.append(filler)
        wanted = self.free() - leave
        with filler.open("wb") as out:
            while wanted > 0:
                wanted -= out.write(b"\0" * min(wanted, 1 << 20))
        assert self.free() == leave, (self.free(), leave)

    def unfill(self) -> None:
        for filler in self.fillers:
            filler.unlink(missing_ok=True)
        self.fillers.clear()

    def read_only(self) -> None:
        _run("mount", "-o", "remount,ro", str(self.path))

    def read_write(self) -> None:
        _run("mount", "-o", "remount,rw", str(self.path))


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    """A 2 MiB tmpfs under ``tmp_path``, unmounted at the end of the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs the tests as root)")
    mountpoint = tmp_path / "tmpfs"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield Tmpfs(mountpoint)
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)
