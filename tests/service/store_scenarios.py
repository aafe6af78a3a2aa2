"""Scenario helpers for the service tests (``tests`` is on sys.path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from brightline.service import import_world
from brightline.store import Store

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
#: When the example world is imported in these tests.
T0 = datetime(2025, 9, 1, tzinfo=UTC)


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
    import_world(store, EXAMPLE, actor="setup", now=T0)
    return store
