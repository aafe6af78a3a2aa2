"""``brightline serve`` in a process of its own, for tests that need a real server (the
test's own client would otherwise share its interpreter): on a free loopback port, the
source tree on PYTHONPATH, output to a log file, ready once ``/healthz`` answers, and
terminated (killed after 15 s) when the block ends. Built on :mod:`serving_process`,
which runs any server (nginx, an upstream) the same way."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import serving_process
from serving_process import SERVE, SOURCE, brightline_env, free_port

#: The ``brightline`` command from the source tree under test: append a subcommand.
COMMAND = list(SERVE)

__all__ = ["COMMAND", "SOURCE", "Serving", "serving"]


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
    url = f"http://127.0.0.1:{free_port()}"
    command = [*SERVE, "--port", url.rsplit(":", 1)[1], *args]
    with serving_process.serving(
        command,
        ready=f"{url}/healthz",
        log=log,
        env=brightline_env(env),
        cwd=cwd,
        timeout=ready_within,
    ) as process:
        yield Serving(process, url, log)
