"""Steps 10–12: the ledger verified and one entry disclosed, the appeal, the
transparency report verified against the tiles."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from brightline.cases import (
    AppealOutcome,
)
from brightline.demo.live import (
    CUSTOMER,
    SECOND_APPROVER,
)
from brightline.demo.state import (
    DAYS,
    RESTRICTION_ID,
    Demo,
    Progress,
    no_progress,
)
from brightline.errors import BrightlineError
from brightline.ledger import (
    canonical_json,
    check_disclosure,
    leaf_hash,
    open_checkpoint,
    verify_inclusion,
)
from brightline.service import show_restriction
from brightline.service.cases import (
    decide_appeal,
)
from brightline.service.ledger import (
    LedgerKeys,
    disclose,
    export_tiles_dir,
    sync,
    verify_store,
    verify_tiles,
)

# -- 10. the ledger ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerResult:
    size: int
    checkpoints: int
    root: str
    tiles: Path
    tiles_size: int
    disclosed_index: int
    disclosed_type: str
    public: dict[str, Any]
    commitment_ok: bool
    inclusion_ok: bool
    checkpoint_ok: bool


def ledger(demo: Demo, progress: Progress = no_progress) -> LedgerResult:
    """Verify the whole log against its signed checkpoints; export it as tiles and verify
    those as an outsider would; disclose the approval's entry and check its proof."""
    keys = LedgerKeys.of(demo.settings)
    verifier = keys.verifier()
    sync(demo.settings, demo.store)
    report = verify_store(demo.store, verifier)
    tiles = demo.options.directory / "tiles"
    if tiles.exists():
        shutil.rmtree(tiles)
    export_tiles_dir(demo.store, tiles, verifier)
    outside = verify_tiles(tiles, verifier)
    index = report.size - 1
    while index >= 0 and disclose(demo.store, index).event_type != "restriction.approved":
        index -= 1
    if index < 0:
        raise BrightlineError("no restriction.approved entry in the ledger")
    shown = disclose(demo.store, index)
    public = canonical_json(shown.public)
    proof = shown.proof
    checkpoint_ok = False
    if proof.checkpoint is not None:
        signed = open_checkpoint(proof.checkpoint, verifier)
        checkpoint_ok = signed.size == proof.size and signed.root_hash == proof.root
    return LedgerResult(
        size=report.size,
        checkpoints=report.checkpoints_checked,
        root=report.root.hex(),
        tiles=tiles,
        tiles_size=outside.size,
        disclosed_index=index,
        disclosed_type=shown.event_type,
        public=shown.public,
        commitment_ok=check_disclosure(public, shown.record, bytes.fromhex(shown.salt)),
        inclusion_ok=leaf_hash(public) == proof.leaf_hash
        and verify_inclusion(proof.leaf_hash, index, proof.size, proof.proof, proof.root),
        checkpoint_ok=checkpoint_ok,
    )


# -- 11. the appeal ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppealResult:
    grounds: str
    outcome: str
    decided_by: str
    status: str
    restriction_status: str
    #: The customer who appealed, and the restrictions it saw on its own subtree.
    filed_by: str
    customer_sees: tuple[str, ...]


def appeal(demo: Demo, progress: Progress = no_progress) -> AppealResult:
    """The ministry's cloud team, signed in as a customer, sees the restriction on its
    unit and appeals it over the API (an appeal on the case); a second approver
    re-reviews and upholds the restriction."""
    grounds = (
        "The ministry says the unit's archive serves lawful foreign-intelligence work and "
        "asks for the restriction to be lifted."
    )
    customer = demo.http(CUSTOMER.name)
    listing = customer.get("/v1/customer/restrictions")
    _raise_for(listing)
    seen = tuple(str(r["id"]) for r in listing.json()["restrictions"])
    filed = customer.post(
        f"/v1/customer/restrictions/{RESTRICTION_ID}/appeals", json={"grounds": grounds}
    )
    _raise_for(filed)
    state = decide_appeal(
        demo.store,
        demo.case_id,
        actor=demo.principal(SECOND_APPROVER),
        outcome=AppealOutcome.UPHELD,
        rationale="The grounds do not address the mass collection of civilians' calls.",
    )
    view = show_restriction(demo.store, RESTRICTION_ID, now=demo.now())
    return AppealResult(
        grounds,
        AppealOutcome.UPHELD.value,
        SECOND_APPROVER.name,
        state.status.value,
        view.status.value,
        CUSTOMER.name,
        seen,
    )


def _raise_for(response: httpx.Response) -> None:
    if response.is_error:
        raise BrightlineError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )


# -- 12. the transparency report -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransparencyResult:
    site: Path
    tiles: Path
    period: tuple[str, str]
    k: int
    files: int
    tables: int
    in_force: int
    checkpoint_size: int
    verified: bool
    problems: tuple[str, ...]


def transparency(demo: Demo, progress: Progress = no_progress) -> TransparencyResult:
    """Write the transparency report for the demo's period from the public ledger entries
    alone, export the log's tiles beside it, and verify the report against the tiles and
    the log's public key, as an outsider would."""
    from brightline.service.transparency import (
        verify_transparency_report,
        write_transparency_report,
    )

    site = demo.options.directory / "transparency"
    tiles = site / "tiles"
    if site.exists():
        shutil.rmtree(site)
    now = demo.now()
    first = (now - timedelta(days=DAYS)).date()
    written = write_transparency_report(
        demo.store,
        settings=demo.settings,
        period_from=first,
        period_to=now.date(),
        out_dir=site,
        tiles_dir=tiles,
        now=now,
        progress=lambda what: progress(what, 0, 0),
    )
    checked = verify_transparency_report(
        site,
        tiles,
        verifier=LedgerKeys.of(demo.settings).verifier(),
        progress=lambda what: progress(what, 0, 0),
    )
    return TransparencyResult(
        site=site,
        tiles=tiles,
        period=(first.isoformat(), now.date().isoformat()),
        k=written.parameters.k,
        files=len(written.files),
        tables=written.tables,
        in_force=written.in_force,
        checkpoint_size=written.checkpoint.size,
        verified=checked.ok,
        problems=checked.problems,
    )
