"""Transparency reports: write one from the store's public log, and verify one from the
log's tiles and checkpoint alone.

:func:`write_transparency_report` logs what is pending, takes the latest signed
checkpoint, counts from the public forms of the entries it covers (nothing else in the
store is read), optionally exports those tiles, and writes the site.
:func:`verify_transparency_report` is what an outsider runs: it trusts the tiles only as
far as their signed checkpoint, recomputes every figure and checks every file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import brightline
from brightline import files
from brightline.config import Settings
from brightline.errors import (
    BrightlineError,
    InvalidInputError,
    LedgerIntegrityError,
    NotFoundError,
    Problem,
)
from brightline.ledger import (
    TILE_WIDTH,
    Checkpoint,
    MemoryHashStore,
    NoteVerifier,
    TamperedLogError,
    TileAppender,
    TileDirSource,
    TiledTree,
    WitnessQuorum,
    export_tiles,
    leaf_hash,
    open_checkpoint,
    read_entries,
    verify_consistency,
    verify_tile_dir,
)
from brightline.service.ledger import LedgerKeys, sync
from brightline.service.private_figures import release_private_figures, sign_private_figures
from brightline.store import Store
from brightline.store.ledger import SqlTileStore, iter_public, latest_checkpoint
from brightline.transparency import (
    MANIFEST,
    Parameters,
    Period,
    PublicEntry,
    Stated,
    build_report,
    check_complete,
    check_fields,
    check_k,
    check_site,
    render_site,
    strict_json,
)
from brightline.transparency.model import format_time
from brightline.transparency.private_doc import NOTE_FILE, PrivateFigures, check_published

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
    #: The figures about investigations released with differential privacy.
    private: PrivateFigures | None = None


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
    return Parameters(period, min(period.end, as_of), k, fields, settings.ledger_time_granularity)


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
    Releases the figures about investigations with differential privacy first
    (``brightline.service.private_figures``): ConflictError, and nothing written, if that
    would go over the deployment's privacy budget.
    """
    at = datetime.now(UTC) if now is None else now
    parameters = report_parameters(
        settings, period_from=period_from, period_to=period_to, now=at, k=k
    )
    verifier = LedgerKeys.of(settings).verifier()
    progress("logging pending events")
    sync(settings, store)
    progress("releasing the figures about investigations, with differential privacy")
    pending = release_private_figures(store, settings=settings, parameters=parameters, now=at)
    sync(settings, store)
    private = sign_private_figures(store, settings=settings, pending=pending)
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
            private=private,
        )
    progress("writing the site")
    site = render_site(report)
    with files.writing_many() as batch:
        for relative, data in site.items():
            batch.write(out_dir / relative, data)
    return ReportSummary(
        out_dir=out_dir,
        files=tuple(sorted(site)),
        parameters=parameters,
        checkpoint=checkpoint,
        tables=len(report.tables),
        in_force=len(report.in_force),
        tiles_dir=tiles_dir,
        private=private,
    )


def _link(out_dir: Path, tiles_dir: Path | None) -> str | None:
    if tiles_dir is None:
        return None
    relative = os.path.relpath(tiles_dir.resolve(), out_dir.resolve())
    return relative.replace(os.sep, "/") + "/"


# -- verification ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """``problems`` is empty when every figure, file, entry and proof checked out; else
    each names what differs, the first one first. ``warnings`` are true of a report that
    verifies but that a reader should know (figures before the period's end, tiles
    linked elsewhere)."""

    problems: tuple[str, ...]
    parameters: Parameters | None
    checkpoint: Checkpoint | None
    tiles_size: int | None
    tables: int
    in_force: int
    warnings: tuple[str, ...] = ()
    tiles_root: bytes | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "parameters": None if self.parameters is None else self.parameters.to_json(),
            "checkpoint_size": None if self.checkpoint is None else self.checkpoint.size,
            "checkpoint_root": None if self.checkpoint is None else self.checkpoint.root_hash.hex(),
            "tiles_size": self.tiles_size,
            "tiles_root": None if self.tiles_root is None else self.tiles_root.hex(),
            "tables": self.tables,
            "restrictions_in_force": self.in_force,
        }


def verify_transparency_report(
    report_dir: Path,
    tiles_dir: Path,
    *,
    verifier: NoteVerifier,
    witnesses: WitnessQuorum = WitnessQuorum.none(),
    progress: Progress = _quiet,
) -> VerificationResult:
    """Check a report directory against the log's tiles and the log's public key only.

    1. Reads ``report.json`` (strict JSON) and checks the parameters it states.
    2. Opens the report's checkpoint with the key, and requires the quorum of
       ``witnesses``' cosignatures on it (none by default).
    3. Verifies the tiles against their signed checkpoint (every entry and hash).
    4. Checks the report's checkpoint is the tiles' or a prefix of it (RFC 9162
       consistency proof).
    5. Checks no entry logged after the report's checkpoint happened before its ``as_of``.
    6. Recomputes the figures from the public entries, re-renders the whole site with the
       stated parameters and inclusion proofs computed from the tiles, and compares every
       file byte for byte; a file the report should not have is a problem too.

    Raises InvalidInputError only when a directory does not exist; everything else is
    reported in the result.
    """
    for where, directory in (("REPORT_DIR", report_dir), ("--tiles", tiles_dir)):
        if not directory.is_dir():
            raise InvalidInputError(Problem(where, f"{directory} is not a directory"))
    problems: list[str] = []
    warnings: list[str] = []

    def result(
        parameters: Parameters | None = None,
        checkpoint: Checkpoint | None = None,
        tiles: Checkpoint | None = None,
        tables: int = 0,
        in_force: int = 0,
    ) -> VerificationResult:
        return VerificationResult(
            tuple(problems),
            parameters,
            checkpoint,
            None if tiles is None else tiles.size,
            tables,
            in_force,
            tuple(warnings),
            None if tiles is None else tiles.root_hash,
        )

    progress("reading the report")
    stated = _read_stated(report_dir, problems)
    if stated is None:
        return result()
    parameters = stated.parameters
    if parameters.as_of < parameters.period.end:
        warnings.append(
            f"the figures hold at {format_time(parameters.as_of)}, before the end of the "
            f"period ({format_time(parameters.period.end)}): nothing from then on is counted"
        )
    checkpoint = _report_checkpoint(stated, verifier, witnesses, problems)
    if checkpoint is None:
        return result(parameters)

    progress("verifying the log's tiles against their signed checkpoint")
    try:
        tiles_checkpoint = verify_tile_dir(tiles_dir, verifier)
    except TamperedLogError as exc:
        problems.append(_tampered(exc))
        return result(parameters, checkpoint)
    except BrightlineError as exc:
        problems.append(f"tiles: {exc}")
        return result(parameters, checkpoint)
    if not _covers(tiles_dir, checkpoint, tiles_checkpoint, problems):
        return result(parameters, checkpoint, tiles_checkpoint)

    progress(f"recounting from {checkpoint.size} public entries")
    # Read at the tiles' own size: a partial bundle is published at that width only.
    raw = list(read_entries(tiles_dir, tiles_checkpoint.size))
    try:
        entries = [PublicEntry.parse(i, data) for i, data in enumerate(raw)]
    except InvalidInputError as exc:
        problems.append(f"tiles: {exc}")
        return result(parameters, checkpoint, tiles_checkpoint)
    if late := check_complete(
        entries,
        checkpoint_size=checkpoint.size,
        as_of=parameters.as_of,
        granularity=parameters.time_granularity,
    ):
        problems.append(late)
    tree = _tree(raw[: checkpoint.size])
    if tree.root(checkpoint.size) != checkpoint.root_hash:  # _covers proved it; be sure
        problems.append("the tiles' entries do not give the root of the report's checkpoint")
        return result(parameters, checkpoint, tiles_checkpoint)
    private = _read_private(report_dir, verifier, problems)
    if private is not None:
        problems += check_published(
            private,
            period=parameters.period,
            as_of=parameters.as_of,
            entries=entries,
            checkpoint_size=checkpoint.size,
        )
    expected = build_report(
        entries,
        parameters=parameters,
        checkpoint_note=stated.checkpoint_note,
        checkpoint=checkpoint,
        # Fresh proofs from the verified tiles: nothing is taken from the report.
        prove=lambda index: tree.inclusion_proof(index, checkpoint.size),
        tiles=stated.tiles,
        generator=stated.generator,
        # Signed by the log's key, checked above; its files are compared like the rest.
        private=private,
    )

    progress("comparing every file")
    skip = [tiles_dir]
    if stated.tiles is not None and not stated.tiles.startswith("https://"):
        linked = report_dir / stated.tiles
        skip.append(linked)
        if linked.resolve() != tiles_dir.resolve():
            warnings.append(
                f"the report links its tiles to {stated.tiles!r}, not to the tiles verified "
                f"({tiles_dir}): check those too, or that they are a copy"
            )
    problems += check_site(_read_files(report_dir, skip), expected, entries=raw)
    return result(
        parameters, checkpoint, tiles_checkpoint, len(expected.tables), len(expected.in_force)
    )


def _tree(entries: list[bytes]) -> TiledTree:
    """The tree of ``entries`` in memory: a partial tile of the report's older size need
    not be in a tiles directory that has grown since, so proofs are computed afresh."""
    store, appender = MemoryHashStore(), TileAppender()
    hashes = [leaf_hash(e) for e in entries]
    for first in range(0, len(hashes), TILE_WIDTH):
        for write in appender.append_full_tiles(hashes[first : first + TILE_WIDTH]):
            store.write_tile(write)
    for write in appender.partial_tiles():
        store.write_tile(write)
    return TiledTree(store)


def _read_stated(report_dir: Path, problems: list[str]) -> Stated | None:
    try:
        manifest = strict_json((report_dir / MANIFEST).read_bytes())
    except FileNotFoundError:
        problems.append(f"{MANIFEST} is missing")
        return None
    except ValueError as exc:
        problems.append(f"{MANIFEST} is not JSON as the report writes it: {exc}")
        return None
    try:
        return Stated.from_manifest(manifest)
    except InvalidInputError as exc:
        problems.append(f"{MANIFEST}: {exc}")
        return None


def _read_private(
    report_dir: Path, verifier: NoteVerifier, problems: list[str]
) -> PrivateFigures | None:
    """The signed document of the report's private figures, if it has one."""
    path = report_dir / NOTE_FILE
    if not path.is_file():
        return None
    try:
        return PrivateFigures.open(path.read_text(encoding="utf-8"), verifier)
    except (BrightlineError, UnicodeDecodeError) as exc:
        problems.append(f"{NOTE_FILE}: {exc}")
        return None


def _report_checkpoint(
    stated: Stated, verifier: NoteVerifier, witnesses: WitnessQuorum, problems: list[str]
) -> Checkpoint | None:
    try:
        checkpoint = open_checkpoint(stated.checkpoint_note, verifier)
    except BrightlineError as exc:
        problems.append(f"{MANIFEST}: checkpoint: {exc}")
        return None
    try:
        witnesses.check(stated.checkpoint_note)
    except BrightlineError as exc:
        problems.append(f"{MANIFEST}: checkpoint: {exc}")
    actual = (checkpoint.origin, checkpoint.size, checkpoint.root_hash.hex())
    if stated.checkpoint_claim != actual:
        problems.append(f"{MANIFEST}: checkpoint origin, size or root differ from its signed note")
    return checkpoint


def _tampered(exc: TamperedLogError) -> str:
    """Words for an outsider holding a tiles directory (the ledger's speak of a store)."""
    index = exc.first_bad_index
    if index is None:
        return (
            "tiles: the entry bundles and hash tiles agree with each other but not with the "
            "signed checkpoint: the whole log was rewritten"
        )
    if str(exc).startswith("stored hash tiles"):
        return (
            f"tiles: a hash tile differs from what the entry bundles give, from index {index}: "
            "the hash tiles were altered"
        )
    return (
        f"tiles: the entry bundles do not hash to the hash tiles and signed checkpoint from "
        f"index {index}: an entry was altered, removed, reordered or inserted there"
    )


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


def _read_files(report_dir: Path, skip: list[Path]) -> dict[str, bytes]:
    """Every file under ``report_dir`` by relative path, but those under ``skip`` (the
    log's tiles, when kept inside the report); a linked directory is listed as a file."""
    skipped = {p.resolve() for p in skip}
    found: dict[str, bytes] = {}
    for root, dirs, names in os.walk(report_dir, followlinks=False):
        here = Path(root)
        for name in list(dirs):
            if (here / name).resolve() in skipped and not (here / name).is_symlink():
                dirs.remove(name)
            elif (here / name).is_symlink():
                dirs.remove(name)
                found[(here / name).relative_to(report_dir).as_posix() + "/"] = b""
        for name in names:
            path = here / name
            relative = path.relative_to(report_dir).as_posix()
            try:
                found[relative] = path.read_bytes()
            except OSError:
                found[relative] = b""
    return found
