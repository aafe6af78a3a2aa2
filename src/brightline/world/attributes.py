"""An attribute overlay: names, country and sector for imported nodes, keyed by node id.

Cloud hierarchies carry no country or sector, and AWS names every root "Root"; the
overlay supplies them at import. Two forms:

YAML, a mapping from node id to fields (or a list of mappings with an ``id``)::

    r-f7dn: {name: Ministry of Defence of Freedonia, country: XF, sector: defense}
    ou-f7dn-9900abcd: {sector: intelligence}

CSV with a header row holding ``id`` and any of ``name``, ``country``, ``sector``; an
empty cell leaves that field as imported::

    id,name,country,sector
    r-f7dn,Ministry of Defence of Freedonia,XF,defense

Every id must be a node of the import: an overlay entry that matches nothing is an
error, not a silent no-op.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from brightline.errors import InvalidInputError, Problem
from brightline.limits import MAX_YAML_BYTES
from brightline.world.load import NodeRecord
from brightline.world.model import ID_PATTERN
from brightline.world.sources import parse_yaml, validate_model

FIELDS: Final = ("name", "country", "sector")
_Country = Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$")]
_Sector = Annotated[StrictStr, Field(pattern=rf"^{ID_PATTERN.pattern}$", max_length=64)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[StrictStr, Field(max_length=256)] | None = None
    country: _Country | None = None
    sector: _Sector | None = None


@dataclass(frozen=True, slots=True)
class NodeAttributes:
    """What the overlay sets on one node (None: leave as imported), and where it was read."""

    where: str
    name: str | None = None
    country: str | None = None
    sector: str | None = None


def read_attribute_overlay(path: Path) -> dict[str, NodeAttributes]:
    """Read a YAML or CSV overlay (by its suffix: ``.csv`` is CSV, anything else YAML).
    Raises InvalidInputError naming every problem with its line."""
    name = path.name
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise InvalidInputError(Problem(name, f"over {MAX_YAML_BYTES} bytes"))
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(Problem(name, f"cannot read: {exc}")) from exc
    if path.suffix.lower() == ".csv":
        return _from_csv(text, name)
    return _from_yaml(text, name)


def apply_attribute_overlay(
    records: Sequence[NodeRecord], overlay: Mapping[str, NodeAttributes]
) -> list[NodeRecord]:
    """``records`` with the overlay's fields set. InvalidInputError for overlay ids that
    are not among the records."""
    known = {r.id for r in records}
    unknown = [
        Problem(entry.where, f"{node_id!r} is not a node of this import")
        for node_id, entry in overlay.items()
        if node_id not in known
    ]
    if unknown:
        raise InvalidInputError(unknown)
    out = []
    for record in records:
        entry = overlay.get(record.id)
        if entry is None:
            out.append(record)
            continue
        attrs = dict(record.attrs)
        for key in ("country", "sector"):
            value = getattr(entry, key)
            if value is not None:
                attrs[key] = value
        out.append(
            record.model_copy(
                update={
                    "name": entry.name if entry.name is not None else record.name,
                    "attrs": attrs,
                }
            )
        )
    return out


def _from_yaml(text: str, name: str) -> dict[str, NodeAttributes]:
    source = parse_yaml(text, name=name)
    data = source.data
    problems: list[Problem] = []
    pairs: list[tuple[str, object, tuple[str | int, ...]]] = []
    if isinstance(data, dict):
        pairs = [(str(k), v, (str(k),)) for k, v in data.items()]
    elif isinstance(data, list):
        for i, item in enumerate(data):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                problems.append(Problem(source.where((i,)), "expected a mapping with an id"))
                continue
            rest = {k: v for k, v in item.items() if k != "id"}
            pairs.append((item["id"], rest, (i,)))
    else:
        raise InvalidInputError(
            Problem(name, "expected a mapping from node id to {name, country, sector}")
        )
    overlay: dict[str, NodeAttributes] = {}
    for node_id, value, path in pairs:
        entry = validate_model(
            _Entry, value, lambda loc, p=path: source.where((*p, *loc)), problems
        )
        if entry is None:
            continue
        if node_id in overlay:
            problems.append(Problem(source.where(path), f"{node_id!r} is given twice"))
            continue
        overlay[node_id] = NodeAttributes(where=source.where(path), **entry.model_dump())
    if problems:
        raise InvalidInputError(problems)
    return overlay


def _from_csv(text: str, name: str) -> dict[str, NodeAttributes]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInputError(Problem(name, "empty file")) from None
    except csv.Error as exc:
        raise InvalidInputError(Problem(f"{name}:1", f"malformed CSV: {exc}")) from exc
    columns = [c.strip() for c in header]
    problems = [
        Problem(f"{name}:1", f"unknown column {c!r}; columns are id, {', '.join(FIELDS)}")
        for c in columns
        if c != "id" and c not in FIELDS
    ]
    if "id" not in columns:
        problems.append(Problem(f"{name}:1", "no id column"))
    if problems:
        raise InvalidInputError(problems)
    overlay: dict[str, NodeAttributes] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                problems.append(
                    Problem(f"{name}:{line}", f"{len(row)} cells for {len(columns)} columns")
                )
                continue
            cells = {c: v.strip() for c, v in zip(columns, row, strict=True) if v.strip()}
            node_id = cells.pop("id", "")
            where = f"{name}:{line}"
            entry = validate_model(
                _Entry, cells, lambda loc, w=where: f"{w}: {'.'.join(map(str, loc))}", problems
            )
            if entry is None:
                continue
            if not node_id:
                problems.append(Problem(where, "no id"))
            elif node_id in overlay:
                problems.append(Problem(where, f"{node_id!r} is given twice"))
            else:
                overlay[node_id] = NodeAttributes(where=where, **entry.model_dump())
    except csv.Error as exc:
        problems.append(Problem(f"{name}:{reader.line_num}", f"malformed CSV: {exc}"))
    if problems:
        raise InvalidInputError(problems)
    return overlay
