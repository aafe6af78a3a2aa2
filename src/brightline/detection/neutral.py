"""One rule, two engines: the engine-neutral query and its DuckDB and Spark renderings.

A rule's SQL is parsed once into a sqlglot expression tree (the neutral form) and
rendered per engine with unsupported constructs raised as errors. That is not enough on
its own: sqlglot has rendered ``QUANTILE_CONT`` as SQL that Spark rejects, and
``PERCENTILE_CONT … WITHIN GROUP`` as an approximate percentile, without a word. So the
tree may only use the functions in :data:`ALLOWED_FUNCTIONS`, whose meaning is the same on
both engines; anything else is refused at compile time. Every rule's fixtures also run on
both engines in the tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from brightline.errors import InvalidInputError, Problem


class Dialect(enum.StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"


#: sqlglot function nodes that mean the same on DuckDB and Spark (exact aggregates and
#: arithmetic only; no percentiles, no approximations, no date functions).
ALLOWED_FUNCTIONS: Final[frozenset[type]] = frozenset(
    {
        exp.Sum,
        exp.Count,
        exp.Min,
        exp.Max,
        exp.Sqrt,
        exp.Greatest,
        exp.Coalesce,
        exp.Cast,
        exp.Floor,
        exp.Case,
        exp.If,
        exp.And,
        exp.Or,
        exp.Not,
    }
)


@dataclass(frozen=True, slots=True)
class NeutralQuery:
    """A rule's query, compiled once; ``render`` gives each engine's SQL."""

    rule_id: str
    tree: exp.Expr

    def render(self, dialect: Dialect) -> str:
        try:
            return self.tree.sql(dialect=dialect.value, unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as exc:
            raise InvalidInputError(
                Problem(self.rule_id, f"cannot render for {dialect.value}: {exc}")
            ) from exc


def compile_sql(rule_id: str, sql: str) -> NeutralQuery:
    """A query, or a condition such as the usage a run reads (see ``kinds.usage_read``)."""
    try:
        tree = sqlglot.parse_one(sql, error_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise InvalidInputError(Problem(rule_id, f"query does not parse: {exc}")) from exc
    for node in tree.walk():
        if isinstance(node, exp.Func) and type(node) not in ALLOWED_FUNCTIONS:
            raise InvalidInputError(
                Problem(
                    rule_id,
                    f"function {node.sql()!r} is not known to behave the same on every engine",
                )
            )
    return NeutralQuery(rule_id, tree)
