"""``brightline world``: import the directory and catalog into the store, export them back."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from brightline.access import Action
from brightline.cli.app import app, command, console
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.service import (
    DEFAULT_REMOVAL_LIMIT,
    CloudHierarchy,
    ImportResult,
    RemovalGuard,
    export_world,
    import_hierarchy,
    import_world,
)

world_app = typer.Typer(help="The world in the store: import and export.", no_args_is_help=True)
app.add_typer(world_app, name="world")


class SourceFormat(StrEnum):
    WORLD = "world"
    AWS_ORGANIZATIONS = CloudHierarchy.AWS_ORGANIZATIONS.value
    AZURE_MANAGEMENT_GROUPS = CloudHierarchy.AZURE_MANAGEMENT_GROUPS.value
    GCP_RESOURCE_MANAGER = CloudHierarchy.GCP_RESOURCE_MANAGER.value


@command(world_app, name="import")
def import_(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="World directory; with --from a cloud, its CLI outputs (files, or "
            "directories of .json/.jsonl files)."
        ),
    ],
    from_: Annotated[
        SourceFormat, typer.Option("--from", help="What SOURCES are.")
    ] = SourceFormat.WORLD,
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="catalog.yaml to use with --from a cloud."),
    ] = None,
    id_prefix: Annotated[
        str, typer.Option("--id-prefix", help="Put before every imported node id.")
    ] = "",
    attributes: Annotated[
        Path | None,
        typer.Option(
            "--attributes",
            help="YAML or CSV overlay setting name, country and sector by node id.",
        ),
    ] = None,
    allow_removals: Annotated[
        bool,
        typer.Option(
            "--allow-removals",
            help="Allow removing more than --removal-limit of a customer's nodes.",
        ),
    ] = False,
    removal_limit: Annotated[
        float,
        typer.Option(
            "--removal-limit",
            min=0,
            max=100,
            help="Percent of a customer's nodes an import may remove without --allow-removals.",
        ),
    ] = DEFAULT_REMOVAL_LIMIT * 100,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff only.")] = False,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load a world (or a cloud hierarchy) into the store and print what changed (admins)."""
    guard = RemovalGuard(limit=removal_limit / 100, allow_removals_unsafe=allow_removals)
    with acting(Action.IMPORT_WORLD, key_file, token_file, record=True) as (store, actor):
        if from_ is SourceFormat.WORLD:
            if catalog is not None or id_prefix:
                console.print("[yellow]--catalog and --id-prefix apply to --from a cloud[/]")
            if len(sources) != 1:
                raise typer.BadParameter("give one world directory", param_hint="SOURCES")
            result = import_world(
                store,
                sources[0],
                actor=actor,
                dry_run=dry_run,
                attributes=attributes,
                guard=guard,
            )
        else:
            result = import_hierarchy(
                store,
                CloudHierarchy(from_.value),
                sources,
                catalog=catalog,
                id_prefix=id_prefix,
                attributes=attributes,
                guard=guard,
                actor=actor,
                dry_run=dry_run,
            )
    if as_json:
        console.print_json(json.dumps(result.to_json()))
        return
    _render(result)


def _render(result: ImportResult) -> None:
    diff = result.diff
    table = Table("", "kind", "id", "detail", box=None, show_header=False, pad_edge=False)
    for node in diff.added_nodes:
        where = f"under {node.parent}" if node.parent else "(root)"
        table.add_row("[green]+[/]", "node", node.id, f"{node.kind} {node.name!r} {where}")
    for change in diff.moved_nodes:
        table.add_row(
            "[cyan]→[/]",
            "node",
            change.id,
            f"moved from {change.before.parent} to {change.after.parent}",
        )
    for change in diff.changed_nodes:
        table.add_row("[yellow]~[/]", "node", change.id, _node_change(change.before, change.after))
    for node in diff.removed_nodes:
        table.add_row("[red]-[/]", "node", node.id, f"{node.kind} {node.name!r}")
    for service in diff.added_services:
        table.add_row("[green]+[/]", "service", service.id, ", ".join(service.operations))
    for change in diff.changed_services:
        table.add_row("[yellow]~[/]", "service", change.id, ", ".join(change.after.operations))
    for service in diff.removed_services:
        table.add_row("[red]-[/]", "service", service.id, "")
    for region in diff.added_regions:
        table.add_row("[green]+[/]", "region", region.id, region.country)
    for change in diff.changed_regions:
        table.add_row(
            "[yellow]~[/]", "region", change.id, f"{change.before.country} → {change.after.country}"
        )
    for region in diff.removed_regions:
        table.add_row("[red]-[/]", "region", region.id, "")
    if table.row_count:
        console.print(table)
    counts = diff.counts()
    console.print(
        f"nodes: +{counts['added_nodes']} ~{counts['changed_nodes']} "
        f"→{counts['moved_nodes']} -{counts['removed_nodes']}; "
        f"services: +{counts['added_services']} ~{counts['changed_services']} "
        f"-{counts['removed_services']}; regions: +{counts['added_regions']} "
        f"~{counts['changed_regions']} -{counts['removed_regions']}",
        highlight=False,
    )
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    if result.dry_run:
        console.print("dry run: nothing was written")
    elif result.version is not None:
        console.print(f"imported as world version {result.version}")


def _node_change(before: object, after: object) -> str:
    parts = []
    for field in ("kind", "name", "attrs"):
        old, new = getattr(before, field), getattr(after, field)
        if field == "attrs":
            old, new = dict(old), dict(new)
        if old != new:
            parts.append(f"{field}: {old!r} → {new!r}")
    return "; ".join(parts)


@command(world_app, name="export")
def export(
    directory: Annotated[Path, typer.Argument(help="Directory to write the world files into.")],
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Write the stored world (and the restrictions approved now) as world files."""
    with acting(Action.READ_DIRECTORY, key_file, token_file) as (store, _):
        result = export_world(store, directory)
    console.print(
        f"wrote world version {result.version} ({result.nodes} nodes, "
        f"{result.restrictions} restrictions) to {directory}",
        highlight=False,
    )
