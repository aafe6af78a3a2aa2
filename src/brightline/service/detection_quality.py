"""Detection quality: run a pack over the scenario families of ``brightline.synth.scenarios``
and count, per family, what it found, what it raised by mistake and which node it named.

An alert *counts for* a planted scenario when it lies in that customer's tree on the
path of the planted node (an ancestor, the node, or below it), or for evasion families
on the path of the restricted scope (the pattern before the restriction is real too).
Any other alert is a false alert: on a look-alike, an ordinary customer, or a sibling
subtree of a planted node. A planted scenario is *detected* when an alert counts for it
(for evasion: an evasion-watch alert), and *named* when that alert names the planted
node itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from brightline.detection import DuckDBEngine, Usage, load_pack, run_pack
from brightline.detection.evasion import RULE as EVASION_RULE
from brightline.service.detection import watches_in_force
from brightline.service.offline import load_world_dir
from brightline.synth.scenarios import DAYS, FAMILIES, PLANTED, START, scenario_world
from brightline.world import Directory


@dataclass(slots=True)
class FamilyQuality:
    family: str
    planted: bool
    scenarios: int = 0
    detected: int = 0
    named: int = 0
    alerts: int = 0
    false_alerts: int = 0
    #: For each detected scenario: (seed, planted node, node named).
    names: list[tuple[int, str, str]] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.detected / self.scenarios if self.planted and self.scenarios else None

    @property
    def precision(self) -> float | None:
        return (self.alerts - self.false_alerts) / self.alerts if self.alerts else None


@dataclass(frozen=True, slots=True)
class Quality:
    families: tuple[FamilyQuality, ...]
    background_false_alerts: int

    def overall(self) -> tuple[float, float, float]:
        """(recall, precision, named share of detected) over every family."""
        planted = [f for f in self.families if f.planted]
        scenarios = sum(f.scenarios for f in planted)
        detected = sum(f.detected for f in planted)
        alerts = sum(f.alerts for f in self.families) + self.background_false_alerts
        false = sum(f.false_alerts for f in self.families) + self.background_false_alerts
        named = sum(f.named for f in planted)
        return (
            detected / scenarios if scenarios else 0.0,
            (alerts - false) / alerts if alerts else 1.0,
            named / detected if detected else 0.0,
        )


def measure_quality(
    workdir: Path,
    *,
    seeds: Sequence[int],
    families: Sequence[str] = FAMILIES,
    pack: str = "mass-surveillance",
    background: int = 100,
) -> Quality:
    """Generate one world per seed, run ``pack`` at its defaults (DuckDB), count."""
    loaded_pack = load_pack(pack)
    by_family = {f: FamilyQuality(f, f in PLANTED) for f in families}
    background_false = 0
    now = START + timedelta(days=DAYS)
    for seed in seeds:
        scenario = scenario_world(
            workdir / f"seed-{seed}", seed=seed, families=tuple(families), background=background
        )
        loaded = load_world_dir(scenario.out)
        world = loaded.world
        directory = world.directory
        engine = DuckDBEngine()
        try:
            run = run_pack(
                loaded_pack,
                world,
                engine,
                Usage.from_table(scenario.usage),
                now=now,
                watches=watches_in_force(loaded.restrictions, world, now),
            )
        finally:
            engine.close()
        by_customer = defaultdict(list)
        for alert in run.alerts:
            by_customer[alert.customer].append(alert)
        truth = {t.customer: t for t in scenario.truth}

        def on_path(node: str, target: str, directory: Directory = directory) -> bool:
            return bool(target) and (
                directory.is_within(node, target) or directory.is_within(target, node)
            )

        background_false += sum(
            len(alerts) for customer, alerts in by_customer.items() if customer not in truth
        )
        for t in scenario.truth:
            quality = by_family[t.family]
            quality.scenarios += 1
            alerts = by_customer.get(t.customer, [])
            quality.alerts += len(alerts)

            counted = [
                a
                for a in alerts
                if (a.rules != (EVASION_RULE,) and on_path(a.node, t.restricted or t.node))
                or (a.rules == (EVASION_RULE,) and quality.planted and on_path(a.node, t.node))
            ]
            if not quality.planted:
                counted = [a for a in counted if a.rules != (EVASION_RULE,)]
            quality.false_alerts += len(alerts) - len(counted)
            if not quality.planted:
                continue
            found = [a for a in counted if (a.rules == (EVASION_RULE,)) == bool(t.restriction)]
            if not found:
                quality.missed.append(seed)
                continue
            quality.detected += 1
            best = next((a for a in found if a.node == t.node), found[0])
            quality.names.append((seed, t.node, best.node))
            quality.named += best.node == t.node
    return Quality(tuple(by_family.values()), background_false)
