"""Transparency reports: write one from the store's public log, and verify one from the
log's tiles and checkpoint alone.

:func:`write_transparency_report` logs what is pending, takes the latest signed
checkpoint, counts from the public forms of the entries it covers (nothing else in the
store is read), optionally exports those tiles, and writes the site.
:func:`verify_transparency_report` is what an outsider runs: it trusts the tiles only as
far as their signed checkpoint, recomputes every figure and checks every file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import brightline
from brightline.config import Settings
from brightline.errors import (
    BrightlineError,
    InvalidInputError,
    LedgerIntegrityError,
    NotFoundError,
    Problem,
)
from brightline.ledger import (
    Checkpoint,
    NoteVerifier,
    TileDirSource,
    TiledTree,
    export_tiles,
    open_checkpoint,
    read_entries,
    verify_consistency,
    verify_tile_dir,
)
from brightline.service.ledger import LedgerKeys, sync
from brightline.store import Store
from brightline.store.ledger import SqlTileStore, iter_public, latest_checkpoint
from brightline.transparency import (
    INDEX,
    MANIFEST,
    Parameters,
    Period,
    PublicEntry,
    build_report,
    check_fields,
    check_in_force,
    check_k,
    check_tables,
    published_tables,
    render_site,
)
from brightline.transparency.site import IN_FORCE, table_path

#: Called with a short description of each step, for a progress display.
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ReportSummary:
    out_dir: Path
    files: tuple[str, ...]
    parameters: Parameters
    checkpoint: Checkpoint
    tables: int
    in_force: int
    tiles_dir: Path | None


def report_parameters(
    settings: Settings,
    *,
    period_from: date,
    period_to: date,
    now: datetime,
    k: int | None = None,
) -> Parameters:
    """The deployment's k and published fields for a period; the figures hold at the end
    of the period, or at ``now`` if it has not ended. Raises InvalidInputError."""
    period = Period(period_from, period_to)
    if now.tzinfo is None:
        raise InvalidInputError("time must carry a time zone")
    if period.start > now:
        raise InvalidInputError(Problem("--from", f"{period_from} is in the future"))
    fields = check_fields(settings.transparency_fields)
    if "customer" in fields and not settings.ledger_publishes_customer_names:
        raise InvalidInputError(
            Problem(
                "transparency_fields",
                "'customer' needs BRIGHTLINE_LEDGER_PUBLISHES_CUSTOMER_NAMES: the log does "
                "not publish customer names, so a report cannot show them verifiably",
            )
        )
    # report.json states times to the second: round up, so that what happened before
    # ``now`` is still before ``as_of`` when a verifier reads it back.
    as_of = now.astimezone(UTC).replace(microsecond=0)
    if as_of < now:
        as_of += timedelta(seconds=1)
    k = check_k(settings.transparency_k if k is None else k)
    return Parameters(period, min(period.end, as_of), k, fields)


def write_transparency_report(
    store: Store,
    *,
    settings: Settings,
    period_from: date,
    period_to: date,
    out_dir: Path,
    tiles_dir: Path | None = None,
    now: datetime | None = None,
    k: int | None = None,
    progress: Progress = _quiet,
) -> ReportSummary:
    """Write the site for ``period_from``–``period_to`` (both included) to ``out_dir``.

    Logs pending events and signs a checkpoint first (with the deployment's key), then
    counts from the public entries under the latest signed checkpoint. With
    ``tiles_dir``, exports the log at that checkpoint there as tlog-tiles, and the site
    links to it. ``k`` overrides ``settings.transparency_k``. Raises NotFoundError
    without a verifier key or a signed checkpoint, InvalidInputError for a bad period,
    k or field list, LedgerIntegrityError if the stored log does not match its checkpoint.
    """
    at = datetime.now(UTC) if now is None else now
    parameters = report_parameters(
        settings, period_from=period_from, period_to=period_to, now=at, k=k
    )
    verifier = LedgerKeys.of(settings).verifier()
    progress("logging pending events")
    sync(settings, store)
    with store.read() as session:
        stored = latest_checkpoint(session)
        if stored is None:
            raise NotFoundError(
                "the ledger has no signed checkpoint yet: run `brightline ledger sync`"
            )
        checkpoint = open_checkpoint(stored.note, verifier)
        progress(f"reading {checkpoint.size} public entries")
        entries: list[PublicEntry] = []
        for seq, data in iter_public(session):
            if seq >= checkpoint.size:
                break
            entries.append(PublicEntry.parse(seq, data))
        tree = TiledTree(SqlTileStore(session))
        if checkpoint.size and tree.root(checkpoint.size) != checkpoint.root_hash:
            raise LedgerIntegrityError("the stored log's root is not its checkpoint's")
        if tiles_dir is not None:
            progress(f"exporting the log's tiles to {tiles_dir}")
            export_tiles(
                tiles_dir,
                source=SqlTileStore(session),
                entries=(e.data for e in entries),
                signed_checkpoint=stored.note,
                verifier=verifier,
            )
        progress("counting")
        report = build_report(
            entries,
            parameters=parameters,
            checkpoint_note=stored.note,
            checkpoint=checkpoint,
            prove=lambda index: tree.inclusion_proof(index, checkpoint.size),
            tiles=_link(out_dir, tiles_dir),
            generator=f"Brightline {brightline.__version__}",
        )
    progress("writing the site")
    files = render_site(report)
    for relative, data in files.items():
        _write(out_dir / relative, data)
    return ReportSummary(
        out_dir=out_dir,
        files=tuple(sorted(files)),
        parameters=parameters,
        checkpoint=checkpoint,
        tables=len(report.tables),
        in_force=len(report.in_force),
        tiles_dir=tiles_dir,
    )


def _link(out_dir: Path, tiles_dir: Path | None) -> str | None:
    if tiles_dir is None:
        return None
    relative = os.path.relpath(tiles_dir.resolve(), out_dir.resolve())
    return relative.replace(os.sep, "/") + "/"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# -- verification ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """``problems`` is empty when every figure, file, entry and proof checked out; else
    each names what differs, the first one first."""

    problems: tuple[str, ...]
    parameters: Parameters | None
    checkpoint: Checkpoint | None
    tiles_size: int | None
    tables: int
    in_force: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "parameters": None if self.parameters is None else self.parameters.to_json(),
            "checkpoint_size": None if self.checkpoint is None else self.checkpoint.size,
            "tiles_size": self.tiles_size,
            "tables": self.tables,
            "restrictions_in_force": self.in_force,
        }


def verify_transparency_report(
    report_dir: Path,
    tiles_dir: Path,
    *,
    verifier: NoteVerifier,
    progress: Progress = _quiet,
) -> VerificationResult:
    """Check a report directory against the log's tiles and the log's public key only.

    Verifies the tiles against their signed checkpoint, the report's checkpoint against
    the key and (when older) as a prefix of the tiles' one, recomputes every figure from
    the public entries, applies the report's k, and compares each cell of
    ``report.json``, every table's JSON and CSV and ``index.html``; checks each listed
    restriction's entry and inclusion proof. Raises InvalidInputError only when a
    directory does not exist; everything else is reported in the result.
    """
    for where, directory in (("REPORT_DIR", report_dir), ("--tiles", tiles_dir)):
        if not directory.is_dir():
            raise InvalidInputError(Problem(where, f"{directory} is not a directory"))
    problems: list[str] = []

    def result(
        parameters: Parameters | None = None,
        checkpoint: Checkpoint | None = None,
        tiles_size: int | None = None,
        tables: int = 0,
        in_force: int = 0,
    ) -> VerificationResult:
        return VerificationResult(
            tuple(problems), parameters, checkpoint, tiles_size, tables, in_force
        )

    progress("reading the report")
    manifest = _read_json(report_dir / MANIFEST, problems)
    if not isinstance(manifest, dict):
        return result()
    try:
        parameters = Parameters.from_json(manifest)
    except InvalidInputError as exc:
        problems.append(f"{MANIFEST}: {exc}")
        return result()
    checkpoint = _report_checkpoint(manifest, verifier, problems)
    if checkpoint is None:
        return result(parameters)

    progress("verifying the log's tiles against their signed checkpoint")
    try:
        tiles_checkpoint = verify_tile_dir(tiles_dir, verifier)
    except BrightlineError as exc:
        problems.append(f"tiles: {exc}")
        return result(parameters, checkpoint)
    if not _covers(tiles_dir, checkpoint, tiles_checkpoint, problems):
        return result(parameters, checkpoint, tiles_checkpoint.size)

    progress(f"recounting from {checkpoint.size} public entries")
    # Read at the tiles' own size: a partial bundle is published at that width only.
    raw = list(read_entries(tiles_dir, tiles_checkpoint.size))[: checkpoint.size]
    try:
        entries = [PublicEntry.parse(i, data) for i, data in enumerate(raw)]
    except InvalidInputError as exc:
        problems.append(f"tiles: {exc}")
        return result(parameters, checkpoint, tiles_checkpoint.size)
    tables, in_force = published_tables(entries, parameters)

    progress("comparing every figure")
    files = _read_files(report_dir, [t.name for t in tables])
    problems += check_tables(files, manifest, tables)
    problems += check_in_force(
        files, expected=in_force, fields=parameters.fields, entries=raw, checkpoint=checkpoint
    )
    return result(parameters, checkpoint, tiles_checkpoint.size, len(tables), len(in_force))


def _read_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        problems.append(f"{path.name} is missing")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name} is not JSON: {exc}")
    return None


def _report_checkpoint(
    manifest: Mapping[str, Any], verifier: NoteVerifier, problems: list[str]
) -> Checkpoint | None:
    stated = manifest.get("checkpoint")
    if not isinstance(stated, Mapping) or not isinstance(stated.get("note"), str):
        problems.append(f"{MANIFEST}: no signed checkpoint")
        return None
    try:
        checkpoint = open_checkpoint(stated["note"], verifier)
    except BrightlineError as exc:
        problems.append(f"{MANIFEST}: checkpoint: {exc}")
        return None
    claimed = (stated.get("origin"), stated.get("size"), stated.get("root"))
    actual = (checkpoint.origin, checkpoint.size, checkpoint.root_hash.hex())
    if claimed != actual:
        problems.append(f"{MANIFEST}: checkpoint origin, size or root differ from its signed note")
    return checkpoint


def _covers(tiles_dir: Path, report: Checkpoint, tiles: Checkpoint, problems: list[str]) -> bool:
    """Whether the tiles hold the report's log: the same checkpoint, or a later one that
    the report's is a prefix of (RFC 9162 consistency proof)."""
    if report.size > tiles.size:
        problems.append(
            f"the report's checkpoint has {report.size} entries, the tiles only {tiles.size}"
        )
        return False
    if report.size == tiles.size:
        if report.root_hash != tiles.root_hash:
            problems.append("the report's checkpoint and the tiles' have different roots")
            return False
        return True
    if report.size == 0:
        return True
    proof = TiledTree(TileDirSource(tiles_dir)).consistency_proof(report.size, tiles.size)
    if not verify_consistency(report.size, tiles.size, proof, report.root_hash, tiles.root_hash):
        problems.append(
            f"the report's checkpoint of size {report.size} is not a prefix of the tiles' "
            f"log of size {tiles.size}: history was rewritten"
        )
        return False
    return True


def _read_files(report_dir: Path, names: list[str]) -> dict[str, bytes]:
    """The files a report must have, by relative path (a missing one is left out)."""
    paths = [MANIFEST, INDEX, f"{IN_FORCE}.json", f"{IN_FORCE}.csv"]
    for name in names:
        paths += [table_path(name, "json"), table_path(name, "csv")]
    files: dict[str, bytes] = {}
    for relative in paths:
        try:
            files[relative] = (report_dir / relative).read_bytes()
        except FileNotFoundError:
            continue
    return files
