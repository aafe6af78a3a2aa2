"""``brightline export aws-scp|azure-policy|gcp-org-policy``: restrictions in the clouds'
own languages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from brightline.access import Action
from brightline.cli.app import command, console, err_console
from brightline.cli.check import load_snapshot
from brightline.cli.credentials import KeyFile, TokenFile
from brightline.cli.export import export_app
from brightline.exports import (
    RESERVED_PER_TARGET,
    SCPS_PER_TARGET,
    Gap,
    RestrictionReport,
    export_aws_scp,
    export_azure_policy,
    export_gcp_org_policy,
    load_aws_map,
    load_azure_map,
    load_gcp_map,
)

_Out = Annotated[Path, typer.Option("--out", help="Directory to write into.")]
_World = Annotated[
    Path | None, typer.Option("--world", help="World directory; default: the store.")
]
_Map = Annotated[
    Path | None,
    typer.Option("--map", help="Mapping file (YAML/JSON) laid over the default map."),
]


@command(export_app, name="aws-scp")
def aws_scp(
    out: _Out,
    world: _World = None,
    map_file: _Map = None,
    reserved: Annotated[
        int,
        typer.Option(
            "--reserved-scps",
            min=0,
            max=SCPS_PER_TARGET - 1,
            help="SCPs that stay attached to every target besides Brightline's "
            "(FullAWSAccess: 1; 0 for an allow-list organization without it).",
        ),
    ] = RESERVED_PER_TARGET,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write one Service Control Policy per file, and manifest.json (targets, gaps).

    Exits 2, writing nothing, when a target would hold more SCPs than AWS allows (5,
    FullAWSAccess included), naming the target and the count."""
    action_map = load_aws_map(map_file)
    snapshot = load_snapshot(
        world,
        datetime.now(UTC),
        action=Action.EXPORT_POLICY,
        key_file=key_file,
        token_file=token_file,
    )
    export = export_aws_scp(snapshot, action_map, reserved_per_target=reserved)
    written = export.write(out)
    _report(written, export.restrictions, export.gaps, f"{len(export.policies)} SCPs")


@command(export_app, name="azure-policy")
def azure_policy(
    out: _Out,
    world: _World = None,
    map_file: _Map = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write Azure Policy definitions, initiatives and assignments (deny), and manifest.json.

    Restrictions sharing a scope and its exemptions share one initiative and one
    assignment. Exits 2, writing nothing, when a scope would exceed Azure's limits (200
    assignments, 200 initiatives, 500 definitions), naming the scope and the count."""
    type_map = load_azure_map(map_file)
    now = datetime.now(UTC)
    snapshot = load_snapshot(
        world, now, action=Action.EXPORT_POLICY, key_file=key_file, token_file=token_file
    )
    export = export_azure_policy(snapshot, type_map, at=now)
    written = export.write(out)
    what = (
        f"{len(export.assignments)} assignments of {len(export.initiatives)} initiatives "
        f"({len(export.definitions)} definitions)"
    )
    _report(written, export.restrictions, export.gaps, what)


@command(export_app, name="gcp-org-policy")
def gcp_org_policy(
    out: _Out,
    world: _World = None,
    map_file: _Map = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write Google Cloud custom constraints and organization policies (YAML, as gcloud
    reads them), and manifest.json."""
    service_map = load_gcp_map(map_file)
    now = datetime.now(UTC)
    snapshot = load_snapshot(
        world, now, action=Action.EXPORT_POLICY, key_file=key_file, token_file=token_file
    )
    export = export_gcp_org_policy(snapshot, service_map, at=now)
    written = export.write(out)
    what = f"{len(export.policies)} policies, {len(export.constraints)} custom constraints"
    _report(written, export.restrictions, export.gaps, what)


def _report(
    written: Sequence[Path],
    restrictions: Sequence[RestrictionReport],
    gaps: Sequence[Gap],
    what: str,
) -> None:
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    counts: dict[str, int] = {}
    for report in restrictions:
        counts[report.status.value] = counts.get(report.status.value, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    console.print(f"{what}; restrictions: {summary or 'none'}", highlight=False)
    if gaps:
        # Not an error: the decision API covers what a cloud's language cannot say.
        err_console.print(
            f"[yellow]not exportable[/] ({len(gaps)}; the decision API must cover these):",
            highlight=False,
        )
        for gap in gaps:
            err_console.print(
                f"  {gap.restriction}: {gap.item}: {gap.reason}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
