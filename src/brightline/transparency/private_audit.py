"""What an auditor checks of a release, given the private records: each disclosed record
against its entry's commitment (:func:`check_disclosures`), then every figure recounted
exactly (:func:`audit`): the release record against the signed document, true value plus
recorded noise against what was published, and every true value against the records of
the investigation entries it was counted from, all of which must be disclosed.

Pure: disclosures, the log's public entries and the opened document in, problems out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from brightline.errors import InvalidInputError
from brightline.ledger import check_disclosure
from brightline.transparency.investigations import (
    Key,
    PrivateRecord,
    count_investigations,
    is_investigation,
)
from brightline.transparency.model import PublicEntry, PublishedCell
from brightline.transparency.private_doc import PrivateFigures
from brightline.transparency.private_figures import (
    BINS,
    COUNT_SENSITIVITY,
    HISTOGRAM_SENSITIVITY,
    RECORD_FORMAT,
    Drawing,
    histogram,
)
from brightline.transparency.private_layout import FigureKind, Noisy, layout, noisy_figures


@dataclass(frozen=True, slots=True)
class Disclosed:
    """One disclosed entry whose record and salt match its commitment in the log."""

    index: int
    event_type: str
    record: Mapping[str, Any]


def check_disclosures(
    disclosures: Sequence[Any], entries: Sequence[PublicEntry]
) -> tuple[dict[int, Disclosed], list[str]]:
    """Each disclosure (as ``brightline ledger disclose`` prints it) checked against the
    log's entry: its record and salt must be what the entry commits to."""
    found: dict[int, Disclosed] = {}
    problems: list[str] = []
    for item in disclosures:
        index = item.get("index") if isinstance(item, Mapping) else None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(entries):
            problems.append(f"a disclosure names entry {index!r}, which is not in the log")
            continue
        record, salt = item.get("record"), item.get("salt")
        try:
            salt_bytes = bytes.fromhex(salt) if isinstance(salt, str) else b""
        except ValueError:
            salt_bytes = b""
        if not isinstance(record, Mapping) or not check_disclosure(
            entries[index].data, record, salt_bytes
        ):
            problems.append(
                f"entry {index}: the disclosed record and salt are not what the log commits to"
            )
            continue
        found[index] = Disclosed(index, entries[index].event_type, record)
    return found, problems


def audit(
    figures: PrivateFigures, disclosed: Mapping[int, Disclosed], entries: Sequence[PublicEntry]
) -> list[str]:
    """Problems found recomputing every figure of ``figures`` from disclosed records:
    the release record (entry ``figures.release_entry``), and every investigation entry
    below its inputs' log size. An empty list: every figure is exactly its true value
    plus the noise recorded before the report was written, and every true value is what
    the records give."""
    release = disclosed.get(figures.release_entry)
    if release is None:
        return [f"the release record (entry {figures.release_entry}) is not disclosed"]
    record = release.record
    problems = _record_problems(figures, record)
    if problems:
        return problems
    try:
        drawings = [Drawing.from_json(d) for d in record["figures"]]
    except InvalidInputError as exc:
        return [f"release record (entry {figures.release_entry}): {exc}"]
    problems += _drawing_problems(figures, drawings, record["figures"])
    expected = [
        e.index for e in entries[: figures.inputs_log_size] if is_investigation(e.event_type)
    ]
    missing = [i for i in expected if i not in disclosed]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        return [*problems, f"input entry {missing[0]}{more} is not disclosed: cannot recount"]
    if record["inputs"].get("entries") != len(expected):
        problems.append(
            f"the release record counts {record['inputs'].get('entries')!r} inputs, the log "
            f"has {len(expected)} investigation entries below {figures.inputs_log_size}"
        )
    exact = count_investigations(
        (PrivateRecord(i, disclosed[i].event_type, disclosed[i].record) for i in expected),
        period=figures.period,
        as_of=figures.as_of,
        policies=figures.policies,
    )
    for drawing in drawings:
        if drawing.kind is FigureKind.MEDIAN_DAYS:
            true: tuple[int, ...] = histogram(exact.durations[drawing.key])
            median = exact.median(drawing.key)
        else:
            true, median = (exact.counts[drawing.key],), None
        if drawing.true != true or drawing.true_median != median:
            problems.append(
                f"{_name(drawing.key)}: the release record says the true value was "
                f"{list(drawing.true)}, the disclosed records give {list(true)}"
            )
    return problems


def _name(key: Key) -> str:
    table, row, column = key
    return f"table dp-{table}, row {row!r}, column {column!r}"


def _record_problems(figures: PrivateFigures, record: Mapping[str, Any]) -> list[str]:
    where = f"release record (entry {figures.release_entry})"
    if record.get("format") != RECORD_FORMAT or not isinstance(record.get("figures"), list):
        return [f"{where} is not a {RECORD_FORMAT} record"]
    inputs = record.get("inputs")
    budget = record.get("budget")
    stated = {
        "period": record.get("period"),
        "as_of": record.get("as_of"),
        "policies": record.get("policies"),
        "inputs log size": inputs.get("log_size") if isinstance(inputs, Mapping) else None,
        "ε per figure": record.get("epsilon_per_figure"),
        "release ε": record.get("release_epsilon"),
        "budget cap": budget.get("cap") if isinstance(budget, Mapping) else None,
        "ε spent before": budget.get("spent_before") if isinstance(budget, Mapping) else None,
        "releases before": budget.get("releases_before") if isinstance(budget, Mapping) else None,
        "mechanism": record.get("mechanism"),
        "bins": record.get("bins"),
    }
    document = figures.to_json()
    published = {
        "period": document["period"],
        "as_of": document["as_of"],
        "policies": document["policies"],
        "inputs log size": figures.inputs_log_size,
        "ε per figure": figures.epsilon_per_figure,
        "release ε": figures.release_epsilon,
        "budget cap": figures.budget_cap,
        "ε spent before": figures.budget_before,
        "releases before": len(figures.releases),
        "mechanism": figures.mechanism,
        "bins": list(BINS),
    }
    return [
        f"{where}: {name} is {json.dumps(stated[name])}, the published document says "
        f"{json.dumps(value)}"
        for name, value in published.items()
        if json.dumps(stated[name]) != json.dumps(value)
    ]


def _drawing_problems(
    figures: PrivateFigures, drawings: Sequence[Drawing], raw: Sequence[Any]
) -> list[str]:
    problems = []
    expected = noisy_figures(layout(figures.policies))
    if [d.key for d in drawings] != [f.key for f in expected]:
        return ["the release record's figures are not the layout's, in its order"]
    shown = _published_values(figures)
    for drawing, spec, item in zip(drawings, expected, raw, strict=True):
        name = _name(drawing.key)
        sensitivity = (
            HISTOGRAM_SENSITIVITY if spec.kind is FigureKind.MEDIAN_DAYS else COUNT_SENSITIVITY
        )
        if (
            drawing.kind is not spec.kind
            or drawing.sensitivity != sensitivity
            or drawing.epsilon != figures.epsilon_per_figure
            or drawing.mechanism_epsilon > drawing.epsilon
        ):
            problems.append(f"{name}: drawn with another kind, sensitivity or ε than stated")
        value = drawing.published
        if json.dumps(item.get("published")) != json.dumps(value):
            problems.append(
                f"{name}: the release record says {item.get('published')!r} was published, but "
                f"its true value plus its noise gives {value!r}"
            )
        if json.dumps(shown.get(drawing.key)) != json.dumps(value):
            problems.append(
                f"{name}: published {shown.get(drawing.key)!r}, but the true value plus the "
                f"noise recorded in the release entry gives {value!r}"
            )
    return problems


def _published_values(figures: PrivateFigures) -> dict[Key, PublishedCell]:
    values: dict[Key, PublishedCell] = {}
    for table, want in zip(figures.tables, layout(figures.policies), strict=False):
        for (_, cells), (_, specs) in zip(table.rows, want.rows, strict=False):
            for cell, spec in zip(cells, specs, strict=False):
                if isinstance(spec, Noisy):
                    values[spec.key] = cell
    return values
