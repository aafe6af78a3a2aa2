"""Use cases of detection: run a pack over the stored telemetry (whole, or incrementally
from the days that changed), watch the telemetry and run after each ingest, test a pack's
rules, suppress a rule for a node. The alerts file is ``<data dir>/alerts.jsonl`` by
default; the last run's firings of each pack are in ``<data dir>/detection/``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from brightline.config import Settings
from brightline.detection import (
    EPOCH,
    AlertsWritten,
    DetectionRun,
    Engine,
    FixtureResult,
    Rule,
    RunState,
    Since,
    Suppression,
    Usage,
    Watch,
    add_suppression,
    basis,
    create_engine,
    load_pack,
    read_state,
    read_suppressions,
    run_fixtures,
    run_pack,
    write_alerts,
    write_state,
)
from brightline.errors import InvalidInputError, Problem
from brightline.policy import Restriction
from brightline.service.offline import load_world_dir
from brightline.service.telemetry import telemetry_dataset
from brightline.telemetry import rollups, rollups_cover
from brightline.world import World

ALERTS_FILE: Final = "alerts.jsonl"
SUPPRESSIONS_FILE: Final = "suppressions.jsonl"
STATE_DIR: Final = "detection"


@dataclass(frozen=True, slots=True)
class DetectResult:
    run: DetectionRun
    written: AlertsWritten
    #: The first day an incremental run evaluated windows from; None: a full run.
    incremental_from: date | None = None
    #: Why the run was full, or what it read.
    note: str = ""


def suppressions_path(settings: Settings) -> Path:
    return settings.data_dir / SUPPRESSIONS_FILE


def state_path(settings: Settings, pack: str, level: str | None) -> Path:
    """Where the firings of a pack's last run are kept, per level asked for."""
    return settings.data_dir / STATE_DIR / f"{pack}@{level or 'pack'}.json"


def _usage(settings: Settings) -> tuple[Usage, dict[str, str]]:
    """The rollups when they cover the raw rows (with their fingerprints), else the raw
    rows (and no fingerprints: an incremental run needs rollups)."""
    dataset = telemetry_dataset(settings)
    if rollups_cover(dataset):
        stored = rollups.rollup_files(dataset.root)
        return Usage.from_rollups(stored[day] for day in sorted(stored)), rollups.fingerprints(
            dataset.root
        )
    return Usage.from_files(dataset.files()), {}


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
    since: date | None = None,
    incremental: bool = False,
) -> DetectResult:
    """Run a pack over the stored telemetry (its daily rollups when they cover it); write
    its alerts (updating, not duplicating, alerts already in the file). Each alert names
    the narrowest node that carries the pattern; ``level`` instead rolls every rule up at
    that fixed level (for example ``unit``) and names the nodes there. ``restrictions``
    (those in the store, or the world directory's) are watched for evasion while in force.

    With ``since`` (or ``incremental``), only the windows that days from ``since`` on, and
    days changed since the last run, reach are evaluated; the alerts are those of a full
    run. The run is full when there is no usable last run (see ``detection.incremental``)
    and while a restriction is watched for evasion (the watch compares usage with the
    week before each restriction started, which an incremental run does not read).
    """
    pack = load_pack(rules)
    if level is not None:
        if level not in {"subscription", "customer"} and not any(
            node.kind == level for node in world.directory
        ):
            raise InvalidInputError(
                Problem("--level", f"{level!r} is neither subscription, customer nor a node kind")
            )
        pack = pack.at_level(level)
    usage, days = _usage(settings)
    state_file = state_path(settings, pack.id, level)
    problems = pack.problems(world.catalog)
    if problems:
        raise InvalidInputError(problems)
    current = basis(pack.rules, world)
    first_day = usage.whole_span()[0]
    start: Since | None = None
    note = "full run"
    watches = watches_in_force(restrictions, world, now)
    if (since is not None or incremental) and watches:
        note = "full run (restrictions in force are watched for evasion over their history)"
    elif since is not None or incremental:
        start, note = _incremental_start(
            read_state(state_file), days, basis=current, first_day=first_day, since=since
        )
    elif not days:
        note = "full run over the raw rows (the rollups do not cover them)"
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
            watches=watches,
            since=start,
        )
    finally:
        if engine_instance is None:
            runner.close()
    if days:
        firings = tuple(sorted([*run.firings, *run.suppressed]))
        write_state(state_file, RunState(current, first_day, days, firings))
    written = write_alerts(out or settings.data_dir / ALERTS_FILE, run.alerts, now=now)
    began = None if start is None else EPOCH + timedelta(days=start.day)
    return DetectResult(run, written, incremental_from=began, note=note)


def _incremental_start(
    state: RunState | None,
    days: dict[str, str],
    *,
    basis: str,
    first_day: int,
    since: date | None,
) -> tuple[Since | None, str]:
    """Where an incremental run starts, or None (and why) when it must be full."""
    if not days:
        return None, "full run over the raw rows (the rollups do not cover them)"
    if state is None:
        return None, "full run (no earlier run to continue)"
    if state.basis != basis:
        return None, "full run (the rules or the world changed since the last run)"
    if state.first_day != first_day:
        return None, "full run (the first day of the data changed)"
    asked = None if since is None else (since - EPOCH).days
    changed = state.changed_from(days)
    found = [d for d in (asked, changed) if d is not None]
    if not found:  # nothing changed: no window to evaluate again
        day = max(usage_day for usage_day in _day_numbers(days)) + 1
        return Since(day, state.firings), "incremental: no day changed"
    day = min(found)
    why = "changed days" if changed is not None and changed == day else "--since"
    return Since(day, state.firings), f"incremental from {EPOCH + timedelta(days=day)} ({why})"


def _day_numbers(days: dict[str, str]) -> list[int]:
    return [(date.fromisoformat(day) - EPOCH).days for day in days]


def telemetry_version(settings: Settings) -> tuple[object, ...]:
    """Changes whenever the stored telemetry does: its manifest's entries, its rollups'
    fingerprints and any change pending."""
    dataset = telemetry_dataset(settings)
    return (
        tuple(sorted(dataset.manifest())),
        tuple(sorted(rollups.fingerprints(dataset.root).items())),
        tuple(rollups.pending(dataset.root)),
    )


def watch(
    settings: Settings,
    *,
    world: Callable[[datetime], World],
    clock: Callable[[], datetime],
    on_result: Callable[[DetectResult], None],
    rules: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    level: str | None = None,
    restrictions: Callable[[datetime], Sequence[Restriction]] = lambda _: (),
    interval: float = 30.0,
    runs: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the pack incrementally each time the telemetry changes (an ingest, a prune, a
    rebuild), polling every ``interval`` seconds; the first poll always runs. Stops after
    ``runs`` runs (never when None); returns how many ran. One engine serves every run."""
    seen: tuple[object, ...] | None = None
    done = 0
    runner = create_engine(engine, spark_master=spark_master)
    try:
        while runs is None or done < runs:
            version = telemetry_version(settings)
            if version != seen and not version[2]:  # a writer's change still pending: wait
                now = clock()
                on_result(
                    detect(
                        settings,
                        world=world(now),
                        now=now,
                        rules=rules,
                        engine_instance=runner,
                        level=level,
                        restrictions=restrictions(now),
                        incremental=True,
                    )
                )
                seen = version
                done += 1
                continue
            sleep(interval)
    finally:
        runner.close()
    return done


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
