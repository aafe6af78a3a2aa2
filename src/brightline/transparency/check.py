"""Compare a published report with the report the log gives, file by file, byte for byte.

Pure: the report's files (already read) and the report rebuilt from the log (figures
recomputed from the entries, the stated parameters, proofs recomputed from the tiles) in,
problems out. :func:`render_site` is deterministic, so an honest report is the very same
bytes; anything else (a hidden table, a style, a comment, a changed sentence, a link, an
extra file) is a difference. For the files that hold figures, the problem names the table,
row and column that differ, which says more to a reader than a line number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from brightline.generalization import TimeGranularity, next_boundary
from brightline.ledger import Checkpoint, leaf_hash, verify_inclusion
from brightline.limits import MAX_DEPTH, MAX_JSON_BYTES, json_depth
from brightline.transparency.htmltables import html_tables
from brightline.transparency.model import PublicEntry, PublishedTable, format_time
from brightline.transparency.private_doc import PrivateFigures
from brightline.transparency.private_figures import RELEASE_EVENT
from brightline.transparency.private_site import published_tables as private_tables
from brightline.transparency.report import Report
from brightline.transparency.site import (
    IN_FORCE,
    INDEX,
    MANIFEST,
    cell_text,
    in_force_cells,
    in_force_header,
    render_site,
)


def strict_json(data: bytes) -> Any:
    """JSON as the report writes it: UTF-8, no duplicate key, no NaN or Infinity.
    Raises ValueError (``json.JSONDecodeError`` and ``UnicodeDecodeError`` are ones)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"duplicate key {duplicates[0]!r}")
        return dict(items)

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"over {MAX_JSON_BYTES} bytes")
    if json_depth(data) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return json.loads(data.decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)


def check_site(
    published: Mapping[str, bytes], expected: Report, *, entries: Sequence[bytes]
) -> list[str]:
    """Every file :func:`render_site` writes for ``expected`` must be in ``published``
    with the same bytes, and nothing else may be; one problem per file that differs, in
    the order: manifest, tables, restrictions in force, page, then extra files.
    ``entries`` are the log's (to say which listed entry or proof is not the log's)."""
    files = render_site(expected)
    order = [MANIFEST, *sorted(p for p in files if p not in (MANIFEST, INDEX)), INDEX]
    problems: list[str] = []
    for path in order:
        got = published.get(path)
        if got is None:
            problems.append(f"{path} is missing")
        elif got != files[path]:
            problems.append(_describe(path, got, files[path], expected, entries))
    for path in sorted(set(published) - set(files)):
        problems.append(f"{path} is not part of the report the log gives (an extra file)")
    return problems


def check_complete(
    entries: Sequence[PublicEntry],
    *,
    checkpoint_size: int,
    as_of: datetime,
    granularity: TimeGranularity = TimeGranularity.DAY,
) -> str | None:
    """A report counts what happened before ``as_of`` among the entries under its
    checkpoint: an entry logged after the checkpoint (index ``checkpoint_size`` or more)
    that happened before ``as_of`` is one the report leaves out. A published time is the
    start of the event's day (week, month): an entry is known to have happened before
    ``as_of`` only when its whole day did, so one logged late on the day of ``as_of``
    is not held against the report."""
    late = [e for e in entries[checkpoint_size:] if next_boundary(e.time, granularity) <= as_of]
    if not late:
        return None
    more = f" and {len(late) - 1} more" if len(late) > 1 else ""
    return (
        f"entry {late[0].index} of the log ({format_time(late[0].time)}){more} happened before "
        f"the time the report's figures hold at ({format_time(as_of)}) but is not under its "
        f"checkpoint of {checkpoint_size} entries: the report leaves it out"
    )


def series_left_out(
    entries: Sequence[PublicEntry], *, series: int, private: PrivateFigures | None
) -> str | None:
    """Words of warning if the log under a report's checkpoint (``entries``) may hold more
    series releases than the ``series`` earlier reports the report states it was
    suppressed with; None if not.

    Every release is published as a ``transparency.released`` entry, its type and day
    only. The report's signed private figures name its own release and every earlier one
    with the ε it spent: a release of figures spends some, a series release none (it is
    listed with ε = 0). Every release entry not known to be one of figures is counted as
    possibly one of the series."""
    figures: set[int] = set()
    if private is not None:
        figures = {private.release_entry}
        figures |= {r.entry for r in private.releases if r.epsilon > 0 and r.entry is not None}
    others = [e.index for e in entries if e.event_type == RELEASE_EVENT and e.index not in figures]
    if len(others) <= series:
        return None
    return (
        f"the log holds {len(others)} transparency releases before this report's checkpoint "
        f"that may be earlier reports' series releases (entries {', '.join(map(str, others))}); "
        f"the report was suppressed with {series} of them (report.json, series): a figure "
        "it shows may give away one an earlier report hid"
    )


def _describe(path: str, got: bytes, want: bytes, report: Report, entries: Sequence[bytes]) -> str:
    """The most precise words for how ``got`` differs from ``want``."""
    tables = {t.name: t for t in (*report.tables, *private_tables(report.private))}
    precise: str | None = None
    if path.endswith(".json"):
        try:
            value = strict_json(got)
        except ValueError as exc:
            return f"{path} is not JSON as the report writes it: {exc}"
        if path == MANIFEST:
            precise = _manifest_difference(value, report.tables)
        elif path == f"{IN_FORCE}.json":
            precise = _in_force_json_difference(path, value, report, entries)
        elif (name := path.removeprefix("tables/").removesuffix(".json")) in tables:
            precise = _first_difference(path, _json_rows(tables[name]), _published_json_rows(value))
    elif path.endswith(".csv"):
        rows = _csv_rows(got)
        if path == f"{IN_FORCE}.csv":
            precise = _first_difference(path, _in_force_rows(report), rows)
        elif (name := path.removeprefix("tables/").removesuffix(".csv")) in tables:
            precise = _first_difference(path, _text_rows(tables[name], empty=""), rows)
    elif path == INDEX:
        precise = _page_difference(got, report)
    return precise or _line_difference(path, got, want)


def _line_difference(path: str, got: bytes, want: bytes) -> str:
    got_lines = got.decode("utf-8", errors="replace").splitlines(keepends=True)
    want_lines = want.decode("utf-8", errors="replace").splitlines(keepends=True)
    for n, (a, b) in enumerate(zip(got_lines, want_lines, strict=False), start=1):
        if a != b:
            return (
                f"{path}, line {n}: published {_clip(a)!r}, the report the log gives has "
                f"{_clip(b)!r}"
            )
    return (
        f"{path} has {len(got_lines)} lines, the report the log gives {len(want_lines)} "
        f"(line {min(len(got_lines), len(want_lines)) + 1} differs)"
    )


def _clip(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _same(a: Any, b: Any) -> bool:
    # By their JSON text: true is not 1 and 2.0 is not 2.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _first_difference(
    where: str, expected: Sequence[Sequence[Any]], published: Sequence[Sequence[Any]]
) -> str | None:
    """Rows of cells, the first cell being the row's label, the first row the header."""
    header = list(expected[0]) if expected else []
    for r, want in enumerate(expected):
        if r >= len(published):
            return f"{where}: row {want[0]!r} is missing"
        got = published[r]
        if r == 0 and not _same(list(got), list(want)):
            return f"{where}: the header is {list(got)}, not {list(want)}"
        if not got or not _same(got[0], want[0]):
            return f"{where}: row {r} is {got[0] if got else None!r}, the log gives {want[0]!r}"
        for c, value in enumerate(want):
            if c >= len(got):
                return f"{where}: row {want[0]!r} has no column {header[c]!r}"
            if not _same(got[c], value):
                column = header[c] if c < len(header) else str(c)
                return (
                    f"{where}: row {want[0]!r}, column {column!r}: published {got[c]!r}, "
                    f"the log gives {value!r}"
                )
        if len(got) != len(want):
            return f"{where}: row {want[0]!r} has {len(got)} cells, not {len(want)}"
    if len(published) > len(expected):
        extra = published[len(expected)]
        return f"{where}: row {extra[0] if extra else None!r} is not in the log's figures"
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
    columns = value.get("columns")
    rows: list[list[Any]] = [[value.get("label"), *(columns if isinstance(columns, list) else [])]]
    listed = value.get("rows")
    for row in listed if isinstance(listed, list) else []:
        if isinstance(row, Mapping):
            values = row.get("values")
            rows.append([row.get("label"), *(values if isinstance(values, list) else [])])
        else:
            rows.append([None])
    return rows


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))))


def _manifest_difference(value: Any, expected: Sequence[PublishedTable]) -> str | None:
    listed = value.get("tables") if isinstance(value, Mapping) else None
    if not isinstance(listed, list):
        return f"{MANIFEST} has no list of tables"
    names = [t.get("name") if isinstance(t, Mapping) else None for t in listed]
    if len(set(map(str, names))) != len(names):
        return f"{MANIFEST}: a table is listed twice"
    extra = [n for n in names if n not in {t.name for t in expected}]
    if extra:
        return f"{MANIFEST}: table {extra[0]!r} is not a figure the log gives"
    by_name = {str(t.get("name")): t for t in listed if isinstance(t, Mapping)}
    for table in expected:
        if table.name not in by_name:
            return f"{MANIFEST}: table {table.name!r} is missing"
        diff = _first_difference(
            f"{MANIFEST} table {table.name}",
            _json_rows(table),
            _published_json_rows(by_name[table.name]),
        )
        if diff:
            return diff
    return None


def _in_force_rows(report: Report) -> list[list[str]]:
    fields = report.parameters.fields
    return [
        in_force_header(fields),
        *(in_force_cells(p.item.to_json(), fields) for p in report.in_force),
    ]


def _in_force_json_difference(
    path: str, value: Any, report: Report, entries: Sequence[bytes]
) -> str | None:
    items = value.get("restrictions") if isinstance(value, Mapping) else None
    if not isinstance(items, list):
        return f"{path} has no list of restrictions"
    fields = report.parameters.fields
    got = [in_force_header(fields)] + [
        in_force_cells(i, fields) if isinstance(i, Mapping) and "restriction" in i else ["?"]
        for i in items
    ]
    if diff := _first_difference(path, _in_force_rows(report), got):
        return diff
    for item in items:
        if problem := _check_proof(path, item, entries, report.checkpoint):
            return problem
    return None


def _page_difference(html: bytes, report: Report) -> str | None:
    page = html_tables(html.decode("utf-8", errors="replace"))
    for table in (*report.tables, *private_tables(report.private)):
        where = f"{INDEX} table {table.name}"
        rows = page.get(f"table-{table.name}")
        if rows is None:
            return f"{where} is missing"
        if diff := _first_difference(where, _text_rows(table, empty="no data"), rows):
            return diff
    rows = page.get(f"table-{IN_FORCE}")
    if rows is None:
        return f"{INDEX} table {IN_FORCE} is missing"
    return _first_difference(f"{INDEX} table {IN_FORCE}", _in_force_rows(report), rows)


def _check_proof(
    path: str, item: Any, entries: Sequence[bytes], checkpoint: Checkpoint
) -> str | None:
    if not isinstance(item, Mapping):
        return f"{path}: an item is not an object"
    name = item.get("restriction")
    index = item.get("entry")
    if (
        isinstance(index, bool)
        or not isinstance(index, int)
        or not 0 <= index < min(len(entries), checkpoint.size)
    ):
        return f"{path}: restriction {name!r} names entry {index!r}, not in the log"
    leaf = leaf_hash(entries[index])
    if item.get("leaf_hash") != leaf.hex():
        return f"{path}: restriction {name!r}: its leaf hash is not entry {index}'s in the log"
    proof_hex = item.get("inclusion_proof")
    try:
        proof = [bytes.fromhex(h) for h in proof_hex] if isinstance(proof_hex, list) else None
    except (TypeError, ValueError):
        proof = None
    if proof is None:
        return f"{path}: restriction {name!r}: its inclusion proof is not a list of hex hashes"
    if not verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root_hash):
        return (
            f"{path}: restriction {name!r}: the inclusion proof of entry {index} does not "
            f"verify against the checkpoint of size {checkpoint.size}"
        )
    return None
