"""Scenario helpers for the service tests (``tests`` is on sys.path)."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from brightline.access import Role
from brightline.cases import Signal, SourceKind
from brightline.service import import_world
from brightline.service.cases import open_case
from brightline.service.intake import submit_report
from brightline.store import Store
from principals import principal

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
#: When the example world is imported in these tests.
T0 = datetime(2025, 9, 1, tzinfo=UTC)


#: Who imports worlds in these tests.
SETUP = principal("setup", Role.ADMIN)
#: People who may both propose and approve, so that four eyes is what keeps each from
#: approving their own request (roles themselves are tested in service/test_access_rules).
ALICE = principal("alice", Role.INVESTIGATOR, Role.APPROVER)
BOB = principal("bob", Role.INVESTIGATOR, Role.APPROVER)
CAROL = principal("carol", Role.INVESTIGATOR, Role.APPROVER)
DAVE = principal("dave", Role.INVESTIGATOR, Role.APPROVER)


def at(hours: float) -> datetime:
    """``hours`` after T0."""
    return T0 + timedelta(hours=hours)


def restriction_yaml(
    rid: str = "r-1",
    *,
    scope: str = "unit-9900",
    mode: str = "enforce",
    extra: str = "",
) -> str:
    return (
        f"id: {rid}\nscope: {scope}\n"
        'actions: ["storage.*:*", "ai.speech:transcribe"]\n'
        f"regions: [westeurope]\nexempt: [sub-9900-rescue]\nmode: {mode}\n{extra}"
    )


def with_example_world(store: Store) -> Store:
    """The store, holding the example world imported at T0."""
    import_world(store, EXAMPLE, actor=SETUP, now=T0)
    return store


def a_case(store: Store) -> str:
    """A case on unit-9900 opened by alice from a report at T0: a restriction may name it."""
    signal = Signal(SourceKind.ANONYMOUS, ("unit-9900",), ("mass-surveillance",), "a report")
    stored = submit_report(store, signal, actor=ALICE, now=T0)
    return open_case(store, actor=ALICE, title="unit 9900", signals=[stored.ref], now=T0).id


def kill_writers_repeatedly(
    writer: Callable[[str, int, int], None],
    url: str,
    *,
    iterations: int,
    max_delay: float,
    seed: int,
) -> tuple[list[str], list[str]]:
    """Fork ``writer(url, iteration, ack_fd)`` ``iterations`` times and SIGKILL each after a
    random delay counted from its ``READY`` line; return the lines it acknowledged and
    any ``ERROR`` lines. The writer must never return; anything it raises is reported."""
    rng = random.Random(seed)
    acknowledged: list[str] = []
    errors: list[str] = []
    for iteration in range(iterations):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                writer(url, iteration, write_end)
            except BaseException as exc:  # report anything but the kill, then leave
                os.write(write_end, f"ERROR {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(1)
        os.close(write_end)
        # Start the clock once the writer is connected, so that kills land among writes.
        chunks = [os.read(read_end, 65536)]
        time.sleep(rng.uniform(0, max_delay))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
        os.close(read_end)
        for line in b"".join(chunks).decode().splitlines():
            if line.startswith("ERROR"):
                errors.append(line)
            elif line != "READY":
                acknowledged.append(line)
    return acknowledged, errors
