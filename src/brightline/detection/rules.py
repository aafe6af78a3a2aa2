"""A rule as loaded: its common fields, its kind's parameters, and its compiled query."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brightline.detection.kinds import RULE_KINDS, RuleKind
from brightline.detection.model import RuleSpec, Selection
from brightline.detection.neutral import NeutralQuery, compile_sql
from brightline.errors import InvalidInputError, Problem
from brightline.world import Catalog, LocatedYaml, parse_yaml, read_yaml
from brightline.world.sources import validate_model


@dataclass(frozen=True, slots=True)
class Rule:
    spec: RuleSpec
    kind: RuleKind
    source: str = ""

    @property
    def id(self) -> str:
        return self.spec.id

    def problems(self, catalog: Catalog) -> list[Problem]:
        """What is wrong with the rule against ``catalog`` (empty when it can run)."""
        return self.kind.problems(self.spec, catalog)

    def selections(self) -> list[Selection | None]:
        """The selections the rule reads usage through (``None``: all usage)."""
        return self.kind.selections(self.spec)

    def compile(self, catalog: Catalog) -> NeutralQuery:
        """The engine-neutral query for this catalog; InvalidInputError if it cannot run."""
        problems = self.problems(catalog)
        if problems:
            raise InvalidInputError(problems)
        return compile_sql(self.spec.id, self.kind.query(self.spec, catalog))


def rule_from_yaml(source: LocatedYaml) -> Rule:
    """Parse one rule document; every problem is reported with its file and line."""
    problems: list[Problem] = []
    spec = validate_model(RuleSpec, source.data, source.where, problems)
    if spec is None:
        raise InvalidInputError(problems)
    kind_class = RULE_KINDS.get(spec.kind)
    if kind_class is None:
        raise InvalidInputError(
            Problem(
                source.where(("kind",)), f"unknown kind {spec.kind!r}; known: {sorted(RULE_KINDS)}"
            )
        )
    kind = validate_model(
        kind_class, spec.params, lambda loc: source.where(("params", *loc)), problems
    )
    if kind is None:
        raise InvalidInputError(problems)
    return Rule(spec, kind, source.file)


def load_rule(path: Path) -> Rule:
    return rule_from_yaml(read_yaml(path, name=str(path)))


def parse_rule(text: str, *, name: str = "<rule>") -> Rule:
    return rule_from_yaml(parse_yaml(text, name=name))
