"""A server in a process of its own, on loopback, for the tests (and benchmarks) that need a
real one: ``brightline serve``, nginx, a small upstream. Started, waited for until it
answers, and stopped whatever happens."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Container, Iterator, Mapping, Sequence
from pathlib import Path

import httpx

import brightline

#: ``brightline serve`` from the source tree under test, whatever is installed.
SERVE = (sys.executable, "-c", "from brightline.cli import main; main()", "serve")
SOURCE = str(Path(brightline.__file__).resolve().parents[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def brightline_env(variables: Mapping[str, str]) -> dict[str, str]:
    """This environment, the source tree first on the path, and ``variables``."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SOURCE, os.environ.get("PYTHONPATH", "")]),
        **variables,
    }


def answers(ready: str | httpx.Request, *, statuses: Container[int] = (200,)) -> bool:
    """Whether ``ready`` (a URL to GET, or a request) is answered with one of
    ``statuses``."""
    request = httpx.Request("GET", ready) if isinstance(ready, str) else ready
    try:
        with httpx.Client(timeout=1) as http:
            return http.send(request).status_code in statuses
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def serving(
    command: Sequence[str],
    *,
    ready: str | httpx.Request,
    statuses: Container[int] = (200,),
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (its output in ``log``) until ``ready`` (a URL or a request) is
    answered with one of ``statuses``; fail
    with the log if it exits or takes longer than ``timeout`` seconds. Terminated on
    exit (killed after 15 s)."""
    with log.open("w") as out:
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env or os.environ),
            cwd=cwd,
        )
    try:
        deadline = time.monotonic() + timeout
        while not answers(ready, statuses=statuses):
            assert process.poll() is None, f"{command[0]} exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"{command[0]} did not answer: {log.read_text()}"
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
