"""Transparency reports: counts anyone can recompute from the public ledger.

Pure: public ledger entries in, tables out (:func:`compute_figures`), small counts
suppressed (:func:`suppress`), rendered as a static site (:func:`render_site`) and
checked against figures recomputed from the log (:func:`check_tables`,
:func:`check_in_force`). Reading the store, exporting tiles and writing files is
``brightline.service.transparency``'s job.
"""

from brightline.transparency.aggregate import NOT_PUBLISHED, compute_figures
from brightline.transparency.check import check_in_force, check_tables
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
    build_report,
    published_tables,
)
from brightline.transparency.site import INDEX, MANIFEST, render_site
from brightline.transparency.suppression import SECONDARY, small, suppress

__all__ = [
    "DEFAULT_FIELDS",
    "FORMAT",
    "INDEX",
    "LISTABLE_FIELDS",
    "MANIFEST",
    "NOT_PUBLISHED",
    "SECONDARY",
    "ColumnKind",
    "Figures",
    "InForce",
    "Parameters",
    "Period",
    "ProvenInForce",
    "PublicEntry",
    "PublishedCell",
    "PublishedTable",
    "Report",
    "Row",
    "Table",
    "build_report",
    "check_fields",
    "check_in_force",
    "check_k",
    "check_tables",
    "compute_figures",
    "published_tables",
    "render_site",
    "small",
    "suppress",
]
