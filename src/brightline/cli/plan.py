"""``brightline restrict plan FILE``: the impact of restrictions before proposing them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from brightline.access import Action
from brightline.cli.app import command, console, settings
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.cli.restrict import restrict_app
from brightline.errors import InvalidInputError, Problem
from brightline.service.guard import PlanLimits
from brightline.service.plans import plan_text


@command(restrict_app, name="plan")
def plan(
    file: Annotated[Path, typer.Argument(help="YAML file: one restriction, or a list.")],
    replay_days: Annotated[int, typer.Option("--replay-days")] = 30,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show what the restrictions would do: nodes, usage, replay, decision diff, guard."""
    config = settings()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(Problem(str(file), f"cannot read: {exc}")) from exc
    with acting(Action.PLAN, key_file, token_file, config=config) as (store, _):
        result = plan_text(
            store,
            config,
            text,
            name=file.name,
            now=datetime.now(UTC),
            limits=PlanLimits.of(config),
            replay_days=replay_days,
        )
    if as_json:
        console.print_json(json.dumps(result.to_json()))
        return
    _render(result.to_json())


def _render(doc: dict[str, Any]) -> None:
    say = console.print
    for r in doc["restrictions"]:
        say(
            f"[bold]{r['id']}[/] on {r['scope']} ({r['scope_kind']} of {r['customer']}): "
            f"{r['subscriptions']} subscriptions, {r['mode']}",
            highlight=False,
        )
        for e in r["exempt"]:
            say(f"  exempt: {e['node']} ({e['subscriptions']} subscriptions)", highlight=False)
        say(f"  actions: {', '.join(r['actions'])}", highlight=False)
        say(f"  regions: {', '.join(r['regions'])}", highlight=False)
    say(f"usage affected, last {doc['usage_days']} days:")
    for u in doc["affected_usage"]:
        say(
            f"  {u['service']:18} {u['region']:18} {u['quantity']:>14g} {u['unit']} "
            f"({u['hours']} h)",
            highlight=False,
        )
    say("untouched services of the same customers:")
    for u in doc["untouched_services"]:
        say(f"  {u['service']:18} {u['quantity']:>14g} {u['unit']}", highlight=False)
    for phase in doc["phases"]:
        replay = phase["replay"]
        say(f"phase from {phase['starts']}: {', '.join(phase['restrictions'])}", highlight=False)
        say(
            f"  replay of {doc['replay_days']} days: {replay['denied']} of {replay['rows']} "
            f"metered rows denied ({replay['share']:.1%})",
            highlight=False,
        )
        for row in replay["by_service_region"]:
            say(f"    {row['service']} in {row['region']}: {row['denied']}", highlight=False)
        diff = phase["diff"]
        say(f"  decision diff: {diff['changes']} (node, action, region) change", highlight=False)
        for change in diff["sample"][:20]:
            say(
                f"    {change['node']} {change['action']} {change['region']}: "
                f"{change['before']} → {change['after']}",
                highlight=False,
            )
    guard = doc["blast_radius"]
    limits = guard["limits"]
    say(
        f"blast radius: {guard['subscriptions']} subscriptions (limit "
        f"{limits['max_subscriptions']}), {guard['usage_share']:.1%} of metered hours (limit "
        f"{limits['max_usage_share']:.1%})",
        highlight=False,
    )
    if guard["exceeds"]:
        say(
            "[bold yellow]needs an extra approval from a second approver:[/] "
            + "; ".join(guard["reasons"]),
            highlight=False,
        )
