"""Wall and CPU time spent per stage of one piece of work (the server's refresh after a
change), for its log line and the operations figures.

CPU time is the calling thread's (``time.thread_time``): a stage runs in one thread, and
the server's other threads (long polls, decisions) are not counted in it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stages:
    """Times of named stages, in the order first entered; a stage entered again adds up."""

    def __init__(self) -> None:
        self._times: dict[str, list[float]] = {}  # name -> [wall seconds, CPU seconds]

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            spent = self._times.setdefault(name, [0.0, 0.0])
            spent[0] += time.perf_counter() - wall
            spent[1] += time.thread_time() - cpu

    def to_json(self) -> dict[str, dict[str, float]]:
        """``{stage: {"ms": wall, "cpu_ms": CPU}}``, in milliseconds to 0.1."""
        return {
            name: {"ms": round(wall * 1000, 1), "cpu_ms": round(cpu * 1000, 1)}
            for name, (wall, cpu) in self._times.items()
        }
