"""The alerts file (JSON Lines) and the suppressions file.

Alerts are keyed by ``id`` (pack, node, first window): writing an alert that is already
in the file updates it in place (``first_seen`` kept, ``last_seen`` moved) instead of
adding a duplicate. The file is rewritten whole (:mod:`brightline.files`). Suppressions
only grow: each is a record appended by :func:`add_suppression`; a torn last line, left by
a crash or a full disk, is ignored and cut off by the next one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from brightline import files
from brightline.detection.scoring import Alert, Suppression
from brightline.errors import InvalidInputError, Problem
from brightline.world.sources import validate_model


@dataclass(frozen=True, slots=True)
class AlertsWritten:
    path: Path
    new: int
    updated: int
    total: int


def read_alerts(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    alerts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(Problem(f"{path}:{number}", f"not JSON: {exc}")) from exc
        if not isinstance(item, dict) or "id" not in item:
            raise InvalidInputError(Problem(f"{path}:{number}", "not an alert (no id)"))
        alerts.append(item)
    return alerts


def write_alerts(path: Path, alerts: Sequence[Alert], *, now: datetime) -> AlertsWritten:
    existing = {item["id"]: item for item in read_alerts(path)}
    new = updated = 0
    stamp = now.isoformat()
    for alert in alerts:
        record = alert.to_dict()
        previous = existing.get(alert.id)
        if previous is None:
            new += 1
            record["first_seen"] = stamp
        else:
            updated += 1
            record["first_seen"] = previous.get("first_seen", stamp)
        record["last_seen"] = stamp
        existing[alert.id] = record
    with files.writing_text(path) as handle:
        for record in existing.values():
            handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
    return AlertsWritten(path, new, updated, len(existing))


def read_suppressions(path: Path) -> list[Suppression]:
    """Suppressions, one JSON object per line; a missing file has none, a torn last line
    is not one (yet)."""
    found: list[Suppression] = []
    problems: list[Problem] = []
    for number, line in enumerate(files.read_records(path), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            problems.append(Problem(where, f"not JSON: {exc}"))
            continue
        item = validate_model(Suppression, data, lambda loc, w=where: f"{w}: {loc}", problems)
        if item is not None:
            found.append(item)
    if problems:
        raise InvalidInputError(problems)
    return found


def add_suppression(path: Path, suppression: Suppression) -> None:
    """Append ``suppression``, on disk when this returns (StorageError otherwise, the
    file as it was)."""
    files.append_record(path, suppression.model_dump_json())
