"""Auditing a report's private figures from disclosed private records.

An auditor holds the report's directory, the log's tiles, the log's public key and the
disclosures :func:`brightline.service.private_figures.disclose_release` gives (the release
entry's record and salt, and those of every investigation entry it was counted from).
:func:`audit_transparency_report` verifies the report as anyone can, then checks each
record against the commitment its entry publishes and recomputes every private figure
exactly: true value from the records, plus the noise recorded, gives what was published.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brightline.errors import InvalidInputError, LedgerIntegrityError, Problem
from brightline.ledger import NoteVerifier, read_entries, verify_tile_dir
from brightline.limits import load_json
from brightline.service.transparency import verify_transparency_report
from brightline.transparency import PublicEntry
from brightline.transparency.investigations import is_investigation
from brightline.transparency.private_audit import audit, check_disclosures
from brightline.transparency.private_doc import NOTE_FILE, PrivateFigures


@dataclass(frozen=True, slots=True)
class AuditResult:
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
    release_entry: int | None
    figures: int
    inputs: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "release_entry": self.release_entry,
            "figures": self.figures,
            "inputs": self.inputs,
        }


def read_disclosures(paths: Sequence[Path]) -> list[Any]:
    """Disclosures from files: each holds one (as ``brightline ledger disclose`` prints
    it), a JSON list of them, or one per line. Raises InvalidInputError."""
    found: list[Any] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(Problem(str(path), f"cannot read: {exc}")) from exc
        try:
            value = load_json(text, where=str(path))
            found.extend(value if isinstance(value, list) else [value])
        except json.JSONDecodeError:
            for n, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        found.append(load_json(line, where=f"{path}:{n}"))
                    except json.JSONDecodeError as exc:
                        raise InvalidInputError(
                            Problem(f"{path}:{n}", f"is not a disclosure: {exc}")
                        ) from exc
    return found


def audit_transparency_report(
    report_dir: Path,
    tiles_dir: Path,
    disclosures: Sequence[Any],
    *,
    verifier: NoteVerifier,
) -> AuditResult:
    """Verify the report as anyone can (:func:`verify_transparency_report`), then recount
    its private figures from ``disclosures``: the release record and the records of every
    investigation entry it was counted from, checked against the log's commitments.

    Raises InvalidInputError only when a directory does not exist."""
    verified = verify_transparency_report(report_dir, tiles_dir, verifier=verifier)
    problems = list(verified.problems)
    note = report_dir / NOTE_FILE
    if not note.is_file():
        return AuditResult((*problems, f"{NOTE_FILE} is missing"), verified.warnings, None, 0, 0)
    try:
        figures = PrivateFigures.open(note.read_text(encoding="utf-8"), verifier)
        checkpoint = verify_tile_dir(tiles_dir, verifier)
        entries = [
            PublicEntry.parse(i, data)
            for i, data in enumerate(read_entries(tiles_dir, checkpoint.size))
        ]
    except (InvalidInputError, LedgerIntegrityError, UnicodeDecodeError) as exc:
        return AuditResult((*problems, f"{NOTE_FILE}: {exc}"), verified.warnings, None, 0, 0)
    disclosed, disclosure_problems = check_disclosures(disclosures, entries)
    problems += disclosure_problems
    problems += audit(figures, disclosed, entries)
    inputs = sum(1 for e in entries[: figures.inputs_log_size] if is_investigation(e.event_type))
    return AuditResult(
        tuple(problems), verified.warnings, figures.release_entry, figures.figures, inputs
    )
