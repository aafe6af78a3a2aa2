"""Scenario families for measuring detection quality (``bench/detection_quality.py``).

Each family is a customer drawn at random (sizes, volumes, days, regions) from what such
a customer plausibly does, *not* from the rule pack's thresholds: planted patterns of
mass surveillance in one node of a customer's tree, look-alikes that a person would not
restrict, and evasion of a restriction in force. One world per seed holds one customer
of every family plus ordinary customers; ``truth`` names, per family, the customer, the
planted node (where an alert should point) and the restricted scope (for evasion).

Volumes, per day: intercepted telecom audio at 100k–500k transcribed minutes (a
national-scale interception programme), bulk translation at 20–80 M characters,
archives of 0.5–3 PB (GB-month per day ≈ 32.9 × TB held). Ordinary units: offices,
records and dictation, far below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa

from brightline import files
from brightline.telemetry import METERING_SCHEMA

START: Final = datetime(2025, 6, 1, tzinfo=UTC)
DAYS: Final = 90
CATALOG: Final = """\
services:
  - {id: storage.blob,    operations: [read, write, delete, list], tags: [object-storage]}
  - {id: storage.files,   operations: [read, write, delete, list], tags: [file-storage]}
  - {id: ai.speech,       operations: [transcribe, synthesize],    tags: [speech-to-text]}
  - {id: ai.translator,   operations: [translate, detect],         tags: [translation]}
  - {id: market.voxscribe, operations: [transcribe, diarize],
     tags: [speech-to-text, language-model]}
  - {id: compute.vm,      operations: [run],                       tags: [compute]}
regions:
  - {id: freedonia-central, country: XF}
  - {id: westeurope,        country: NL}
  - {id: northeurope,       country: IE}
  - {id: eastus,            country: US}
  - {id: southeastasia,     country: SG}
  - {id: brazilsouth,       country: BR}
"""
HOME: Final = "freedonia-central"
ABROAD: Final = ("westeurope", "northeurope", "eastus", "southeastasia", "brazilsouth")
GB_MONTH_PER_TB: Final = 32.9

PLANTED: Final = (
    "sudden-ramp",
    "slow-ramp",
    "split-units",
    "storage-only",
    "speech-only",
    "vendor-speech",
    "region-hopping",
    "nested-3-deep",
    "evasion-sibling",
    "evasion-region",
)
LOOK_ALIKES: Final = (
    "call-centre",
    "broadcaster",
    "subtitler",
    "weather-agency",
    "science-agency",
    "telco",
    "police-transcription",
    "growing-saas",
    "sibling-growth",
)
FAMILIES: Final = PLANTED + LOOK_ALIKES


@dataclass(slots=True)
class _Builder:
    rng: np.random.Generator
    lines: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name in METERING_SCHEMA.names}
    )
    restrictions: list[dict[str, Any]] = field(default_factory=list)

    def node(self, nid: str, parent: str | None, kind: str, **attrs: str) -> str:
        self.lines.append(
            {"id": nid, "parent": parent, "kind": kind, "name": nid, "attrs": dict(attrs)}
        )
        return nid

    def subs(self, parent: str, count: int) -> list[str]:
        return [self.node(f"{parent}-s{i}", parent, "subscription") for i in range(count)]

    def stream(
        self,
        sub: str,
        service: str,
        operation: str,
        unit: str,
        level: Callable[[int], float],
        *,
        region: str | Callable[[int], str] = HOME,
        noise: float = 0.08,
    ) -> None:
        """A daily row per day with usage: ``level(day)`` with multiplicative noise."""
        for day in range(DAYS):
            value = level(day)
            if value <= 0:
                continue
            value *= float(np.exp(self.rng.normal(0, noise)))
            self.rows["ts"].append(START + timedelta(days=day))
            self.rows["subscription_id"].append(sub)
            self.rows["service"].append(service)
            self.rows["operation"].append(operation)
            self.rows["region"].append(region(day) if callable(region) else region)
            self.rows["quantity"].append(value)
            self.rows["unit"].append(unit)
            self.rows["hours"].append(24)

    def office(self, unit: str, subs: list[str]) -> None:
        """Ordinary work: storage at home, some dictation, a little translation."""
        for sub in subs:
            tb = float(self.rng.uniform(2, 60))
            growth = float(self.rng.uniform(0.0, 0.004))
            self.stream(
                sub,
                "storage.blob",
                "write",
                "GB-month",
                _curve(tb * GB_MONTH_PER_TB, growth),
            )
            if self.rng.random() < 0.5:
                minutes = float(self.rng.uniform(50, 1500))
                self.stream(sub, "ai.speech", "transcribe", "audio-minute", _weekday(minutes))
            if self.rng.random() < 0.3:
                chars = float(self.rng.uniform(1e4, 5e5))
                self.stream(sub, "ai.translator", "translate", "characters", _weekday(chars))


def _curve(level: float, growth: float = 0.0, weekend: float = 1.0) -> Callable[[int], float]:
    """``level`` growing by ``growth`` a day, times ``weekend`` on Saturdays and Sundays."""
    return lambda d: level * (1 + growth) ** d * (weekend if d % 7 in (5, 6) else 1.0)


def _weekday(level: float) -> Callable[[int], float]:
    return lambda d: level * (0.3 if d % 7 in (5, 6) else 1.0)


def _step(onset: int, level: float, ramp: int = 3) -> Callable[[int], float]:
    return lambda d: 0.0 if d < onset else level * min(1.0, (d - onset + 1) / ramp)


@dataclass(frozen=True, slots=True)
class Planted:
    family: str
    customer: str
    #: The node an alert should name.
    node: str
    #: For evasion families: the restriction and its scope.
    restriction: str = ""
    restricted: str = ""


def _ministry(b: _Builder, cid: str, *, sector: str = "defense") -> list[str]:
    """A ministry with ordinary units (logistics, medical, HR); their ids."""
    b.node(cid, None, "customer", country="XF", sector=sector)
    units = []
    for name, unit_sector in (
        ("logistics", "logistics"),
        ("medical", "health"),
        ("hr", "government"),
    ):
        unit = b.node(f"{cid}-{name}", cid, "unit", sector=unit_sector)
        b.office(unit, b.subs(unit, int(b.rng.integers(2, 5))))
        units.append(unit)
    return units


def _surveil(
    b: _Builder,
    subs: list[str],
    *,
    onset: int,
    ramp: int,
    speech: bool = True,
    translation: bool = True,
    storage: bool = True,
    speech_service: str = "ai.speech",
    region: str | Callable[[int], str] | None = None,
    until: int = DAYS,
) -> None:
    """The pattern, spread over ``subs`` with random weights."""
    rng = b.rng
    weights = rng.dirichlet(np.ones(len(subs)) * 3)
    minutes = float(rng.uniform(1e5, 5e5))
    chars = float(rng.uniform(2e7, 8e7))
    petabytes = float(rng.uniform(0.5, 3.0))
    where = region if region is not None else str(rng.choice(ABROAD))

    def shaped(level: float, w: float) -> Callable[[int], float]:
        base = _step(onset, level * w, ramp)
        return lambda d: base(d) if d < until else 0.0

    for sub, w in zip(subs, weights, strict=True):
        if speech:
            b.stream(
                sub, speech_service, "transcribe", "audio-minute", shaped(minutes, w), region=where
            )
        if translation:
            b.stream(
                sub, "ai.translator", "translate", "characters", shaped(chars, w), region=where
            )
        if storage:
            held = petabytes * 1000 * GB_MONTH_PER_TB * w

            def archive(d: int, held: float = held) -> float:
                if d >= until or d < onset:
                    return 0.0
                return held * min(1.0, 0.2 + 0.8 * (d - onset + 1) / max(ramp, 10))

            b.stream(sub, "storage.blob", "write", "GB-month", archive, region=where, noise=0.02)


def _planted(b: _Builder, family: str, cid: str) -> Planted:
    rng = b.rng
    units = _ministry(b, cid)
    onset = int(rng.integers(55, 75))
    if family == "nested-3-deep":
        top = b.node(f"{cid}-directorate", cid, "unit")
        mid = b.node(f"{top}-department", top, "unit")
        target = b.node(f"{mid}-unit", mid, "unit", sector="intelligence")
        b.office(top, b.subs(top, 2))
    else:
        target = b.node(f"{cid}-intel", cid, "unit", sector="intelligence")
    subs = b.subs(target, int(rng.integers(3, 6)))
    if family == "split-units":
        # the pattern spread over the target's own sub-units: the target is the node.
        subs = []
        for i in range(int(rng.integers(2, 5))):
            team = b.node(f"{target}-team{i}", target, "unit")
            subs += b.subs(team, int(rng.integers(2, 4)))
    if family == "sudden-ramp":
        _surveil(b, subs, onset=onset, ramp=2)
    elif family == "slow-ramp":
        _surveil(b, subs, onset=20, ramp=60)
    elif family in ("split-units", "nested-3-deep"):
        _surveil(b, subs, onset=onset, ramp=5)
    elif family == "storage-only":
        _surveil(b, subs, onset=onset, ramp=14, speech=False, translation=False)
    elif family == "speech-only":
        _surveil(b, subs, onset=onset, ramp=3, translation=False, storage=False)
    elif family == "vendor-speech":
        _surveil(b, subs, onset=onset, ramp=3, speech_service="market.voxscribe")
    elif family == "region-hopping":
        hops = [str(r) for r in rng.permutation(ABROAD)]
        period = int(rng.integers(3, 8))
        _surveil(b, subs, onset=onset, ramp=4, region=lambda d: hops[(d // period) % len(hops)])
    elif family in ("evasion-sibling", "evasion-region"):
        return _evasion(b, family, cid, units, target, subs)
    else:
        raise ValueError(family)
    return Planted(family, cid, target)


def _evasion(
    b: _Builder, family: str, cid: str, units: list[str], target: str, subs: list[str]
) -> Planted:
    """The pattern from day 30, a restriction at ``day``, the usage elsewhere 1–4 days on."""
    rng = b.rng
    day = int(rng.integers(65, 80))
    moved = day + int(rng.integers(1, 5))
    region = str(rng.choice(ABROAD[:2]))
    rid = f"r-{cid}"
    b.restrictions.append(
        {
            "id": rid,
            "scope": target,
            "actions": ["storage.*:*", "ai.speech:*", "ai.translator:*"],
            **({"regions": list(ABROAD[:2])} if family == "evasion-region" else {}),
            "not_before": (START + timedelta(days=day)).isoformat(),
            "mode": "enforce",
            "reason": {"case": f"C-{cid}", "policy": "mass-surveillance"},
        }
    )
    _surveil(b, subs, onset=30, ramp=3, region=region, until=day)
    if family == "evasion-sibling":
        sibling = str(rng.choice(units))
        new = b.node(f"{sibling}-new", sibling, "subscription")
        _surveil(b, [new], onset=moved, ramp=2, region=region)
        return Planted(family, cid, new, rid, target)
    # the same subscriptions, in a region the restriction does not list
    elsewhere = str(rng.choice(ABROAD[2:]))
    _surveil(b, subs, onset=moved, ramp=2, region=elsewhere)
    return Planted(family, cid, target, rid, target)


def _look_alike(b: _Builder, family: str, cid: str) -> Planted:
    rng = b.rng
    country, region = "XF", HOME
    sector = {
        "call-centre": "telecom",
        "broadcaster": "media",
        "subtitler": "media",
        "weather-agency": "science",
        "science-agency": "science",
        "telco": "telecom",
        "police-transcription": "police",
        "growing-saas": "software",
        "sibling-growth": "defense",
    }[family]
    if family == "sibling-growth":
        return _sibling_growth(b, cid)
    b.node(cid, None, "customer", country=country, sector=sector)
    units = [b.node(f"{cid}-u{i}", cid, "unit") for i in range(int(rng.integers(2, 4)))]
    subs_of = {u: b.subs(u, int(rng.integers(3, 12))) for u in units}
    every = [s for subs in subs_of.values() for s in subs]
    for sub in every:
        if family in ("call-centre", "telco"):
            seats = (
                float(rng.uniform(2000, 6000))
                if family == "call-centre"
                else float(rng.uniform(5000, 20000))
            )
            growth = float(rng.uniform(0, 0.002))
            b.stream(
                sub,
                "ai.speech",
                "transcribe",
                "audio-minute",
                _curve(seats, growth, 0.5),
                region=region,
            )
            b.stream(
                sub,
                "storage.blob",
                "write",
                "GB-month",
                _curve(20 * GB_MONTH_PER_TB),
                region=region,
            )
        elif family in ("broadcaster", "subtitler"):
            minutes = float(rng.uniform(1000, 8000))
            chars = float(rng.uniform(5e5, 4e6))
            b.stream(sub, "ai.speech", "transcribe", "audio-minute", _curve(minutes))
            b.stream(
                sub,
                "ai.translator",
                "translate",
                "characters",
                _curve(chars),
                region=str(rng.choice(ABROAD)),
            )
            b.stream(
                sub,
                "storage.blob",
                "write",
                "GB-month",
                _curve(100 * GB_MONTH_PER_TB),
                region=str(rng.choice(ABROAD)),
            )
        elif family in ("weather-agency", "science-agency"):
            pb = float(rng.uniform(0.2, 1.0)) / len(every)
            growth = float(rng.uniform(0.005, 0.02))
            b.stream(
                sub,
                "storage.blob",
                "write",
                "GB-month",
                _curve(pb * 1000 * GB_MONTH_PER_TB, growth),
                noise=0.02,
            )
            b.stream(
                sub,
                "storage.files",
                "write",
                "GB-month",
                _curve(0.3 * pb * 1000 * GB_MONTH_PER_TB),
                region=str(rng.choice(ABROAD)),
                noise=0.02,
            )
        elif family == "police-transcription":
            minutes = float(rng.uniform(200, 3000))
            b.stream(sub, "ai.speech", "transcribe", "audio-minute", _weekday(minutes))
            b.stream(sub, "storage.blob", "write", "GB-month", _curve(5 * GB_MONTH_PER_TB))
        elif family == "growing-saas":
            minutes = float(rng.uniform(500, 3000))
            growth = float(rng.uniform(0.01, 0.03))
            b.stream(
                sub,
                "ai.speech",
                "transcribe",
                "audio-minute",
                _curve(minutes, growth),
            )
            b.stream(
                sub,
                "storage.blob",
                "write",
                "GB-month",
                _curve(30 * GB_MONTH_PER_TB, growth),
                noise=0.02,
            )
            b.stream(
                sub,
                "ai.translator",
                "translate",
                "characters",
                _curve(2e5, growth),
            )
    return Planted(family, cid, "")


def _sibling_growth(b: _Builder, cid: str) -> Planted:
    """A restricted unit that stops, and a sibling unit that grows as it always did."""
    rng = b.rng
    units = _ministry(b, cid)
    target = b.node(f"{cid}-intel", cid, "unit", sector="intelligence")
    subs = b.subs(target, int(rng.integers(3, 6)))
    day = int(rng.integers(65, 80))
    rid = f"r-{cid}"
    b.restrictions.append(
        {
            "id": rid,
            "scope": target,
            "actions": ["storage.*:*", "ai.speech:*", "ai.translator:*"],
            "not_before": (START + timedelta(days=day)).isoformat(),
            "mode": "enforce",
            "reason": {"case": f"C-{cid}", "policy": "mass-surveillance"},
        }
    )
    _surveil(b, subs, onset=30, ramp=3, until=day)
    grower = str(rng.choice(units))
    for sub in (f"{grower}-s0", f"{grower}-s1"):
        growth = float(rng.uniform(0.005, 0.015))
        b.stream(
            sub,
            "storage.blob",
            "write",
            "GB-month",
            _curve(200 * GB_MONTH_PER_TB, growth),
            noise=0.03,
        )
        b.stream(sub, "ai.speech", "transcribe", "audio-minute", _curve(3000, growth))
    return Planted("sibling-growth", cid, "", rid, target)


def _background(b: _Builder, count: int) -> None:
    rng = b.rng
    for n in range(count):
        cid = f"org-{n:04d}"
        b.node(
            cid,
            None,
            "customer",
            country=str(rng.choice(["XF", "NL", "US"])),
            sector=str(rng.choice(["retail", "finance", "health", "education", "government"])),
        )
        unit = b.node(f"{cid}-u0", cid, "unit")
        b.office(unit, b.subs(unit, int(rng.integers(1, 5))))


@dataclass(frozen=True, slots=True)
class ScenarioWorld:
    out: Path
    truth: tuple[Planted, ...]
    usage: pa.Table


def scenario_world(
    out: Path, *, seed: int, families: tuple[str, ...] = FAMILIES, background: int = 100
) -> ScenarioWorld:
    """Write one world with a customer of every family in ``families`` (and ``background``
    ordinary customers) under ``out``; return its truth and its metering (daily rows)."""
    b = _Builder(np.random.default_rng(seed))
    truth = []
    for number, family in enumerate(families):
        cid = f"{family}-{seed}-{number}"
        truth.append(_planted(b, family, cid) if family in PLANTED else _look_alike(b, family, cid))
    _background(b, background)
    files.write_file(out / "catalog.yaml", CATALOG)
    with files.writing_text(out / "directory.jsonl") as handle:
        for line in b.lines:
            handle.write(json.dumps(line) + "\n")
    if b.restrictions:
        files.write_file(out / "restrictions.yaml", json.dumps(b.restrictions, indent=1) + "\n")
    return ScenarioWorld(out, tuple(truth), pa.table(b.rows, schema=METERING_SCHEMA))
