"""Rule packs: a directory with ``pack.yaml``, ``rules/*.yaml`` and a fixture world.

Built-in packs ship with Brightline under ``brightline/detection/packs/<id>/``; ``--rules``
takes a built-in pack's id or a directory. A directory without ``pack.yaml`` is a pack of
its rules with review threshold 1 (every firing rule raises an alert).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from brightline.detection.model import PackSpec
from brightline.detection.rules import Rule, load_rule
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.world import Catalog, World, load_world, read_yaml
from brightline.world.sources import validate_model

PACK_FILE: Final = "pack.yaml"
RULES_DIR: Final = "rules"
BUILTIN_DIR: Final = Path(__file__).parent / "packs"
DEFAULT_PACK: Final = "mass-surveillance"


@dataclass(frozen=True, slots=True)
class Pack:
    spec: PackSpec
    rules: tuple[Rule, ...]
    directory: Path

    @property
    def id(self) -> str:
        return self.spec.id

    def levels(self) -> set[str]:
        return {rule.spec.level for rule in self.rules}

    def at_level(self, level: str) -> Pack:
        """The same rules, each rolled up at ``level`` (``subscription``, ``customer`` or a
        node kind such as ``unit``) instead of its own: so that an alert names the unit
        that does something, not only its customer. Alerts keep the pack's id."""
        rules = tuple(
            replace(rule, spec=rule.spec.model_copy(update={"level": level})) for rule in self.rules
        )
        return Pack(self.spec, rules, self.directory)

    def fixture_world(self) -> World:
        return load_world(self.directory / self.spec.fixture_world)

    def problems(self, catalog: Catalog) -> list[Problem]:
        """Everything that keeps the pack from running on ``catalog``."""
        problems: list[Problem] = []
        for rule in self.rules:
            problems += rule.problems(catalog)
        return problems


def builtin_packs() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / PACK_FILE).is_file()))


def builtin_policy_names() -> dict[str, str]:
    """The public name of each policy a built-in pack serves: the pack's ``title``."""
    names: dict[str, str] = {}
    for pack_id in builtin_packs():
        path = BUILTIN_DIR / pack_id / PACK_FILE
        source = read_yaml(path, name=str(path))
        problems: list[Problem] = []
        spec = validate_model(PackSpec, source.data, source.where, problems)
        if spec is None:
            raise InvalidInputError(problems)
        names[spec.policy] = spec.title
    return names


def resolve_pack(name_or_dir: str | None) -> Path:
    """A built-in pack's directory by id, or the directory given."""
    name = name_or_dir or DEFAULT_PACK
    builtin = BUILTIN_DIR / name
    if "/" not in name and (builtin / PACK_FILE).is_file():
        return builtin
    path = Path(name)
    if path.is_dir():
        return path
    raise NotFoundError(
        f"no rule pack {name!r}: give a directory or one of {', '.join(builtin_packs())}"
    )


def load_pack(name_or_dir: str | None = None) -> Pack:
    """Load and check a pack's files (not yet against a catalog: see :meth:`Pack.problems`)."""
    directory = resolve_pack(name_or_dir)
    problems: list[Problem] = []
    spec_path = directory / PACK_FILE
    if spec_path.is_file():
        source = read_yaml(spec_path, name=str(spec_path))
        spec = validate_model(PackSpec, source.data, source.where, problems)
        rules_dir = directory / RULES_DIR
    else:
        spec = PackSpec(
            id=directory.resolve().name or "rules",
            title=str(directory),
            policy="unspecified",
            review_threshold=1,
        )
        rules_dir = directory / RULES_DIR if (directory / RULES_DIR).is_dir() else directory
    rules: list[Rule] = []
    for path in sorted(rules_dir.glob("*.yaml")):
        try:
            rules.append(load_rule(path))
        except InvalidInputError as exc:
            problems.extend(exc.problems)
    if spec is None or problems:
        raise InvalidInputError(problems)
    if not rules:
        raise InvalidInputError(Problem(str(rules_dir), "no rule files (*.yaml)"))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            problems.append(Problem(rule.source, f"duplicate rule id {rule.id!r}"))
        seen.add(rule.id)
        if spec.select_by == "tags" and _selects_by_id(rule):
            problems.append(
                Problem(rule.source, "this pack selects services by tag only (select_by: tags)")
            )
    if problems:
        raise InvalidInputError(problems)
    return Pack(spec, tuple(rules), directory)


def _selects_by_id(rule: Rule) -> bool:
    selections = [rule.spec.select] if rule.spec.select is not None else []
    metrics = getattr(rule.kind, "metrics", [])
    selections += [m.select for m in metrics]
    return any(s.services for s in selections if s is not None)
