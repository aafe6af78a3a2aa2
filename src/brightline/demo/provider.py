"""Steps 1–3: the synthetic provider, the people and the server, detection."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from brightline.demo.calls import Decided, decide_calls
from brightline.demo.live import (
    CASE_ADMIN,
    GATEWAY,
    Credential,
    LiveServer,
    bootstrap_admin,
    enrol,
    save_keys,
)
from brightline.demo.state import (
    DAYS,
    Demo,
    Progress,
    no_progress,
)
from brightline.detection.packs import DEFAULT_PACK
from brightline.enforcement import Client
from brightline.service import import_world
from brightline.service.detection import detect
from brightline.service.ledger import (
    LedgerKeys,
    ensure_key,
)
from brightline.service.offline import load_world_dir
from brightline.service.telemetry import ingest_files
from brightline.synth import synthesize
from brightline.synth.story import LOOK_ALIKES, MINISTRY

# -- 1. the provider ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderResult:
    directory: Path
    customers: int
    subscriptions: int
    rows: int
    accepted: int
    quarantined: int
    since: datetime
    until: datetime
    ministry: tuple[tuple[str, str, int], ...]  # unit id, name, subscriptions
    look_alikes: tuple[tuple[str, str], ...]  # customer id, name


def provider(demo: Demo, progress: Progress = no_progress) -> ProviderResult:
    """Synthesize the provider (world and 30 days of hourly metering), import the world
    into the store, ingest the metering into the Parquet dataset.

    The world is imported by the store's first principal, the case admin, bootstrapped
    here (``admin`` and ``case-admin``, in the ledger): importing a world is an admin's.
    """
    world_dir = demo.options.directory / "world"
    until = demo.now().replace(hour=0, minute=0, second=0, microsecond=0)
    since = until - timedelta(days=DAYS)
    progress("generating metering", 0, 1)
    made = synthesize(
        world_dir,
        subscriptions=demo.options.scale,
        days=DAYS,
        seed=demo.options.seed,
        start=since,
        story=True,
    )
    progress("generating metering", 1, 1)
    demo.credentials[CASE_ADMIN.name] = bootstrap_admin(demo.store, demo.authenticator)
    import_world(demo.store, world_dir, actor=demo.principal(CASE_ADMIN))
    demo.world = load_world_dir(world_dir).world
    reports = ingest_files(
        demo.settings,
        [made.metering],
        world=demo.world,
        now=demo.now(),
        progress=lambda _path, done, total: progress("ingesting metering", done, total),
    )
    directory = demo.world.directory
    ministry = tuple(
        (unit, directory[unit].name, sum(1 for n in directory.subtree(unit) if n != unit))
        for unit in sorted(directory.children(MINISTRY))
    )
    return ProviderResult(
        directory=world_dir,
        customers=sum(1 for n in directory if n.parent is None),
        subscriptions=made.subscriptions,
        rows=made.rows,
        accepted=sum(r.accepted for r in reports),
        quarantined=sum(sum(r.quarantined.values()) for r in reports),
        since=since,
        until=until,
        ministry=ministry,
        look_alikes=tuple((c, directory[c].name) for c in LOOK_ALIKES),
    )


# -- 2. people, the server and the enforcement point -----------------------------------------


@dataclass(frozen=True, slots=True)
class PeopleResult:
    url: str
    people: tuple[Credential, ...]
    verifier: str
    bundle_version: str
    bundle_serial: int
    before: tuple[Decided, ...]


def people(demo: Demo, progress: Progress = no_progress) -> PeopleResult:
    """Grant roles and create API keys; start the API on loopback; an enforcement point
    fetches its first signed bundle; decide the story's calls before any restriction.

    The case admin, the store's admin since the first step, creates everyone's key and
    grants the key's roles; from here on each person acts through their key.
    """
    demo.verifier = str(ensure_key(demo.settings))
    signer = LedgerKeys.of(demo.settings).signer()
    assert signer is not None
    demo.credentials.update(enrol(demo.store, demo.principal(CASE_ADMIN)))
    save_keys(demo.options.directory, demo.credentials)
    progress("starting the API on loopback", 0, 1)
    demo.server = LiveServer(demo.settings, demo.store, signer, port=demo.options.port)
    demo.server.start()
    progress("starting the API on loopback", 1, 1)
    demo.client = Client(
        demo.server.url,
        api_key=demo.credentials[GATEWAY.name].key,
        verifier=demo.verifier,
        cache_dir=demo.options.directory / "enforcement-point",
        enforcement_point=GATEWAY.name,
    )
    demo.client.refresh()
    demo.client.start(wait=5.0, report_every=3600.0)
    demo.before = decide_calls(demo.store, demo.client, demo.http(GATEWAY.name), demo.now())
    demo.bundle_before = demo.client.version or ""
    return PeopleResult(
        url=demo.server.url,
        people=tuple(demo.credentials.values()),
        verifier=demo.verifier,
        bundle_version=demo.client.version or "",
        bundle_serial=demo.client.serial or 0,
        before=tuple(demo.before),
    )


# -- 3. detection ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRow:
    pack: str
    node: str
    name: str
    kind: str
    score: float
    threshold: float
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DetectionResult:
    engine: str
    alerts: tuple[AlertRow, ...]
    #: Look-alikes: customer, name, rules that fired on it (per customer), its score.
    look_alikes: tuple[tuple[str, str, tuple[str, ...], float], ...]
    threshold: float
    seconds: float


def detection(demo: Demo, progress: Progress = no_progress) -> DetectionResult:
    """Run the built-in mass-surveillance pack on DuckDB over every metering row, per
    customer (as shipped) and per unit; raise alerts over the review threshold."""
    from brightline.detection import load_pack
    from brightline.detection.scoring import rule_score

    assert demo.world is not None
    world = demo.world
    started = time.monotonic()
    levels = [None, "unit"]  # as shipped (per customer), then the same rules per unit
    runs = []
    for i, level in enumerate(levels):
        progress("running the rules on DuckDB", i, len(levels))
        runs.append(
            detect(demo.settings, world=world, now=demo.now(), rules=DEFAULT_PACK, level=level)
        )
    progress("running the rules on DuckDB", len(levels), len(levels))
    rows = []
    for result in runs:
        for alert in result.run.alerts:
            rows.append(
                AlertRow(
                    alert.pack,
                    alert.node,
                    world.directory[alert.node].name,
                    alert.node_kind,
                    alert.score,
                    alert.threshold,
                    alert.rules,
                )
            )
            demo.alerts.append(alert.to_dict())
    shipped = load_pack(DEFAULT_PACK)
    by_id = {rule.id: rule for rule in shipped.rules}
    look_alikes = []
    for customer in LOOK_ALIKES:
        fired = tuple(sorted({f.rule for f in runs[0].run.firings if f.node == customer}))
        score = sum(rule_score(by_id[r], shipped, world, customer) for r in fired)
        look_alikes.append((customer, world.directory[customer].name, fired, score))
    return DetectionResult(
        engine=runs[0].run.engine,
        alerts=tuple(rows),
        look_alikes=tuple(look_alikes),
        threshold=shipped.spec.review_threshold,
        seconds=time.monotonic() - started,
    )
