"""The story of ``brightline demo``, as named steps over the real components.

Each step is a function ``(demo, progress) -> result`` that does its work through the
service layer (the store, DuckDB, the ledger, the HTTP API on loopback, the
enforcement-point client) and returns a small frozen result the CLI renders. The steps
run in the order of :data:`STEPS`; each relies on what the earlier ones left in
:class:`Demo`.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import SecretStr

from brightline.cases import (
    AccessDeniedError,
    AppealOutcome,
    DocumentKind,
    DocumentReference,
    Finding,
    FindingOutcome,
    OutsideReport,
    Reference,
    ReporterIdentity,
    Signal,
    SourceKind,
)
from brightline.config import Settings
from brightline.demo.calls import Decided, decide_calls
from brightline.demo.live import (
    APPROVER,
    CASE_ADMIN,
    GATEWAY,
    INVESTIGATOR,
    REVIEWER,
    SECOND_APPROVER,
    Credential,
    LiveServer,
    enrol,
)
from brightline.detection.packs import BUILTIN_DIR, DEFAULT_PACK
from brightline.enforcement import Client
from brightline.errors import BrightlineError, ConflictError
from brightline.ledger import (
    canonical_json,
    check_disclosure,
    leaf_hash,
    open_checkpoint,
    verify_inclusion,
)
from brightline.service import compile_snapshot_at, import_world, show_restriction
from brightline.service.case_export import show_case
from brightline.service.cases import (
    add_evidence,
    assign,
    decide_appeal,
    open_case,
    record_appeal,
    record_finding,
    start_review,
)
from brightline.service.decision_logs import decision_totals
from brightline.service.detection import detect
from brightline.service.intake import show_reporter, signal_from_alert, submit_report
from brightline.service.ledger import (
    LedgerKeys,
    disclose,
    ensure_key,
    export_tiles_dir,
    sync_ledger,
    verify_store,
    verify_tiles,
)
from brightline.service.offline import load_world_dir
from brightline.service.plans import approve, decide_restrict, plan_text
from brightline.service.telemetry import ingest_files
from brightline.service.usage import case_usage
from brightline.store import Store, open_store
from brightline.synth import synthesize
from brightline.synth.story import ABROAD, EXEMPT, LOOK_ALIKES, MINISTRY, UNIT
from brightline.world import World

DEFAULT_SCALE: Final = 3000
DAYS: Final = 30
POLICY: Final = "mass-surveillance"
RESTRICTION_ID: Final = "r-9900-1"
RESTRICTION: Final = f"""\
# Cloud storage and AI services denied to one intelligence unit, in the two regions
# where it keeps and processes what it collects; its rescue subscription is exempt.
id: {RESTRICTION_ID}
scope: {UNIT}
actions: ["storage.*:*", "ai.*:*"]
regions: [{", ".join(ABROAD)}]
exempt: [{EXEMPT}]
mode: enforce
reason: {{policy: {POLICY}}}
"""
UNIT_PACK: Final = "mass-surveillance-by-unit"
#: How long to wait for the enforcement point to pick up a new bundle.
PICKUP_SECONDS: Final = 20.0

Progress = Callable[[str, float, float], None]


def _no_progress(what: str, done: float, total: float) -> None:
    del what, done, total


@dataclass(frozen=True, slots=True)
class DemoOptions:
    directory: Path
    scale: int = DEFAULT_SCALE
    seed: int = 0
    port: int = 0


@dataclass(slots=True)
class Demo:
    """The story's state: its settings and store, the live server and enforcement point,
    the people's credentials and what each step found. Close it (or use ``with``)."""

    options: DemoOptions
    settings: Settings
    store: Store
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    world: World | None = None
    server: LiveServer | None = None
    client: Client | None = None
    credentials: dict[str, Credential] = field(default_factory=dict)
    verifier: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, str] = field(default_factory=dict)
    case_id: str = ""
    before: list[Decided] = field(default_factory=list)
    bundle_before: str = ""
    approved_at: float = 0.0
    _http: dict[str, httpx.Client] = field(default_factory=dict)

    @classmethod
    def create(cls, options: DemoOptions) -> Demo:
        directory = options.directory
        directory.mkdir(parents=True, exist_ok=True)
        settings = Settings(
            database_url=SecretStr(f"sqlite:///{directory / 'brightline.db'}"),
            data_dir=directory / "data",
            admin_rate_per_minute=100_000,
        )
        return cls(options, settings, open_store(settings))

    def http(self, person: str) -> httpx.Client:
        """An HTTP client to the live server, signed in as ``person``."""
        if person not in self._http:
            assert self.server is not None, "the server starts in the people step"
            key = self.credentials[person].key
            self._http[person] = httpx.Client(
                base_url=self.server.url, headers={"authorization": f"Bearer {key}"}, timeout=30
            )
        return self._http[person]

    def close(self) -> None:
        for client in self._http.values():
            client.close()
        if self.client is not None:
            self.client.stop()
        if self.server is not None:
            self.server.stop()
        self.store.close()

    def __enter__(self) -> Demo:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


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


def provider(demo: Demo, progress: Progress = _no_progress) -> ProviderResult:
    """Synthesize the provider (world and 30 days of hourly metering), import the world
    into the store, ingest the metering into the Parquet dataset."""
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
    import_world(demo.store, world_dir, actor=CASE_ADMIN.name)
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


def people(demo: Demo, progress: Progress = _no_progress) -> PeopleResult:
    """Grant roles and create API keys; start the API on loopback; an enforcement point
    fetches its first signed bundle; decide the story's calls before any restriction."""
    demo.verifier = str(ensure_key(demo.settings))
    signer = LedgerKeys.of(demo.settings).signer()
    assert signer is not None
    demo.credentials = enrol(demo.store)
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


def unit_pack(directory: Path) -> Path:
    """The built-in pack with every rule rolled up per unit instead of per customer: the
    same rules, so that the alert names the unit that does it, not only its customer."""
    target = directory / "rules" / UNIT_PACK
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(BUILTIN_DIR / DEFAULT_PACK, target)
    for rule in (target / "rules").glob("*.yaml"):
        rule.write_text(rule.read_text().replace("level: customer", "level: unit"))
    pack = target / "pack.yaml"
    pack.write_text(pack.read_text().replace(f"id: {DEFAULT_PACK}\n", f"id: {UNIT_PACK}\n", 1))
    return target


def detection(demo: Demo, progress: Progress = _no_progress) -> DetectionResult:
    """Run the built-in mass-surveillance pack on DuckDB over every metering row, per
    customer (as shipped) and per unit; raise alerts over the review threshold."""
    from brightline.detection import load_pack
    from brightline.detection.scoring import rule_score

    assert demo.world is not None
    world = demo.world
    started = time.monotonic()
    packs = [DEFAULT_PACK, str(unit_pack(demo.options.directory))]
    runs = []
    for i, pack in enumerate(packs):
        progress("running the rules on DuckDB", i, len(packs))
        runs.append(detect(demo.settings, world=world, now=demo.now(), rules=pack))
    progress("running the rules on DuckDB", len(packs), len(packs))
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


# -- 4. reports from people ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalRow:
    ref: str
    source: str
    nodes: tuple[str, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class ReportsResult:
    signals: tuple[SignalRow, ...]
    #: What the case admin sees of the employee's identity, and what the investigator gets.
    admin_sees: str
    investigator_gets: str


def reports(demo: Demo, progress: Progress = _no_progress) -> ReportsResult:
    """A journalist's report and an employee's report arrive (identities stored apart);
    the investigator turns the alerts into signals."""
    store = demo.store
    journalist = submit_report(
        store,
        Signal(
            SourceKind.JOURNALIST,
            (UNIT,),
            (POLICY,),
            "Our investigation: Signals Intelligence Unit 9900 stores intercepted phone calls "
            "of millions of civilians on the provider's storage in two European regions and "
            "transcribes and translates them with its AI services.",
            references=(Reference("article", url="https://news.example/unit-9900"),),
        ),
        identity=ReporterIdentity("Jo Reporter", "jo@news.example", "The Example Times"),
    )
    employee = submit_report(
        store,
        Signal(
            SourceKind.EMPLOYEE,
            (UNIT,),
            (POLICY,),
            "A capacity request from the ministry asks for petabytes of archive and audio "
            "transcription in westeurope and northeurope for 'intercept processing'.",
            references=(
                Reference("capacity ticket", sha256=hashlib.sha256(b"ticket 4711").hexdigest()),
            ),
        ),
        identity=ReporterIdentity("A. Engineer", "secure-drop:4711"),
    )
    demo.signals = {"journalist": journalist.ref, "employee": employee.ref}
    rows = [
        SignalRow(journalist.ref, "journalist", journalist.nodes, journalist.summary),
        SignalRow(employee.ref, "employee", employee.nodes, employee.summary),
    ]
    for alert in demo.alerts:
        signal = signal_from_alert(store, alert, actor=INVESTIGATOR.name)
        demo.signals[f"alert {alert['node']}"] = signal.ref
        rows.append(SignalRow(signal.ref, "detector", signal.nodes, signal.summary))
    identity = show_reporter(store, employee.ref, actor=CASE_ADMIN.name)
    admin_sees = "anonymous" if identity is None else f"{identity.name} ({identity.contact})"
    try:
        show_reporter(store, employee.ref, actor=INVESTIGATOR.name)
        investigator_gets = "the identity (unexpected)"
    except AccessDeniedError as exc:
        investigator_gets = f"refused: {exc}"
    return ReportsResult(tuple(rows), admin_sees, investigator_gets)


# -- 5. the case ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseResult:
    case_id: str
    status: str
    nodes: tuple[str, ...]
    signals: tuple[str, ...]
    assigned: tuple[str, ...]


def case(demo: Demo, progress: Progress = _no_progress) -> CaseResult:
    """The investigator opens a case from the signals, assigns the external reviewer and
    starts the review (the case's nodes are now under a telemetry hold)."""
    store = demo.store
    state = open_case(
        store,
        actor=INVESTIGATOR.name,
        title="Signals Intelligence Unit 9900: mass surveillance of civilians?",
        signals=list(demo.signals.values()),
    )
    demo.case_id = state.id
    assign(store, state.id, REVIEWER.name, actor=INVESTIGATOR.name)
    state = start_review(store, state.id, actor=INVESTIGATOR.name)
    return CaseResult(
        state.id,
        state.status.value,
        state.nodes,
        tuple(demo.signals.values()),
        tuple(sorted(state.assignees)),
    )


# -- 6. external review --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageRow:
    service: str
    unit: str
    unit_quantity: float
    ministry_quantity: float
    abroad_share: float  # of the unit's quantity, in the two regions abroad


@dataclass(frozen=True, slots=True)
class ReviewResult:
    usage: tuple[UsageRow, ...]
    subscriptions_seen: tuple[str, ...]
    evidence: tuple[str, ...]
    finding: str
    status: str


def review(demo: Demo, progress: Progress = _no_progress) -> ReviewResult:
    """The external reviewer pins usage aggregates as evidence, looks per subscription
    (with a stated purpose, itself a ledger entry), adds the article and the contract,
    and records a finding."""
    store, settings, case_id = demo.store, demo.settings, demo.case_id
    pinned = case_usage(store, settings, case_id, actor=REVIEWER.name, pin=True)
    totals: dict[tuple[str, str, str], float] = {}
    abroad: dict[tuple[str, str], float] = {}
    for row in pinned.aggregate.rows:
        key = (row.node, row.service, row.unit)
        totals[key] = totals.get(key, 0.0) + row.quantity
        if row.node == UNIT and row.region in ABROAD:
            abroad[(row.service, row.unit)] = (
                abroad.get((row.service, row.unit), 0.0) + row.quantity
            )
    usage = []
    for (node, service, unit), quantity in sorted(totals.items()):
        if node != UNIT:
            continue
        usage.append(
            UsageRow(
                service,
                unit,
                quantity,
                totals.get((MINISTRY, service, unit), quantity),
                abroad.get((service, unit), 0.0) / quantity if quantity else 0.0,
            )
        )
    breakdown = case_usage(
        store,
        settings,
        case_id,
        actor=REVIEWER.name,
        nodes=[UNIT],
        purpose="which of the unit's subscriptions archive, transcribe and translate",
    )
    add_evidence(
        store,
        case_id,
        OutsideReport(
            "The Example Times: the unit's archive of intercepted calls",
            url="https://news.example/unit-9900",
            signal=demo.signals["journalist"],
        ),
        actor=REVIEWER.name,
    )
    add_evidence(
        store,
        case_id,
        DocumentReference(
            DocumentKind.CONTRACT,
            hashlib.sha256(b"framework agreement MoD Freedonia 2024").hexdigest(),
            "Framework agreement with the Ministry of Defence of Freedonia, 2024",
        ),
        actor=REVIEWER.name,
    )
    rationale = (
        "Unit 9900 alone transcribes and translates audio at telecom scale and archives "
        "petabytes in westeurope and northeurope, matching the journalist's and the "
        "employee's reports; the ministry's other units and the look-alike customers do not."
    )
    state = record_finding(
        store,
        case_id,
        Finding(POLICY, FindingOutcome.SUBSTANTIATED, rationale, (1, 2, 3)),
        actor=REVIEWER.name,
    )
    return ReviewResult(
        usage=tuple(usage),
        subscriptions_seen=tuple(sorted({r.node for r in breakdown.aggregate.rows})),
        evidence=tuple(f"{e.number}: {e.evidence.kind.value}" for e in state.evidence),
        finding=f"{POLICY}: {FindingOutcome.SUBSTANTIATED.value}. {rationale}",
        status=state.status.value,
    )


# -- 7. the impact plan --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanResult:
    restriction: str
    file: Path
    document: dict[str, Any]


def plan(demo: Demo, progress: Progress = _no_progress) -> PlanResult:
    """Before anything is proposed: what the restriction would deny, replayed over the last
    30 days of metering, and what it leaves alone."""
    directory = demo.options.directory / "restrictions"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{RESTRICTION_ID}.yaml"
    path.write_text(RESTRICTION, encoding="utf-8")
    impact = plan_text(demo.store, demo.settings, RESTRICTION, name=path.name, now=demo.now())
    return PlanResult(RESTRICTION, path, impact.to_json())


# -- 8. proposal and approval --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    restriction_id: str
    proposed_by: str
    self_approval: str
    guard_by: str | None
    approved_by: str
    status: str
    case_status: str


def approval(demo: Demo, progress: Progress = _no_progress) -> ApprovalResult:
    """The investigator decides to restrict (storing the plan, proposing the restriction);
    the proposer's own approval is refused; an approver approves over the HTTP API."""
    from brightline.service import approve_restriction

    store = demo.store
    state, impact = decide_restrict(
        store,
        demo.settings,
        demo.case_id,
        RESTRICTION,
        name=f"{RESTRICTION_ID}.yaml",
        actor=INVESTIGATOR.name,
        rationale="Substantiated: restrict storage and AI for unit 9900 in the two regions.",
    )
    try:
        approve_restriction(store, RESTRICTION_ID, actor=INVESTIGATOR.name)
        refused = "accepted (unexpected)"
    except ConflictError as exc:
        refused = f"refused: {exc}"
    guard_by = None
    final = APPROVER
    if impact.exceeds_limits:  # the blast-radius guard wants one more approver first
        approve(store, RESTRICTION_ID, actor=APPROVER.name)
        guard_by, final = APPROVER.name, SECOND_APPROVER
    demo.approved_at = time.monotonic()
    response = demo.http(final.name).post(f"/v1/restrictions/{RESTRICTION_ID}/approve")
    if response.status_code != 200:
        raise BrightlineError(f"approval over HTTP failed: {response.status_code} {response.text}")
    view = show_restriction(store, RESTRICTION_ID, now=demo.now())
    return ApprovalResult(
        RESTRICTION_ID,
        INVESTIGATOR.name,
        refused,
        guard_by,
        final.name,
        view.status.value,
        state.status.value,
    )


# -- 9. enforcement ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnforcementResult:
    bundle_before: str
    bundle_after: str
    serial_after: int
    pickup_seconds: float
    before: tuple[Decided, ...]
    after: tuple[Decided, ...]
    reported: dict[str, int]


def enforcement(demo: Demo, progress: Progress = _no_progress) -> EnforcementResult:
    """The enforcement point, long-polling, installs the new signed bundle; the calls are
    decided again in process, by the client and over HTTP; the client reports its
    decision log."""
    assert demo.client is not None
    client = demo.client
    wanted = compile_snapshot_at(demo.store, demo.now()).snapshot.version
    deadline = time.monotonic() + PICKUP_SECONDS
    while client.version != wanted:
        progress("waiting for the enforcement point", time.monotonic() - demo.approved_at, 1)
        if time.monotonic() > deadline:
            raise BrightlineError(
                f"the enforcement point did not pick up bundle {wanted[:12]} in "
                f"{PICKUP_SECONDS:.0f} s ({client.last_error or 'no error'})"
            )
        time.sleep(0.05)
    pickup = time.monotonic() - demo.approved_at
    after = decide_calls(demo.store, client, demo.http(GATEWAY.name), demo.now())
    client.report()
    totals = decision_totals(demo.store)
    reported = {f"{r} {effect}": n for (r, effect), n in sorted(totals.by_restriction.items())}
    return EnforcementResult(
        bundle_before=demo.bundle_before,
        bundle_after=client.version or "",
        serial_after=client.serial or 0,
        pickup_seconds=pickup,
        before=tuple(demo.before),
        after=tuple(after),
        reported=reported,
    )


# -- 10. the ledger ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerResult:
    size: int
    checkpoints: int
    root: str
    tiles: Path
    tiles_size: int
    disclosed_index: int
    disclosed_type: str
    public: dict[str, Any]
    commitment_ok: bool
    inclusion_ok: bool
    checkpoint_ok: bool


def ledger(demo: Demo, progress: Progress = _no_progress) -> LedgerResult:
    """Verify the whole log against its signed checkpoints; export it as tiles and verify
    those as an outsider would; disclose the approval's entry and check its proof."""
    keys = LedgerKeys.of(demo.settings)
    signer = keys.signer()
    verifier = keys.verifier()
    sync_ledger(demo.store, signer=signer)
    report = verify_store(demo.store, verifier)
    tiles = demo.options.directory / "tiles"
    if tiles.exists():
        shutil.rmtree(tiles)
    export_tiles_dir(demo.store, tiles, verifier)
    outside = verify_tiles(tiles, verifier)
    index = report.size - 1
    while index >= 0 and disclose(demo.store, index).event_type != "restriction.approved":
        index -= 1
    if index < 0:
        raise BrightlineError("no restriction.approved entry in the ledger")
    shown = disclose(demo.store, index)
    public = canonical_json(shown.public)
    proof = shown.proof
    checkpoint_ok = False
    if proof.checkpoint is not None:
        signed = open_checkpoint(proof.checkpoint, verifier)
        checkpoint_ok = signed.size == proof.size and signed.root_hash == proof.root
    return LedgerResult(
        size=report.size,
        checkpoints=report.checkpoints_checked,
        root=report.root.hex(),
        tiles=tiles,
        tiles_size=outside.size,
        disclosed_index=index,
        disclosed_type=shown.event_type,
        public=shown.public,
        commitment_ok=check_disclosure(public, shown.record, bytes.fromhex(shown.salt)),
        inclusion_ok=leaf_hash(public) == proof.leaf_hash
        and verify_inclusion(proof.leaf_hash, index, proof.size, proof.proof, proof.root),
        checkpoint_ok=checkpoint_ok,
    )


# -- 11. the appeal ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppealResult:
    grounds: str
    outcome: str
    decided_by: str
    status: str
    restriction_status: str


def appeal(demo: Demo, progress: Progress = _no_progress) -> AppealResult:
    """The ministry appeals; a second approver re-reviews and upholds the restriction."""
    grounds = (
        "The ministry says the unit's archive serves lawful foreign-intelligence work and "
        "asks for the restriction to be lifted."
    )
    record_appeal(demo.store, demo.case_id, actor=INVESTIGATOR.name, grounds=grounds)
    state = decide_appeal(
        demo.store,
        demo.case_id,
        actor=SECOND_APPROVER.name,
        outcome=AppealOutcome.UPHELD,
        rationale="The grounds do not address the mass collection of civilians' calls.",
    )
    view = show_restriction(demo.store, RESTRICTION_ID, now=demo.now())
    return AppealResult(
        grounds,
        AppealOutcome.UPHELD.value,
        SECOND_APPROVER.name,
        state.status.value,
        view.status.value,
    )


# -- 12. the transparency report -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransparencyResult:
    site: Path
    tiles: Path
    period: tuple[str, str]
    k: int
    files: int
    tables: int
    in_force: int
    checkpoint_size: int
    verified: bool
    problems: tuple[str, ...]


def transparency(demo: Demo, progress: Progress = _no_progress) -> TransparencyResult:
    """Write the transparency report for the demo's period from the public ledger entries
    alone, export the log's tiles beside it, and verify the report against the tiles and
    the log's public key, as an outsider would."""
    from brightline.service.transparency import (
        verify_transparency_report,
        write_transparency_report,
    )

    site = demo.options.directory / "transparency"
    tiles = site / "tiles"
    if site.exists():
        shutil.rmtree(site)
    now = demo.now()
    first = (now - timedelta(days=DAYS)).date()
    written = write_transparency_report(
        demo.store,
        settings=demo.settings,
        period_from=first,
        period_to=now.date(),
        out_dir=site,
        tiles_dir=tiles,
        now=now,
        progress=lambda what: progress(what, 0, 0),
    )
    checked = verify_transparency_report(
        site,
        tiles,
        verifier=LedgerKeys.of(demo.settings).verifier(),
        progress=lambda what: progress(what, 0, 0),
    )
    return TransparencyResult(
        site=site,
        tiles=tiles,
        period=(first.isoformat(), now.date().isoformat()),
        k=written.parameters.k,
        files=len(written.files),
        tables=written.tables,
        in_force=written.in_force,
        checkpoint_size=written.checkpoint.size,
        verified=checked.ok,
        problems=checked.problems,
    )


# -- the whole story -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    title: str
    run: Callable[[Demo, Progress], object]


STEPS: Final = (
    Step("provider", "A synthetic provider and 30 days of metering", provider),
    Step("people", "People, API keys, the server and an enforcement point", people),
    Step("detection", "Detection over metering metadata", detection),
    Step("reports", "Reports from people", reports),
    Step("case", "A case is opened", case),
    Step("review", "External review: evidence and a finding", review),
    Step("plan", "The impact plan, before anything is proposed", plan),
    Step("approval", "Proposal and approval by two different people", approval),
    Step("enforcement", "Enforcement: the unit denied, everyone else working", enforcement),
    Step("ledger", "The ledger: verified, and one entry disclosed with its proof", ledger),
    Step("appeal", "An appeal", appeal),
    Step("transparency", "A transparency report anyone can verify", transparency),
)


def finished_case(demo: Demo) -> dict[str, Any]:
    """The case as the auditor sees it at the end (status, decisions, appeals)."""
    from brightline.demo.live import AUDITOR

    return show_case(demo.store, demo.case_id, actor=AUDITOR.name).to_json(history=False)


__all__ = [
    "DEFAULT_SCALE",
    "RESTRICTION",
    "RESTRICTION_ID",
    "STEPS",
    "Demo",
    "DemoOptions",
    "Progress",
    "Step",
    "finished_case",
]
