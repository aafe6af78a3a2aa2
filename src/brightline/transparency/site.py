"""A report as a static site: ``index.html`` (tables, charts, plain words), ``report.json``
(the manifest), and a JSON and a CSV file per table. No asset from the internet.

Pure: returns file contents by relative path; the service writes them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from brightline.charts import bar_chart
from brightline.transparency.model import PublishedCell, PublishedTable
from brightline.transparency.report import FORMAT, Report

MANIFEST: Final = "report.json"
INDEX: Final = "index.html"
IN_FORCE: Final = "restrictions-in-force"
IN_FORCE_TITLE: Final = "Restrictions in force at the end of the period"


def table_path(name: str, suffix: str) -> str:
    return f"tables/{name}.{suffix}"


def cell_text(value: PublishedCell | list[Any], *, empty: str = "") -> str:
    """A cell as CSV and HTML show it (the same text, so both can be checked alike)."""
    if value is None:
        return empty
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def chart_svg(table: PublishedTable) -> str | None:
    """The bar chart of a table's chart column: published numbers only (suppressed
    categories are not drawn), never the total row."""
    column = table.chart_column
    if column is None:
        return None
    rows = table.rows[:-1] if table.total else table.rows
    bars = [
        (label, float(value))
        for label, values in rows
        if isinstance(value := values[column], int) and not isinstance(value, bool)
    ]
    return bar_chart(f"{table.title}: {table.columns[column]}", bars)


def table_csv(table: PublishedTable) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([table.label, *table.columns])
    for label, values in table.rows:
        writer.writerow([label, *(cell_text(v) for v in values)])
    return out.getvalue().encode()


def in_force_header(fields: Sequence[str]) -> list[str]:
    return ["restriction", *fields, "ledger entry"]


def in_force_cells(item: Mapping[str, Any], fields: Sequence[str]) -> list[str]:
    return [
        str(item["restriction"]),
        *(cell_text(item.get(f), empty="not published") for f in fields),
        str(item["entry"]),
    ]


def in_force_csv(items: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(in_force_header(fields))
    for item in items:
        writer.writerow(in_force_cells(item, fields))
    return out.getvalue().encode()


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


def manifest(report: Report) -> dict[str, Any]:
    checkpoint = report.checkpoint
    return {
        "format": FORMAT,
        "generator": report.generator,
        **report.parameters.to_json(),
        "checkpoint": {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": checkpoint.root_hash.hex(),
            "note": report.checkpoint_note,
        },
        "tiles": report.tiles,
        "tables": [
            {**t.to_json(), "json": table_path(t.name, "json"), "csv": table_path(t.name, "csv")}
            for t in report.tables
        ],
        "restrictions_in_force": {
            "json": f"{IN_FORCE}.json",
            "csv": f"{IN_FORCE}.csv",
            "count": len(report.in_force),
        },
        **(_private().manifest_member(report.private) if report.private else {}),
    }


def in_force_json(report: Report) -> dict[str, Any]:
    return {
        "title": IN_FORCE_TITLE,
        "fields": list(report.parameters.fields),
        "checkpoint_size": report.checkpoint.size,
        "restrictions": [p.to_json() for p in report.in_force],
    }


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("brightline.transparency", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = lambda v: cell_text(v, empty="no data")
    return env


def render_index(report: Report) -> str:
    fields = list(report.parameters.fields)
    items = [p.item.to_json() for p in report.in_force]
    tables = [
        {
            "table": t,
            # charts.py escapes every label it draws: its SVG is safe to embed as is.
            "chart": Markup(svg) if (svg := chart_svg(t)) is not None else None,
            "json": table_path(t.name, "json"),
            "csv": table_path(t.name, "csv"),
        }
        for t in report.tables
    ]
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            report=report,
            parameters=report.parameters.to_json(),
            tables=tables,
            in_force_header=in_force_header(fields),
            in_force_rows=[in_force_cells(i, fields) for i in items],
            in_force_title=IN_FORCE_TITLE,
            in_force_json=f"{IN_FORCE}.json",
            in_force_csv=f"{IN_FORCE}.csv",
            root=report.checkpoint.root_hash.hex(),
            private=_private().page_context(report.private) if report.private else None,
        )
    )


def render_site(report: Report) -> dict[str, bytes]:
    """Every file of the site, by path relative to the report directory."""
    files: dict[str, bytes] = {}
    for table in report.tables:
        files[table_path(table.name, "json")] = _json(table.to_json())
        files[table_path(table.name, "csv")] = table_csv(table)
    files[f"{IN_FORCE}.json"] = _json(in_force_json(report))
    files[f"{IN_FORCE}.csv"] = in_force_csv(
        [p.item.to_json() for p in report.in_force], report.parameters.fields
    )
    if report.private is not None:
        files.update(_private().files(report.private))
    files[MANIFEST] = _json(manifest(report))
    files[INDEX] = render_index(report).encode()
    return files


def _private() -> Any:
    # private_site renders with this module's table helpers: imported when used, not at
    # the top, so that neither module needs the other first.
    from brightline.transparency import private_site

    return private_site
