"""Use cases on world files alone, with no store: load, validate, compile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from brightline.errors import InvalidInputError, Problem
from brightline.policy import (
    RESTRICTIONS_FILE,
    Notice,
    Restriction,
    RestrictionRecord,
    Snapshot,
    load_restrictions,
)
from brightline.world import LocatedYaml, World, load_world, read_yaml
from brightline.world.sources import validate_model


@dataclass(frozen=True, slots=True)
class LoadedWorld:
    world: World
    restrictions: tuple[Restriction, ...]

    def snapshot(self, *, notice: Notice | None = None) -> Snapshot:
        return Snapshot(self.world, self.restrictions, notice=notice)


def load_world_dir(directory: Path) -> LoadedWorld:
    """Load a world directory and its ``restrictions.yaml`` when present.

    Raises InvalidInputError listing every problem; restrictions are checked only
    against a world that loaded, since they name its nodes, services and regions.
    """
    if not directory.is_dir():
        raise InvalidInputError(Problem(str(directory), "not a directory"))
    path = directory / RESTRICTIONS_FILE
    try:
        world = load_world(directory)
    except InvalidInputError as exc:
        # Still report what can be checked of the restrictions without a world.
        problems = list(exc.problems)
        if path.is_file():
            problems.extend(restriction_syntax_problems(path))
        raise InvalidInputError(problems) from exc
    restrictions = load_restrictions(path, world) if path.is_file() else ()
    return LoadedWorld(world, restrictions)


def restriction_syntax_problems(path: Path) -> list[Problem]:
    """Problems of a restrictions file that need no world: YAML and field errors."""
    try:
        source = read_yaml(path)
    except InvalidInputError as exc:
        return list(exc.problems)
    if source.data is None:
        return []
    items = source.data if isinstance(source.data, list) else [source.data]
    problems: list[Problem] = []
    for i, item in enumerate(items):
        validate_model(RestrictionRecord, item, _located(source, i), problems)
    return problems


def _located(source: LocatedYaml, item: int) -> Callable[[Sequence[str | int]], str]:
    return lambda loc: source.where((item, *loc))
