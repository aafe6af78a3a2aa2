"""The private figures' part of a report's site: the signed note, a JSON and a CSV file
per table, their member of ``report.json`` and what the page shows of them.

Everything is rendered from the signed document alone, so that a verifier who has opened
the note with the log's key renders the very same bytes.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any

from brightline.transparency.model import PublishedTable
from brightline.transparency.private_doc import NOTE_FILE, PrivateFigures
from brightline.transparency.private_figures import BINS, decimal, exact_epsilon
from brightline.transparency.site import table_csv, table_path


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def published_tables(figures: PrivateFigures | None) -> tuple[PublishedTable, ...]:
    return () if figures is None else tuple(t.published() for t in figures.tables)


def files(figures: PrivateFigures) -> dict[str, bytes]:
    out = {NOTE_FILE: figures.note.encode()}
    for table in figures.tables:
        out[table_path(table.name, "json")] = _json(table.to_json())
        out[table_path(table.name, "csv")] = table_csv(table.published())
    return out


def manifest_member(figures: PrivateFigures) -> dict[str, Any]:
    document = figures.to_json()
    return {
        "private_figures": {
            "note": NOTE_FILE,
            "release_entry": figures.release_entry,
            "inputs_log_size": figures.inputs_log_size,
            "epsilon_per_figure": figures.epsilon_per_figure,
            "figures": figures.figures,
            "release_epsilon": figures.release_epsilon,
            "budget": document["budget"],
            "mechanism": figures.mechanism,
            "tables": [
                {
                    **t.to_json(),
                    "json": table_path(t.name, "json"),
                    "csv": table_path(t.name, "csv"),
                }
                for t in figures.tables
            ],
        }
    }


def page_context(figures: PrivateFigures) -> dict[str, Any]:
    """What ``private_figures.html.j2`` shows."""
    per_figure = exact_epsilon(figures.epsilon_per_figure)
    return {
        "tables": [
            {
                "table": t.published(),
                "derived": t.derived,
                "noisy": t.noisy_figures,
                "json": table_path(t.name, "json"),
                "csv": table_path(t.name, "csv"),
            }
            for t in figures.tables
        ],
        "per_figure": decimal(per_figure),
        "count_scale": decimal(1 / per_figure),
        "median_scale": decimal(2 / per_figure),
        "figures": figures.figures,
        "release": decimal(figures.release_epsilon),
        "before": decimal(figures.budget_before),
        "after": decimal(figures.budget_after),
        "cap": decimal(figures.budget_cap),
        "earlier": [{"entry": r.entry, "epsilon": decimal(r.epsilon)} for r in figures.releases],
        "release_entry": figures.release_entry,
        "inputs_log_size": figures.inputs_log_size,
        "mechanism": figures.mechanism,
        "bins": ", ".join(str(b) for b in BINS),
        "last_bin": BINS[-2],
        "cap_days": BINS[-1],
        "note_file": NOTE_FILE,
        "odds": f"{_odds(per_figure):.2f}",
    }


def _odds(epsilon: Fraction) -> float:
    """e^ε: at most how many times likelier one event makes any value of a figure."""
    return math.exp(float(epsilon))
