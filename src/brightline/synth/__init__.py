"""Synthetic worlds and metering for demos, tests and benchmarks (``brightline synth``).

Writes a world directory (``directory.jsonl``, ``catalog.yaml``), hourly metering in
``telemetry/metering.parquet`` with diurnal and weekly shapes, planted prohibited-use
patterns and look-alike decoys, and ``truth.json`` saying which customers are which.
Deterministic for a given seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np

from brightline import files
from brightline.synth.story import STORY_CATALOG, build_story_world
from brightline.synth.usage import plan_streams, write_usage
from brightline.synth.world import CATALOG_YAML, build_world, write_world

DEFAULT_START: Final = datetime(2025, 9, 1, tzinfo=UTC)
TRUTH_FILE: Final = "truth.json"
METERING_FILE: Final = "telemetry/metering.parquet"


@dataclass(frozen=True, slots=True)
class SynthResult:
    out: Path
    subscriptions: int
    customers: int
    rows: int
    metering: Path
    planted: tuple[str, ...]
    decoys: tuple[str, ...]


def synthesize(
    out: Path,
    *,
    subscriptions: int,
    days: int,
    seed: int,
    rows: int | None = None,
    start: datetime = DEFAULT_START,
    story: bool = False,
) -> SynthResult:
    """Write a synthetic world and its metering under ``out``. ``rows`` (about) sets the
    metering volume; by default three streams per subscription, one row per hour each.

    ``story`` writes the world of ``brightline demo`` (``brightline.synth.story``): a
    ministry whose intelligence unit is planted, and named look-alikes as decoys,
    instead of the benchmark's numbered sets of planted customers and decoys.
    """
    if subscriptions < 1 or days < 1:
        raise ValueError("subscriptions and days must be positive")
    rng = np.random.default_rng(seed)
    cast = build_story_world(subscriptions, rng) if story else build_world(subscriptions, rng)
    write_world(out, cast, catalog=STORY_CATALOG if story else CATALOG_YAML)
    streams, truth = plan_streams(cast, days=days, rows=rows, rng=rng)
    metering = out / METERING_FILE
    written = write_usage(metering, streams, cast.subscriptions, start=start, days=days, rng=rng)
    planted = tuple(str(t["customer"]) for t in truth if t["role"] == "planted")
    decoys = tuple(str(t["customer"]) for t in truth if t["role"] == "decoy")
    document = {
        "seed": seed,
        "subscriptions": subscriptions,
        "days": days,
        "start": start.isoformat(),
        "rows": written,
        "planted": [t for t in truth if t["role"] == "planted"],
        "decoys": [t for t in truth if t["role"] == "decoy"],
    }
    files.write_file(out / TRUTH_FILE, json.dumps(document, indent=2) + "\n")
    return SynthResult(out, subscriptions, len(cast.customers), written, metering, planted, decoys)


__all__ = ["DEFAULT_START", "METERING_FILE", "TRUTH_FILE", "SynthResult", "synthesize"]
