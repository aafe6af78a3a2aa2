"""``brightline validate``: check a world directory and print every problem found."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brightline.cli.app import command, console
from brightline.service.offline import load_world_dir


@command(name="validate")
def validate(
    world: Annotated[Path, typer.Option("--world", help="World directory to check.")],
) -> None:
    """Check directory.jsonl, catalog.yaml and restrictions.yaml; list every error found."""
    loaded = load_world_dir(world)
    directory, catalog = loaded.world.directory, loaded.world.catalog
    console.print(
        f"[green]ok[/] {world}: {len(directory)} nodes ({len(directory.roots())} customers), "
        f"{len(catalog.services)} services, {len(catalog.regions)} regions, "
        f"{len(loaded.restrictions)} restrictions"
    )
