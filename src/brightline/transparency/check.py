"""Compare a published report with what the log gives, figure by figure.

Pure: the report's files (already read) and the figures recomputed from the log's
entries in, problems out, each naming the file, table, row and column that differ. The
caller recomputes the figures from the tiles (see ``brightline.service.transparency``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from brightline.ledger import Checkpoint, leaf_hash, verify_inclusion
from brightline.transparency.htmltables import html_tables
from brightline.transparency.model import InForce, PublishedTable
from brightline.transparency.site import (
    IN_FORCE,
    INDEX,
    MANIFEST,
    cell_text,
    chart_svg,
    in_force_cells,
    in_force_header,
    table_path,
)


def _first_difference(
    where: str, expected: Sequence[Sequence[Any]], published: Sequence[Sequence[Any]]
) -> str | None:
    """Rows of cells, the first cell being the row's label, the first row the header."""
    header = list(expected[0]) if expected else []
    for r, want in enumerate(expected):
        if r >= len(published):
            return f"{where}: row {want[0]!r} is missing"
        got = published[r]
        if r == 0 and list(got) != list(want):
            return f"{where}: the header is {list(got)}, not {list(want)}"
        if not got or got[0] != want[0]:
            return f"{where}: row {r} is {got[0] if got else None!r}, the log gives {want[0]!r}"
        for c, value in enumerate(want):
            if c >= len(got):
                return f"{where}: row {want[0]!r} has no column {header[c]!r}"
            if got[c] != value:
                column = header[c] if c < len(header) else str(c)
                return (
                    f"{where}: row {want[0]!r}, column {column!r}: published {got[c]!r}, "
                    f"the log gives {value!r}"
                )
        if len(got) != len(want):
            return f"{where}: row {want[0]!r} has {len(got)} cells, not {len(want)}"
    if len(published) > len(expected):
        return f"{where}: row {published[len(expected)][0]!r} is not in the log's figures"
    return None


def _json_rows(table: PublishedTable) -> list[list[Any]]:
    return [[table.label, *table.columns], *([label, *values] for label, values in table.rows)]


def _text_rows(table: PublishedTable, *, empty: str) -> list[list[str]]:
    return [
        [table.label, *table.columns],
        *([label, *(cell_text(v, empty=empty) for v in values)] for label, values in table.rows),
    ]


def _published_json_rows(value: Any) -> list[list[Any]]:
    if not isinstance(value, Mapping):
        return []
    rows: list[list[Any]] = [[value.get("label"), *(value.get("columns") or [])]]
    for row in value.get("rows") or []:
        if isinstance(row, Mapping):
            rows.append([row.get("label"), *(row.get("values") or [])])
    return rows


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))))


def _load(files: Mapping[str, bytes], path: str, problems: list[str]) -> Any:
    data = files.get(path)
    if data is None:
        problems.append(f"{path} is missing")
        return None
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{path} is not JSON: {exc}")
        return None


def check_tables(
    files: Mapping[str, bytes], manifest: Mapping[str, Any], expected: Sequence[PublishedTable]
) -> list[str]:
    """Every table, in the manifest, its JSON and CSV files and the HTML page."""
    problems: list[str] = []
    listed = {str(t.get("name")): t for t in manifest.get("tables") or [] if isinstance(t, Mapping)}
    names = [t.name for t in expected]
    extra = sorted(set(listed) - set(names))
    if extra:
        problems.append(f"{MANIFEST}: tables {extra} are not figures the log gives")
    html = files.get(INDEX)
    page = html_tables(html.decode("utf-8", errors="replace")) if html is not None else {}
    if html is None:
        problems.append(f"{INDEX} is missing")
    for table in expected:
        want_json = _json_rows(table)
        if table.name not in listed:
            problems.append(f"{MANIFEST}: table {table.name!r} is missing")
        else:
            diff = _first_difference(
                f"{MANIFEST} table {table.name}",
                want_json,
                _published_json_rows(listed[table.name]),
            )
            problems += [diff] if diff else []
        path = table_path(table.name, "json")
        published = _load(files, path, problems)
        if published is not None:
            diff = _first_difference(path, want_json, _published_json_rows(published))
            problems += [diff] if diff else []
        path = table_path(table.name, "csv")
        if (data := files.get(path)) is None:
            problems.append(f"{path} is missing")
        elif diff := _first_difference(path, _text_rows(table, empty=""), _csv_rows(data)):
            problems.append(diff)
        if html is not None:
            where = f"{INDEX} table {table.name}"
            rows = page.get(f"table-{table.name}")
            if rows is None:
                problems.append(f"{where} is missing")
            elif diff := _first_difference(where, _text_rows(table, empty="no data"), rows):
                problems.append(diff)
            svg = chart_svg(table)
            if svg is not None and svg not in html.decode("utf-8", errors="replace"):
                problems.append(f"{INDEX}: the chart of {table.name} is not the log's figures")
    return problems


def check_in_force(
    files: Mapping[str, bytes],
    *,
    expected: Sequence[InForce],
    fields: Sequence[str],
    entries: Sequence[bytes],
    checkpoint: Checkpoint,
) -> list[str]:
    """The list of restrictions in force (JSON, CSV, HTML), each entry and its proof."""
    problems: list[str] = []
    path = f"{IN_FORCE}.json"
    published = _load(files, path, problems)
    items = published.get("restrictions") if isinstance(published, Mapping) else None
    if published is not None and not isinstance(items, list):
        problems.append(f"{path} has no list of restrictions")
        items = None
    header = in_force_header(fields)
    want = [header, *(in_force_cells(i.to_json(), fields) for i in expected)]
    if items is not None:
        got_json = [header] + [
            in_force_cells(i, fields) if isinstance(i, Mapping) and "restriction" in i else ["?"]
            for i in items
        ]
        if diff := _first_difference(path, want, got_json):
            problems.append(diff)
        for item in items:
            problems += _check_proof(path, item, entries, checkpoint)
    csv_path = f"{IN_FORCE}.csv"
    if (data := files.get(csv_path)) is None:
        problems.append(f"{csv_path} is missing")
    elif diff := _first_difference(csv_path, want, _csv_rows(data)):
        problems.append(diff)
    html = files.get(INDEX)
    if html is not None:
        rows = html_tables(html.decode("utf-8", errors="replace")).get(f"table-{IN_FORCE}")
        where = f"{INDEX} table {IN_FORCE}"
        if rows is None:
            problems.append(f"{where} is missing")
        elif diff := _first_difference(where, want, rows):
            problems.append(diff)
    return problems


def _check_proof(
    path: str, item: Any, entries: Sequence[bytes], checkpoint: Checkpoint
) -> list[str]:
    if not isinstance(item, Mapping):
        return [f"{path}: an item is not an object"]
    name = item.get("restriction")
    index = item.get("entry")
    form = item.get("public_form")
    if not isinstance(index, int) or not 0 <= index < min(len(entries), checkpoint.size):
        return [f"{path}: restriction {name!r} names entry {index!r}, not in the log"]
    if not isinstance(form, str) or form.encode() != entries[index]:
        return [f"{path}: restriction {name!r}: its public form is not entry {index} of the log"]
    try:
        proof = [bytes.fromhex(str(h)) for h in item.get("inclusion_proof") or []]
    except ValueError:
        return [f"{path}: restriction {name!r}: its inclusion proof is not hex"]
    if not verify_inclusion(
        leaf_hash(form.encode()), index, checkpoint.size, proof, checkpoint.root_hash
    ):
        return [
            f"{path}: restriction {name!r}: the inclusion proof of entry {index} does not "
            f"verify against the checkpoint of size {checkpoint.size}"
        ]
    public = json.loads(form).get("public", {})
    if public.get("restriction") != name:
        return [f"{path}: entry {index} is about {public.get('restriction')!r}, not {name!r}"]
    return []
