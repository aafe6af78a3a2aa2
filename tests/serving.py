"""``brightline serve`` in a process of its own, for tests that need a real server (the
test's own client would otherwise share its interpreter), started the one way: the
source tree on PYTHONPATH, output to a log file, ready once ``/healthz`` answers, and
terminated (killed after 15 s) when the block ends."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

import brightline

SOURCE = str(Path(brightline.__file__).resolve().parents[1])
COMMAND = [sys.executable, "-c", "from brightline.cli import main; main()", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Serving:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


@contextlib.contextmanager
def serving(
    args: list[str],
    *,
    env: Mapping[str, str],
    log: Path,
    cwd: Path | None = None,
    ready_within: float = 60.0,
) -> Iterator[Serving]:
    """``brightline serve --port <free> *args`` with ``env`` over the process's own."""
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SOURCE, os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [*COMMAND, "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=cwd,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while not answers(url):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield Serving(process, url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
