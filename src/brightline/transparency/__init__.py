"""Transparency reports: counts anyone can recompute from the public ledger.

Pure: public ledger entries in, tables out (:func:`compute_figures`), small counts
suppressed (:func:`suppress`; the restriction tables together with every report released
before, :func:`suppress_series`), rendered as a static site (:func:`render_site`) and
checked, file by file, against the site re-rendered from figures recomputed from the log
(:func:`check_site`). Reading the store, exporting tiles and writing files is
``brightline.service.transparency``'s job.
"""

from brightline.transparency.aggregate import NOT_PUBLISHED, compute_figures
from brightline.transparency.check import (
    check_complete,
    check_site,
    series_left_out,
    strict_json,
)
from brightline.transparency.model import (
    DEFAULT_FIELDS,
    LISTABLE_FIELDS,
    ColumnKind,
    Figures,
    InForce,
    Period,
    PublicEntry,
    PublishedCell,
    PublishedTable,
    Row,
    Table,
    check_fields,
    check_k,
)
from brightline.transparency.report import (
    FORMAT,
    Parameters,
    ProvenInForce,
    Report,
    Stated,
    build_report,
    published_tables,
)
from brightline.transparency.series import SeriesRelease, released, suppress_series
from brightline.transparency.site import INDEX, MANIFEST, render_site
from brightline.transparency.spells import TABLES as RESTRICTION_TABLES
from brightline.transparency.suppression import (
    SECONDARY,
    Interval,
    feasible_intervals,
    small,
    suppress,
    suppress_tables,
)

__all__ = [
    "DEFAULT_FIELDS",
    "FORMAT",
    "INDEX",
    "LISTABLE_FIELDS",
    "MANIFEST",
    "NOT_PUBLISHED",
    "RESTRICTION_TABLES",
    "SECONDARY",
    "ColumnKind",
    "Figures",
    "InForce",
    "Interval",
    "Parameters",
    "Period",
    "ProvenInForce",
    "PublicEntry",
    "PublishedCell",
    "PublishedTable",
    "Report",
    "Row",
    "SeriesRelease",
    "Stated",
    "Table",
    "build_report",
    "check_complete",
    "check_fields",
    "check_k",
    "check_site",
    "compute_figures",
    "feasible_intervals",
    "published_tables",
    "released",
    "render_site",
    "series_left_out",
    "small",
    "strict_json",
    "suppress",
    "suppress_series",
    "suppress_tables",
]
