"""Provider-scale benchmark (issue 20): worlds of 100k, 500k and 1.5M nodes, stage by stage.

    python bench/scale.py [--sizes 100k,500k,1.5m] [--seed 7] [--requests 200000] [--json F]

For each size it writes a seeded world into a temporary directory — about 9 nodes per
customer (the customer, two units, six subscriptions), one restriction per two customers
(about 80,000 at 1.5M nodes), the example catalog — and measures, each stage in a fresh
process so that one stage's memory does not weigh on the next:

* ``directory.jsonl``: ``load_directory`` (read, validate, build the columnar directory)
  against a bare orjson parse of the same file (one ``orjson.loads`` per line) measured
  in the same process; the ratio's floor is ≤ 3×.
* ``restrictions.yaml``: reading and validating it against the loaded world against a
  bare ``yaml.load(text, Loader=yaml.CSafeLoader)`` of the same text, same process;
  floor ≤ 1.5×.
* snapshot compile time, the RSS of the process holding the world and the snapshot,
  and single-decision p99 (floor ≤ 5 µs).

Then it prints the growth exponent of each stage between consecutive sizes
(``log(t2/t1) / log(n2/n1)``: 1 is linear). Timings are wall time, CPU time beside
them; the machine is shared, so read the ratios measured in the same process.

Stages are rows of one table (``STAGES``): further stages (``world import``, serve until
ready) are added there.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
NOW = datetime(2026, 6, 1, tzinfo=UTC)
EXAMPLE_CATALOG = Path(__file__).parents[1] / "examples" / "world" / "catalog.yaml"
SUBSCRIPTIONS_PER_CUSTOMER = 6
UNITS_PER_CUSTOMER = 2
NODES_PER_CUSTOMER = 1 + UNITS_PER_CUSTOMER + SUBSCRIPTIONS_PER_CUSTOMER


def parse_size(text: str) -> int:
    """``100k`` → 100000, ``1.5m`` → 1500000, ``2000`` → 2000."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    return round(float(number) * scale)


def size_label(nodes: int) -> str:
    if nodes >= 1_000_000:
        return f"{nodes / 1e6:g}M"
    return f"{nodes / 1e3:g}k" if nodes >= 1_000 else str(nodes)


# -- generating a world --------------------------------------------------------------------


def write_world(target: Path, nodes: int, seed: int) -> dict[str, int]:
    """Write ``directory.jsonl``, ``catalog.yaml`` and ``restrictions.yaml`` for about
    ``nodes`` nodes; return the counts written."""
    import yaml

    rng = random.Random(seed)
    catalog = yaml.safe_load(EXAMPLE_CATALOG.read_text())
    services = [(s["id"], s["operations"]) for s in catalog["services"]]
    regions = [r["id"] for r in catalog["regions"]]
    (target / "catalog.yaml").write_text(EXAMPLE_CATALOG.read_text())
    customers = max(1, nodes // NODES_PER_CUSTOMER)
    written = 0
    restrictions: list[str] = []
    with (target / "directory.jsonl").open("w") as out:
        for c in range(customers):
            cid = f"cust-{c:07d}"
            units = [f"{cid}-u{u}" for u in range(UNITS_PER_CUSTOMER)]
            subs = [f"{cid}-s{s}" for s in range(SUBSCRIPTIONS_PER_CUSTOMER)]
            lines = [{"id": cid, "parent": None, "kind": "customer", "name": f"Customer {c}"}]
            if c % 10 == 0:
                lines[0]["attrs"] = {"country": "NL", "sector": "public"}
            lines.append({"id": units[0], "parent": cid, "kind": "unit", "name": "Operations"})
            lines.append({"id": units[1], "parent": units[0], "kind": "unit", "name": "Research"})
            for s, sid in enumerate(subs):
                parent = units[s % 2] if s % 3 else cid
                lines.append(
                    {"id": sid, "parent": parent, "kind": "subscription", "name": f"Sub {s}"}
                )
            for line in lines:
                out.write(json.dumps(line) + "\n")
            written += len(lines)
            if c % 2 == 0:
                restrictions.append(_restriction(rng, c, cid, units, subs, services, regions))
    (target / "restrictions.yaml").write_text("".join(restrictions))
    return {"nodes": written, "restrictions": len(restrictions)}


def _restriction(
    rng: random.Random,
    c: int,
    cid: str,
    units: list[str],
    subs: list[str],
    services: list[tuple[str, list[str]]],
    regions: list[str],
) -> str:
    scope = rng.choice([cid, *units])
    below = {cid: [*units, *subs], units[0]: [units[1], "-s1", "-s2", "-s4", "-s5"]}
    actions = []
    for _ in range(rng.randint(1, 3)):
        service, operations = rng.choice(services)
        kind = rng.random()
        if kind < 0.4:
            actions.append(f"{service}:{rng.choice(operations)}")
        elif kind < 0.8:
            actions.append(f"{service}:*")
        else:
            actions.append(service.split(".")[0] + ".*:*")
    text = f"- id: r-{c:07d}\n  scope: {scope}\n  actions: {json.dumps(sorted(set(actions)))}\n"
    if rng.random() < 0.5:
        text += f"  regions: [{', '.join(sorted(rng.sample(regions, rng.randint(1, 3))))}]\n"
    exemptable = [n if n.startswith(cid) else cid + n for n in below.get(scope, [])]
    if exemptable and rng.random() < 0.3:
        text += f"  exempt: [{rng.choice(exemptable)}]\n"
    if rng.random() < 0.5:
        text += f"  not_before: {NOW - timedelta(days=rng.randint(1, 300)):%Y-%m-%dT%H:%M:%SZ}\n"
    if rng.random() < 0.15:
        text += "  mode: dry-run\n"
    text += f"  reason: {{case: C-{c:07d}, policy: mass-surveillance}}\n"
    return text
