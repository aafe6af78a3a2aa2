"""Use cases of detection: run a pack over the stored telemetry, test a pack's rules,
suppress a rule for a node. The alerts file is ``<data dir>/alerts.jsonl`` by default."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from brightline.config import Settings
from brightline.detection import (
    AlertsWritten,
    DetectionRun,
    Engine,
    FixtureResult,
    Rule,
    Suppression,
    Usage,
    Watch,
    add_suppression,
    create_engine,
    load_pack,
    read_suppressions,
    run_fixtures,
    run_pack,
    write_alerts,
)
from brightline.errors import InvalidInputError, Problem
from brightline.policy import Restriction
from brightline.service.offline import load_world_dir
from brightline.service.telemetry import telemetry_dataset
from brightline.world import World

ALERTS_FILE: Final = "alerts.jsonl"
SUPPRESSIONS_FILE: Final = "suppressions.jsonl"


@dataclass(frozen=True, slots=True)
class DetectResult:
    run: DetectionRun
    written: AlertsWritten


def suppressions_path(settings: Settings) -> Path:
    return settings.data_dir / SUPPRESSIONS_FILE


def detect(
    settings: Settings,
    *,
    world: World,
    now: datetime,
    rules: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    out: Path | None = None,
    on_rule: Callable[[Rule], None] | None = None,
    engine_instance: Engine | None = None,
    level: str | None = None,
    restrictions: Sequence[Restriction] = (),
) -> DetectResult:
    """Run a pack over every stored metering row; write its alerts (updating, not
    duplicating, alerts already in the file). Each alert names the narrowest node that
    carries the pattern; ``level`` instead rolls every rule up at that fixed level (for
    example ``unit``) and names the nodes there. ``restrictions`` (those in the store,
    or the world directory's) are watched for evasion while in force."""
    pack = load_pack(rules)
    if level is not None:
        if level not in {"subscription", "customer"} and not any(
            node.kind == level for node in world.directory
        ):
            raise InvalidInputError(
                Problem("--level", f"{level!r} is neither subscription, customer nor a node kind")
            )
        pack = pack.at_level(level)
    usage = Usage.from_files(telemetry_dataset(settings).files())
    runner = engine_instance or create_engine(engine, spark_master=spark_master)
    try:
        run = run_pack(
            pack,
            world,
            runner,
            usage,
            suppressions=read_suppressions(suppressions_path(settings)),
            now=now,
            on_rule=on_rule,
            localize=level is None,
            watches=watches_in_force(restrictions, world, now),
        )
    finally:
        if engine_instance is None:
            runner.close()
    written = write_alerts(out or settings.data_dir / ALERTS_FILE, run.alerts, now=now)
    return DetectResult(run, written)


def watches_in_force(
    restrictions: Sequence[Restriction], world: World, now: datetime
) -> list[Watch]:
    """The restrictions the evasion watch follows: enforced, started (a start date to
    compare before and after with) and not yet ended at ``now``, on a known node."""
    watches = []
    for r in restrictions:
        if not r.enforcing or r.not_before is None or not r.in_window(now):
            continue
        if r.scope not in world.directory:
            continue
        actions = frozenset(
            pair for pattern in r.actions for pair in pattern.actions(world.catalog)
        )
        watches.append(
            Watch(
                restriction=r.id,
                case=str(r.reason.get("case", "")),
                scope=r.scope,
                exempt=tuple(r.exempt),
                actions=actions,
                regions=r.regions,
                since=r.not_before.astimezone(UTC).date(),
            )
        )
    return watches


def restrictions_for(
    settings: Settings, world_dir: Path | None, at: datetime
) -> tuple[Restriction, ...]:
    """The restrictions of ``world_dir`` (its ``restrictions.yaml``), or the store's in
    force at ``at``."""
    if world_dir is not None:
        return load_world_dir(world_dir).restrictions
    from brightline.service.snapshots import snapshot_at

    return tuple(snapshot_at(settings, at).restrictions)


def run_rule_tests(
    *,
    rules: str | None = None,
    engines: tuple[str, ...] = ("duckdb",),
    spark_master: str | None = None,
) -> list[FixtureResult]:
    """Every rule's own positive and negative fixtures, on each engine."""
    pack = load_pack(rules)
    results: list[FixtureResult] = []
    for name in engines:
        engine = create_engine(name, spark_master=spark_master)
        try:
            results += run_fixtures(pack, engine)
        finally:
            engine.close()
    return results


def suppress(
    settings: Settings,
    *,
    rule: str,
    node: str,
    until: datetime,
    reason: str,
    by: str,
    world: World,
    now: datetime,
) -> Suppression:
    if node not in world.directory:
        raise InvalidInputError(Problem("NODE", f"unknown node {node!r}"))
    if until <= now:
        raise InvalidInputError(Problem("--until", "a suppression must expire in the future"))
    item = Suppression(rule=rule, node=node, until=until, reason=reason, by=by)
    add_suppression(suppressions_path(settings), item)
    return item
