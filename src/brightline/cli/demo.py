"""``brightline demo``: the whole story over a synthetic provider, with the real components.

Parses the options, runs the steps of :mod:`brightline.demo` one by one and renders each
step's result; ``--serve`` then keeps the server running until Ctrl-C.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table

from brightline.cli.app import command, console
from brightline.demo import (
    DEFAULT_SCALE,
    RESTRICTION_ID,
    STEPS,
    Decided,
    Demo,
    DemoOptions,
    finished_case,
)
from brightline.demo.enforce import ApprovalResult, EnforcementResult
from brightline.demo.proof import AppealResult, LedgerResult, TransparencyResult
from brightline.demo.provider import DetectionResult, PeopleResult, ProviderResult
from brightline.demo.review import CaseResult, PlanResult, ReportsResult, ReviewResult
from brightline.errors import InvalidInputError, Problem
from brightline.service import show_restriction
from brightline.synth.story import STORY_SUBSCRIPTIONS, UNIT

#: What the demo writes in its directory; ``--force`` removes these and nothing else.
DEMO_ENTRIES: Final = (
    "brightline.db",
    "brightline.db-wal",
    "brightline.db-shm",
    "data",
    "world",
    "rules",
    "restrictions",
    "tiles",
    "enforcement-point",
    "transparency",
)
OK: Final = "[green]✓[/]"
NO: Final = "[red]✗[/]"


def _check(flag: bool) -> str:
    return OK if flag else NO


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _effect(effect: str) -> str:
    return f"[bold red]{effect}[/]" if effect == "deny" else f"[green]{effect}[/]"


def _prepare(directory: Path | None, *, force: bool) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="brightline-demo-"))
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(Problem(str(directory), "not a directory"))
    if directory.is_dir() and any(directory.iterdir()):
        if not force:
            raise InvalidInputError(
                Problem(
                    str(directory),
                    "not empty: give an empty or new directory, or --force to replace an "
                    "earlier demo's files there",
                )
            )
        for name in DEMO_ENTRIES:
            path = directory / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@contextmanager
def _progress() -> Iterator[Callable[[str, float, float], None]]:
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:

        def update(what: str, done: float, total: float) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total or None)
            bar.update(tasks[what], completed=done, total=total or None)

        yield update


# -- rendering, one function per step result --------------------------------------------------


def _provider(r: ProviderResult) -> None:
    console.print(
        f"{r.customers:,} customers, {r.subscriptions:,} subscriptions; {r.rows:,} hourly metering "
        f"rows from {r.since:%Y-%m-%d} to {r.until:%Y-%m-%d} (metadata only: who, which service "
        f"and operation, where, how much); ingested {r.accepted:,}, quarantined {r.quarantined}.",
        highlight=False,
    )
    table = Table("unit of the Ministry of Defence of Freedonia", "name", "subscriptions")
    for unit, name, subs in r.ministry:
        style = "bold" if unit == UNIT else None
        table.add_row(unit, name, str(subs), style=style)
    console.print(table)
    names = ", ".join(f"{name} ({cid})" for cid, name in r.look_alikes)
    console.print(f"Honest look-alikes: {names}.", highlight=False)
    console.print(f"[dim]world files: {r.directory}[/]", highlight=False)


def _decisions(title: str, rows: Sequence[Decided], before: Sequence[Decided] = ()) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("call")
    if before:
        table.add_column("before")
    for column in ("in process", "client", "HTTP", "ok"):
        table.add_column(column)
    for i, d in enumerate(rows):
        c = d.call
        cells = [f"{c.who}\n[dim]{c.node} {c.action} @ {c.region}[/]"]
        if before:
            cells.append(_effect(before[i].in_process))
        cells += [_effect(d.in_process), _effect(d.client), _effect(d.http)]
        cells.append(_check(d.agree and d.in_process == c.expected))
        table.add_row(*cells)
    return table


def _people(r: PeopleResult) -> None:
    table = Table("principal", "who", "roles", "API key id")
    for c in r.people:
        table.add_row(c.person.name, c.person.what, ", ".join(c.person.roles), c.key_id)
    console.print(table)
    console.print(
        f"The API listens on {r.url}. The enforcement point holds signed bundle "
        f"{r.bundle_version[:12]}… (serial {r.bundle_serial}), verified with the ledger's key.",
        highlight=False,
    )
    allowed = all(d.in_process == d.client == d.http == "allow" for d in r.before)
    console.print(
        f"Before any restriction, the {len(r.before)} calls of the story are "
        + (
            "all allowed, in process, by the client and over HTTP."
            if allowed
            else "not all allowed!"
        ),
        highlight=False,
    )


def _detection(r: DetectionResult) -> None:
    table = Table(title="alerts", title_justify="left")
    for column in ("node", "score", "rules that fired"):
        table.add_column(column)
    for a in r.alerts:
        table.add_row(
            f"[bold]{a.node}[/] ({a.kind})\n{a.name}\n[dim]pack {a.pack}[/]",
            f"{a.score:g} ≥ {a.threshold:g}",
            "\n".join(a.rules),
        )
    console.print(table)
    looks = Table(title="look-alikes (per customer)", title_justify="left")
    for column in ("customer", "rules that fired", "score", "alert"):
        looks.add_column(column)
    for customer, name, rules, score in r.look_alikes:
        looks.add_row(
            f"{customer}\n[dim]{name}[/]",
            "\n".join(rules) or "none",
            f"{score:g} < {r.threshold:g}",
            "no" if score < r.threshold else "[red]yes[/]",
        )
    console.print(looks)
    console.print(
        f"{r.engine}, {r.seconds:.1f} s. The shipped pack scores per customer and flags the "
        "ministry; the same rules rolled up per unit name the unit. A detection is a reason "
        "for a person to review, never a verdict.",
        highlight=False,
    )


def _reports(r: ReportsResult) -> None:
    table = Table("signal", "source", "nodes", "summary")
    for s in r.signals:
        summary = s.summary if len(s.summary) <= 110 else s.summary[:109] + "…"
        table.add_row(s.ref, s.source, ", ".join(s.nodes), escape(summary))
    console.print(table)
    console.print(
        f"The employee's identity is stored apart from the report. The case admin sees: "
        f"{escape(r.admin_sees)}. The investigator asks: {escape(r.investigator_gets)}.",
        highlight=False,
    )
    console.print(
        "The public report came through POST /v1/public/reports with no account; its author "
        f"kept the receipt and reads with it: {escape(r.public_status)}.",
        highlight=False,
    )


def _case(r: CaseResult) -> None:
    console.print(
        f"Case [bold]{r.case_id}[/] groups {', '.join(r.signals)} on {', '.join(r.nodes)}; "
        f"assigned to {', '.join(r.assigned)}; status [bold]{r.status}[/]. Its nodes are under a "
        "telemetry hold until it closes.",
        highlight=False,
    )


def _review(r: ReviewResult) -> None:
    table = Table(title=f"usage of {UNIT}, last 30 days (pinned as evidence)", title_justify="left")
    for column in ("service", "unit", UNIT, "of the ministry's", "in the two regions abroad"):
        table.add_column(column, justify="right" if column != "service" else "left")
    for u in r.usage:
        share = u.unit_quantity / u.ministry_quantity if u.ministry_quantity else 0.0
        table.add_row(
            u.service, u.unit, _number(u.unit_quantity), f"{share:.0%}", f"{u.abroad_share:.0%}"
        )
    console.print(table)
    console.print(
        f"Per subscription, with a stated purpose (recorded as a case event and a ledger "
        f"entry): {', '.join(r.subscriptions_seen)}.",
        highlight=False,
    )
    console.print(f"Evidence: {'; '.join(r.evidence)}.", highlight=False)
    console.print(f"Finding: {escape(r.finding)}", highlight=False)
    console.print(f"Case status: [bold]{r.status}[/]", highlight=False)


def _plan(r: PlanResult) -> None:
    console.print(Syntax(r.restriction, "yaml", background_color="default", word_wrap=True))
    doc: dict[str, Any] = r.document
    described = doc["restrictions"][0]
    exempt = ", ".join(f"{e['node']} ({e['subscriptions']})" for e in described["exempt"])
    console.print(
        f"{doc['subscriptions_affected']} subscriptions affected under {described['scope']}; "
        f"exempt: {exempt}; {len(described['actions'])} actions in "
        f"{', '.join(described['regions'])}.",
        highlight=False,
    )
    table = Table(title="affected usage, last 30 days", title_justify="left")
    for column in ("service", "region", "unit", "quantity", "metered hours"):
        table.add_column(column)
    for row in doc["affected_usage"]:
        table.add_row(
            row["service"], row["region"], row["unit"], _number(row["quantity"]), str(row["hours"])
        )
    console.print(table)
    untouched = ", ".join(row["service"] for row in doc["untouched_services"])
    console.print(f"The ministry's services left untouched: {untouched}.", highlight=False)
    for phase in doc["phases"]:
        replay = phase["replay"]
        console.print(
            f"Replay of the last {doc['replay_days']} days: {replay['denied']:,} of "
            f"{replay['rows']:,} of the ministry's metered rows would have been denied "
            f"({replay['share']:.1%}); {phase['diff']['changes']:,} (node, action, region) "
            "decisions change.",
            highlight=False,
        )
    radius = doc["blast_radius"]
    limits = radius["limits"]
    verdict = "[red]exceeds the limits[/]" if radius["exceeds"] else "within the limits"
    console.print(
        f"Blast radius: {radius['subscriptions']} subscriptions (limit "
        f"{limits['max_subscriptions']}), {radius['usage_share']:.1%} of metered hours (limit "
        f"{limits['max_usage_share']:.0%}): {verdict}. [dim]plan digest {doc['digest'][:16]}…[/]",
        highlight=False,
    )


def _approval(r: ApprovalResult) -> None:
    console.print(
        f"{r.proposed_by} decided to restrict and proposed {r.restriction_id} with the plan "
        f"attached; case status [bold]{r.case_status}[/].",
        highlight=False,
    )
    console.print(f"{r.proposed_by} tries to approve it too: {escape(r.self_approval)}")
    if r.guard_by:
        console.print(f"Blast-radius guard approval by {r.guard_by}.", highlight=False)
    console.print(
        f"{r.approved_by} approves over the HTTP API (POST /v1/restrictions/{r.restriction_id}"
        f"/approve): status [bold]{r.status}[/].",
        highlight=False,
    )


def _enforcement(r: EnforcementResult) -> None:
    console.print(
        f"The enforcement point long-polled and installed bundle {r.bundle_after[:12]}… "
        f"(was {r.bundle_before[:12]}…, serial {r.serial_after}) "
        f"{r.pickup_seconds:.2f} s after the approval; signature checked, no rollback.",
        highlight=False,
    )
    console.print(_decisions("decisions, before → after", r.after, r.before))
    denied = next((d for d in r.after if d.in_process == "deny"), None)
    if denied is not None:
        console.print(f"[dim]why:[/] {escape(denied.explanation)}", highlight=False)
    exempt = next((d for d in r.after if "exempt" in d.call.who), None)
    if exempt is not None:
        console.print(f"[dim]and:[/] {escape(exempt.explanation)}", highlight=False)
    reported = ", ".join(f"{k}: {n}" for k, n in r.reported.items()) or "nothing"
    console.print(f"Decision log reported by the enforcement point: {reported}.", highlight=False)


def _ledger(r: LedgerResult) -> None:
    console.print(
        f"{OK} {r.size} entries recomputed from the store; root {r.root[:16]}… matches the "
        f"latest signed checkpoint; {r.checkpoints} checkpoints consistent.",
        highlight=False,
    )
    console.print(
        f"{OK} exported as C2SP tiles to {r.tiles} and verified from the tiles alone "
        f"({r.tiles_size} entries).",
        highlight=False,
    )
    console.print(f"Entry {r.disclosed_index} ({r.disclosed_type}), as published:", highlight=False)
    console.print_json(data=r.public)
    console.print(
        f"{_check(r.commitment_ok)} the disclosed record and salt match its commitment   "
        f"{_check(r.inclusion_ok)} its inclusion proof checks (RFC 9162)   "
        f"{_check(r.checkpoint_ok)} against the signed checkpoint",
        highlight=False,
    )


def _appeal(r: AppealResult) -> None:
    console.print(
        f"The customer {r.filed_by} signs in and sees, on its own subtree only: "
        f"{', '.join(r.customer_sees) or 'nothing'}.",
        highlight=False,
    )
    console.print(f"It appeals (GET/POST /v1/customer/…): {escape(r.grounds)}", highlight=False)
    console.print(
        f"Re-reviewed by {r.decided_by}: [bold]{r.outcome}[/]; case status [bold]{r.status}[/]; "
        f"restriction {r.restriction_status}.",
        highlight=False,
    )


def _transparency(r: TransparencyResult) -> None:
    console.print(
        f"Report for {r.period[0]} to {r.period[1]}: {r.tables} tables, {r.in_force} "
        f"restriction(s) in force listed with their ledger proofs, counts from 1 to {r.k - 1} "
        f"shown as '< {r.k}'; {r.files} files, from the {r.checkpoint_size} public entries "
        "under the latest signed checkpoint.",
        highlight=False,
    )
    console.print(f"Site: {r.site / 'index.html'}   tiles: {r.tiles}", highlight=False)
    console.print(
        f"{_check(r.verified)} verified against the tiles and the log's public key alone: every "
        "figure recomputed, every file compared"
        + ("." if r.verified else ": " + "; ".join(escape(p) for p in r.problems[:5])),
        highlight=False,
    )


RENDER: Final[dict[type, Callable[[Any], None]]] = {
    ProviderResult: _provider,
    PeopleResult: _people,
    DetectionResult: _detection,
    ReportsResult: _reports,
    CaseResult: _case,
    ReviewResult: _review,
    PlanResult: _plan,
    ApprovalResult: _approval,
    EnforcementResult: _enforcement,
    LedgerResult: _ledger,
    AppealResult: _appeal,
    TransparencyResult: _transparency,
}


def _serve(demo: Demo) -> None:
    assert demo.server is not None
    url = f"{demo.server.url}/console/cases/{demo.case_id}"
    console.rule("[bold]Serving")
    console.print("API keys, one per person (sign in with one):")
    for c in demo.credentials.values():
        console.print(
            f"  {c.person.name} ({', '.join(c.person.roles)}): {c.key}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"Ledger verifier key: {demo.verifier}", highlight=False, soft_wrap=True)
    console.print(f"The API: {demo.server.url}  (OpenAPI: /openapi.json)", highlight=False)
    console.print(f"The finished case: [bold]{url}[/]", highlight=False, soft_wrap=True)
    console.print("Ctrl-C stops the server.")
    try:
        while demo.server.running:
            demo.server.wait(0.5)
    except KeyboardInterrupt:
        console.print("stopping the server")


@command(name="demo")
def demo_command(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where to keep the demo's store and files (default: a new temporary directory).",
        ),
    ] = None,
    scale: Annotated[
        int,
        typer.Option(
            "--scale", min=STORY_SUBSCRIPTIONS, help="Subscriptions in the synthetic provider."
        ),
    ] = DEFAULT_SCALE,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic provider.")] = 0,
    pace: Annotated[
        float, typer.Option("--pace", min=0.0, help="Seconds to pause between steps.")
    ] = 1.5,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the server running afterwards (Ctrl-C stops).")
    ] = False,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free one).")
    ] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier demo's files in --dir.")
    ] = False,
) -> None:
    """Run the whole story over a synthetic provider: detection, reports, a case, review,
    the impact plan, four-eyes approval, enforcement, the ledger and an appeal."""
    target = _prepare(directory, force=force)
    console.print(
        Panel(
            "A cloud provider holds its red line — no technology for the mass surveillance of "
            "civilians — without reading its customers' data: one intelligence unit of a "
            "ministry loses cloud storage and AI services in two regions, and the rest of the "
            "contract keeps working.\n"
            f"[dim]directory: {target}   scale: {scale:,} subscriptions[/]",
            title="Brightline demo",
            expand=False,
        ),
        highlight=False,
    )
    options = DemoOptions(target, scale=scale, seed=seed, port=port)
    started = time.monotonic()
    with Demo.create(options) as demo:
        for number, step in enumerate(STEPS, start=1):
            console.rule(f"[bold]{number}. {step.title}")
            doc = (step.run.__doc__ or "").strip().split("\n\n")[0]
            console.print(f"[dim]{escape(' '.join(doc.split()))}[/]", highlight=False)
            began = time.monotonic()
            with _progress() as progress:
                result = step.run(demo, progress)
            RENDER[type(result)](result)
            console.print(f"[dim]({time.monotonic() - began:.1f} s)[/]", justify="right")
            if pace and number < len(STEPS):
                time.sleep(pace)
        case = finished_case(demo)
        console.rule("[bold]The end")
        console.print(
            f"Case {case['id']}: {case['status']}; restriction {RESTRICTION_ID}: "
            f"{show_restriction(demo.store, RESTRICTION_ID).status}; "
            f"{time.monotonic() - started:.0f} s.\nEverything is in {target}: "
            f"BRIGHTLINE_DATABASE_URL=sqlite:///{target / 'brightline.db'} "
            f"BRIGHTLINE_DATA_DIR={target / 'data'} brightline ledger verify",
            highlight=False,
            soft_wrap=True,
        )
        if serve:
            _serve(demo)
