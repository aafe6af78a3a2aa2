"""Benchmark: the detection pack's precision and recall per scenario family (issue 18).

    .venv/bin/python bench/detection_quality.py                 # seeds 1-5
    .venv/bin/python bench/detection_quality.py --seeds 1 2 3 --background 400

Each seed is one world holding a customer of every family (``brightline.synth.scenarios``:
planted patterns, look-alikes, evasion of a restriction in force) and ordinary customers;
the built-in pack runs at its defaults on DuckDB. Floors: recall >= 0.9 overall and >= 0.8
in every planted family; no alert on any look-alike; the alert names the planted node in
>= 90% of detected cases.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from brightline.service.detection_quality import Quality, measure_quality


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(quality: Quality) -> Table:
    out = Table(title="mass-surveillance pack, defaults")
    for column in (
        "family",
        "kind",
        "scenarios",
        "recall",
        "alerts",
        "false",
        "precision",
        "named planted node",
        "named instead",
    ):
        out.add_column(column)
    for f in quality.families:
        instead = sorted(
            {f"{named} (seed {seed})" for seed, planted, named in f.names if named != planted}
        )
        out.add_row(
            f.family,
            "planted" if f.planted else "look-alike",
            str(f.scenarios),
            _figure(f.recall),
            str(f.alerts),
            str(f.false_alerts),
            _figure(f.precision),
            f"{f.named}/{f.detected}" if f.planted else "—",
            ", ".join(instead + [f"missed (seed {s})" for s in f.missed]) or "",
        )
    recall, precision, named = quality.overall()
    out.add_row(
        "overall",
        "",
        "",
        f"{recall:.2f}",
        "",
        str(quality.background_false_alerts) + " (ordinary)",
        f"{precision:.2f}",
        f"{named:.0%}",
        "",
    )
    return out


def floors(quality: Quality) -> list[str]:
    recall, _, named = quality.overall()
    failed = []
    if recall < 0.9:
        failed.append(f"overall recall {recall:.2f} < 0.9")
    for f in quality.families:
        if f.planted and (f.recall or 0.0) < 0.8:
            failed.append(f"{f.family}: recall {_figure(f.recall)} < 0.8")
        if not f.planted and f.false_alerts:
            failed.append(f"{f.family}: {f.false_alerts} alert(s) on a look-alike")
    if named < 0.9:
        failed.append(f"named the planted node in {named:.0%} < 90%")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--background", type=int, default=100)
    args = parser.parse_args()
    console = Console()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        quality = measure_quality(Path(work), seeds=args.seeds, background=args.background)
    console.print(table(quality))
    console.print(f"{len(args.seeds)} seeds in {time.perf_counter() - start:.1f} s")
    failed = floors(quality)
    for line in failed:
        console.print(f"[bold red]floor missed:[/] {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
