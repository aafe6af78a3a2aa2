"""Writing a world back to world files (``directory.jsonl`` and ``catalog.yaml``).

The output loads back into an equal world: node order, attributes and their JSON
types, operation order, tags and units are kept. Parents are written before their children.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from brightline import files
from brightline.world.load import CATALOG_FILE, DIRECTORY_FILE
from brightline.world.model import Catalog, Directory, World


def directory_lines(directory: Directory) -> list[str]:
    """One JSON object per node, in the directory's order, keys in the documented order."""
    return [
        json.dumps(
            {
                "id": node.id,
                "parent": node.parent,
                "kind": node.kind,
                "name": node.name,
                "attrs": dict(sorted(node.attrs.items())),
            },
            ensure_ascii=False,
        )
        for node in directory
    ]


def catalog_document(catalog: Catalog) -> dict[str, Any]:
    """The catalog as ``catalog.yaml`` holds it; ``units`` only where declared."""
    document: dict[str, Any] = {
        "services": [
            {
                "id": s.id,
                "operations": list(s.operations),
                "tags": sorted(s.tags),
                **({"units": list(s.units)} if s.units else {}),
            }
            for s in catalog.services.values()
        ],
        "regions": [{"id": r.id, "country": r.country} for r in catalog.regions.values()],
    }
    if catalog.units:
        document["units"] = list(catalog.units)
    return document


def catalog_yaml(catalog: Catalog) -> str:
    # safe_dump quotes strings YAML 1.1 would read otherwise (country "NO", "on"…).
    return yaml.safe_dump(
        catalog_document(catalog), sort_keys=False, allow_unicode=True, default_flow_style=None
    )


def write_world(world: World, directory: Path) -> list[Path]:
    """Write ``directory.jsonl`` and ``catalog.yaml`` into ``directory`` (created if needed).

    Returns the paths written, each written whole; StorageError if one cannot be.
    """
    lines = directory_lines(world.directory)
    return [
        files.write_file(directory / DIRECTORY_FILE, "".join(line + "\n" for line in lines)),
        files.write_file(directory / CATALOG_FILE, catalog_yaml(world.catalog)),
    ]
