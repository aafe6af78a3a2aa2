"""Incremental runs: evaluate only the windows that changed days reach, keep the others.

A rule's window is a bucket of ``window_days`` days (``floor(day / window_days)``), and
its query for a window reads that window and the ``lookback`` windows before it
(:meth:`~brightline.detection.kinds.RuleKind.lookback`: 0 for a threshold, the baseline
for an anomaly, …; unknown means all of them), the world's tables, and the first day of
the data (``span.first_day``). So when the usage changed only from day ``D`` on, and the
world, the rules and the first day did not, every firing of a window that ends by the
start of ``D``'s window is what it was; the windows from there on are evaluated again
over the days from ``(bucket(D) - lookback) × window_days`` on, and the two sets make
exactly the firings of a full run. Alerts are scored from all of them, as in a full run.

The last run's firings (before suppressions, which apply at every run) are kept in a
state file per pack and level, with the *basis* they hold for (a hash of the rules'
queries and the world's tables), the first day, and the rollup fingerprints of the days
they saw (:func:`brightline.telemetry.rollups.fingerprints`): a later run finds the
changed days from those, so a re-delivery of an old day is never missed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

from brightline import files
from brightline.detection.engines import WorldTables
from brightline.detection.neutral import Dialect
from brightline.detection.rules import Rule
from brightline.detection.scoring import EPOCH, Firing
from brightline.world import World

STATE_FORMAT: Final = "brightline-detect-state/1"


def first_day_read(rules: Iterable[Rule], since: int, first_day: int) -> int:
    """The first day an incremental run from ``since`` must read (whole windows)."""
    lows: list[int] = []
    for rule in rules:
        back = rule.kind.lookback()
        if back is None:
            return first_day
        width = rule.spec.window_days
        lows.append((since // width - back) * width)
    return max(first_day, min(lows)) if lows else since


def reevaluated_after(rule: Rule, since: int) -> date:
    """Windows of ``rule`` ending after this day are evaluated again from ``since``."""
    if rule.kind.lookback() is None:
        return date.min
    width = rule.spec.window_days
    return EPOCH + timedelta(days=since // width * width)


@dataclass(frozen=True, slots=True)
class Since:
    """An incremental run: usage changed from ``day`` on (days since 1970-01-01);
    ``previous`` are the last run's firings, before suppressions."""

    day: int
    previous: tuple[Firing, ...] = ()

    def merge(self, rules: Sequence[Rule], fresh: Iterable[Firing]) -> list[Firing]:
        """The previous firings of windows the changed days do not reach, and the fresh
        ones of the windows they do (fresh firings of earlier windows were computed over
        truncated history, and are dropped)."""
        cuts = {rule.id: reevaluated_after(rule, self.day) for rule in rules}
        kept = [f for f in self.previous if f.rule in cuts and f.window_end <= cuts[f.rule]]
        new = [f for f in fresh if f.window_end > cuts[f.rule]]
        return sorted([*kept, *new])


def basis(rules: Sequence[Rule], world: World) -> str:
    """What firings depend on besides usage: the rules' queries (as compiled for this
    catalog) and lookbacks, and the world's tables. Another basis means a full run."""
    digest = hashlib.sha256()
    for rule in rules:
        query = rule.compile(world.catalog).render(Dialect.DUCKDB)
        digest.update(json.dumps([rule.id, query, rule.kind.lookback()]).encode())
    tables = WorldTables.build(world, {rule.spec.level for rule in rules})
    for name, table in tables.named().items():
        digest.update(json.dumps([name, table.names, table.values()], default=str).encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class RunState:
    """What an incremental run starts from (see the module's docstring)."""

    basis: str
    first_day: int
    days: Mapping[str, str]
    firings: tuple[Firing, ...] = field(default=())

    def changed_from(self, days: Mapping[str, str]) -> int | None:
        """The first day whose rollup differs from the one this state saw (added, removed
        or rewritten), as days since 1970-01-01; None when none does."""
        changed = [day for day in {*self.days, *days} if self.days.get(day) != days.get(day)]
        if not changed:
            return None
        return (date.fromisoformat(min(changed)) - EPOCH).days

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "basis": self.basis,
            "first_day": self.first_day,
            "days": dict(sorted(self.days.items())),
            "firings": [
                {
                    "rule": f.rule,
                    "node": f.node,
                    "window_start": f.window_start.isoformat(),
                    "window_end": f.window_end.isoformat(),
                    "values": [list(v) for v in f.values],
                }
                for f in self.firings
            ],
        }


def read_state(path: Path) -> RunState | None:
    """The state in ``path``; None when it is missing or not one this version writes (the
    next run is then a full one, which writes it anew)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != STATE_FORMAT:
            return None
        firings = tuple(
            Firing(
                node=str(f["node"]),
                window_start=date.fromisoformat(f["window_start"]),
                window_end=date.fromisoformat(f["window_end"]),
                rule=str(f["rule"]),
                values=tuple((str(k), float(v)) for k, v in f["values"]),
            )
            for f in data["firings"]
        )
        return RunState(
            basis=str(data["basis"]),
            first_day=int(data["first_day"]),
            days={str(k): str(v) for k, v in data["days"].items()},
            firings=firings,
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_state(path: Path, state: RunState) -> None:
    """Write ``state`` whole (StorageError when it cannot be)."""
    files.write_file(path, json.dumps(state.to_json(), sort_keys=True) + "\n")
