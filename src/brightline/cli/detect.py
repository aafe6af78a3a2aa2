"""``brightline detect``: run a rule pack, test its rules, suppress a rule for a node."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from brightline.cli.app import app, command, console, err_console, settings
from brightline.cli.check import parse_time
from brightline.detection import Rule
from brightline.errors import InvalidInputError, Problem
from brightline.service.detection import (
    DetectResult,
    detect,
    restrictions_for,
    run_rule_tests,
    suppress,
    watch,
)
from brightline.service.telemetry import resolve_world

detect_app = typer.Typer(
    help="Detection rules over metering metadata. A detection is a reason to review, "
    "never a verdict.",
    no_args_is_help=True,
)
app.add_typer(detect_app, name="detect")

RulesOption = Annotated[
    str | None,
    typer.Option("--rules", help="Built-in pack id or a pack directory.", show_default=False),
]
WorldOption = Annotated[
    Path | None, typer.Option("--world", help="World directory; default: the store.")
]


@command(detect_app, name="run")
def run(
    rules: RulesOption = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark.")] = "duckdb",
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="e.g. local[2] or spark://host:7077")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Alerts file; default <data dir>/alerts.jsonl")
    ] = None,
    world: WorldOption = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="Roll every rule up at this level (subscription, customer or a node kind "
            "such as unit) instead of the level in its file.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="YYYY-MM-DD: evaluate only the windows that days from DAY on (and days "
            "changed since the last run) reach; the alerts are those of a full run.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a pack over the stored telemetry and write its alerts (JSON Lines)."""
    now = datetime.now(UTC)
    config = settings()
    loaded = resolve_world(config, world, now)
    first = _day(since) if since is not None else None

    def started(rule: Rule) -> None:
        err_console.print(f"[dim]{rule.id}…[/]", highlight=False)

    result = detect(
        config,
        world=loaded,
        now=now,
        rules=rules,
        engine=engine,
        spark_master=spark_master,
        out=out,
        on_rule=started,
        level=level,
        restrictions=restrictions_for(config, world, now),
        since=first,
    )
    _print_result(result)


@command(detect_app, name="watch")
def watch_telemetry(
    rules: RulesOption = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark.")] = "duckdb",
    spark_master: Annotated[str | None, typer.Option("--spark-master")] = None,
    world: WorldOption = None,
    level: Annotated[str | None, typer.Option("--level", help="As for `detect run`.")] = None,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between polls of the telemetry.")
    ] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Run once and stop.")] = False,
) -> None:
    """Run the pack after each ingest: poll the telemetry and, when it changed, evaluate
    the windows the changed days reach (a full run the first time)."""
    config = settings()
    watch(
        config,
        world=lambda at: resolve_world(config, world, at),
        clock=lambda: datetime.now(UTC),
        on_result=_print_result,
        restrictions=lambda at: restrictions_for(config, world, at),
        rules=rules,
        engine=engine,
        spark_master=spark_master,
        level=level,
        interval=interval,
        runs=1 if once else None,
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(Problem("--since", f"not a day (YYYY-MM-DD): {text!r}")) from exc


def _print_result(result: DetectResult) -> None:
    run_ = result.run
    console.print(f"[dim]{result.note}[/]", highlight=False)
    console.print(
        f"{run_.pack} on {run_.engine}: {len(run_.firings)} firings, "
        f"{len(run_.suppressed)} suppressed, {len(run_.alerts)} alerts",
        highlight=False,
    )
    for alert in run_.alerts:
        where = f" in {alert.customer}" if alert.customer not in ("", alert.node) else ""
        console.print(
            f"  [bold]{alert.node}[/] ({alert.node_kind}{where}) score {alert.score:g} ≥ "
            f"{alert.threshold:g}: {', '.join(alert.rules)}  "
            f"({alert.window_start} → {alert.window_end})",
            highlight=False,
        )
        evasion = alert.context.get("evasion")
        if evasion:
            went = evasion["went"]
            console.print(
                f"    evades {evasion['restriction']} (case {evasion['case'] or '-'}): "
                f"regions {', '.join(went['regions']) or '-'}, "
                f"services {', '.join(went['services']) or '-'}",
                highlight=False,
            )
    written = result.written
    console.print(
        f"{written.path}: {written.new} new, {written.updated} updated, {written.total} in all",
        highlight=False,
    )


@command(detect_app, name="test")
def rule_tests(
    rules: RulesOption = None,
    engine: Annotated[
        list[str] | None, typer.Option("--engine", help="Engines to test on (repeatable).")
    ] = None,
    spark_master: Annotated[str | None, typer.Option("--spark-master")] = None,
) -> None:
    """Run every rule's own positive and negative fixtures."""
    results = run_rule_tests(
        rules=rules, engines=tuple(engine or ["duckdb"]), spark_master=spark_master
    )
    for result in results:
        mark = "[green]pass[/]" if result.passed else "[bold red]FAIL[/]"
        kind = "positive" if result.positive else "negative"
        console.print(
            f"{mark} {result.engine:6} {result.rule}: {kind} {result.case!r}"
            + ("" if result.passed else f" — {result.detail}"),
            highlight=False,
        )
    failed = [r for r in results if not r.passed]
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed", highlight=False)
    if failed:
        raise InvalidInputError(Problem("rules", f"{len(failed)} fixture(s) failed"))


@command(detect_app, name="suppress")
def suppress_rule(
    node: Annotated[str, typer.Argument(help="Node (it and its subtree are silenced).")],
    rule: Annotated[str, typer.Option("--rule", help="Rule id, or * for every rule.")],
    until: Annotated[str, typer.Option("--until", help="RFC 3339 expiry, with a zone.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the suppression).")],
    by: Annotated[str, typer.Option("--by", help="Who decided.")] = "",
    world: WorldOption = None,
) -> None:
    """Silence a rule for a node until a time, with a reason."""
    now = datetime.now(UTC)
    config = settings()
    item = suppress(
        config,
        rule=rule,
        node=node,
        until=parse_time(until),
        reason=reason,
        by=by,
        world=resolve_world(config, world, now),
        now=now,
    )
    console.print(f"suppressed {item.rule} for {item.node} until {item.until}", highlight=False)
