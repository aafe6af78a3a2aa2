from __future__ import annotations

import re
from pathlib import Path

import pytest

import brightline.detection as detection
from brightline.detection import (
    RULE_KINDS,
    Dialect,
    Engine,
    Pack,
    compile_sql,
    load_pack,
    parse_rule,
    run_fixtures,
)
from brightline.errors import InvalidInputError

PACK = load_pack("mass-surveillance")


def test_public_api_is_exported() -> None:
    for name in detection.__all__:
        assert hasattr(detection, name)


def test_builtin_pack_rules_pass_their_fixtures(engine: Engine) -> None:
    results = run_fixtures(PACK, engine)
    assert len(results) >= 2 * len(PACK.rules)
    assert [r.detail for r in results if not r.passed] == []


def _docstring_rule(kind: type) -> str:
    doc = kind.__doc__ or ""
    example = doc.split("Example::", 1)[1]
    lines = [line[8:] if line.startswith("        ") else line for line in example.splitlines()]
    return "\n".join(lines).strip()


def test_every_kind_has_a_docstring_example_that_passes(engine: Engine) -> None:
    rules = tuple(parse_rule(_docstring_rule(k), name=k.name) for k in RULE_KINDS.values())
    assert {r.spec.kind for r in rules} == set(RULE_KINDS)
    pack = Pack(PACK.spec, rules, PACK.directory)
    results = run_fixtures(pack, engine)
    assert [f"{r.rule}: {r.detail}" for r in results if not r.passed] == []


def test_builtin_pack_selects_by_tag_only() -> None:
    text = "\n".join(Path(r.source).read_text() for r in PACK.rules)
    assert "services:" not in text
    assert PACK.spec.select_by == "tags"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT QUANTILE_CONT(quantity, 0.5) AS q FROM daily",
        "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY quantity) AS q FROM daily",
        "SELECT APPROX_COUNT_DISTINCT(node) AS q FROM daily",
    ],
)
def test_functions_that_differ_between_engines_are_refused(sql: str) -> None:
    with pytest.raises(InvalidInputError, match="same on every engine"):
        compile_sql("r", sql)


def test_one_neutral_query_renders_for_both_engines() -> None:
    world = PACK.fixture_world()
    for rule in PACK.rules:
        query = rule.compile(world.catalog)
        duck, spark = query.render(Dialect.DUCKDB), query.render(Dialect.SPARK)
        assert "SELECT" in duck
        assert "SELECT" in spark
        assert not re.search(r"QUANTILE|PERCENTILE|APPROX", duck + spark, re.I)


def test_unknown_kind_and_bad_params_are_reported_with_their_line() -> None:
    base = _docstring_rule(RULE_KINDS["threshold"])
    with pytest.raises(InvalidInputError, match="unknown kind"):
        parse_rule(base.replace("kind: threshold", "kind: magic"))
    with pytest.raises(InvalidInputError, match=r"<rule>:\d+: params"):
        parse_rule(base.replace("at_least: 200000", "at_least: -1"))


def test_selection_by_unknown_tag_is_refused() -> None:
    base = _docstring_rule(RULE_KINDS["threshold"])
    with pytest.raises(InvalidInputError, match="unknown service tag"):
        parse_rule(base.replace("tags: [speech-to-text]", "tags: [telepathy]"))
