"""``brightline restrict``: propose, approve, reject, lift, list and show restrictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from brightline.access import Action
from brightline.cli.app import app, command, console, settings
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.policy import format_time
from brightline.service import (
    EventKind,
    RestrictionView,
    Status,
    approve_restriction,
    lift_restriction,
    list_restrictions,
    propose_restrictions_file,
    reject_restriction,
    show_restriction,
)

restrict_app = typer.Typer(
    help="Restrictions: proposed, approved by a second person, in force, lifted.",
    no_args_is_help=True,
)
app.add_typer(restrict_app, name="restrict")

Why = Annotated[str, typer.Option("--why", help="Why, for the record.")]
Key = Annotated[
    str | None,
    typer.Option("--key", help="Idempotency key: a retry with the same key changes nothing."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RestrictionId = Annotated[str, typer.Argument(help="Restriction id.")]


@command(restrict_app, name="propose")
def propose(
    file: Annotated[Path, typer.Argument(help="YAML file: one restriction, or a list.")],
    case: Annotated[str | None, typer.Option("--case", help="Case id behind it.")] = None,
    key: Key = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Propose restrictions (or a dry-run restriction's promotion to enforce)."""
    with acting(Action.PROPOSE_RESTRICTION, key_file, token_file, record=True) as (store, actor):
        views = propose_restrictions_file(store, file, actor=actor, case_id=case, key=key)
    _print(views, as_json)


@command(restrict_app, name="approve")
def approve(
    restriction_id: RestrictionId,
    key: Key = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Approve a proposal, a lift or a promotion (not your own)."""
    with acting(Action.APPROVE_RESTRICTION, key_file, token_file, record=True) as (store, actor):
        view = approve_restriction(store, restriction_id, actor=actor, settings=settings(), key=key)
    _print([view], as_json)


@command(restrict_app, name="reject")
def reject(
    restriction_id: RestrictionId,
    why: Why,
    key: Key = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Reject a proposal (closing it), a lift or a promotion."""
    with acting(Action.REJECT_RESTRICTION, key_file, token_file, record=True) as (store, actor):
        view = reject_restriction(store, restriction_id, actor=actor, why=why, key=key)
    _print([view], as_json)


@command(restrict_app, name="lift")
def lift(
    restriction_id: RestrictionId,
    why: Why,
    key: Key = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Propose lifting a restriction; it is lifted when someone else approves."""
    with acting(Action.LIFT_RESTRICTION, key_file, token_file, record=True) as (store, actor):
        view = lift_restriction(store, restriction_id, actor=actor, why=why, key=key)
    _print([view], as_json)


@command(restrict_app, name="list")
def list_(
    state: Annotated[Status | None, typer.Option("--state", help="Only this status.")] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Every restriction with its status now."""
    with acting(Action.LIST_RESTRICTIONS, key_file, token_file) as (store, _):
        views = list_restrictions(store, status=state)
    if as_json:
        console.print_json(json.dumps([v.to_json(history=False) for v in views]))
        return
    table = Table("id", "status", "mode", "pending", "scope", "actions", "proposed by", "case")
    for view in views:
        body = view.state.body
        table.add_row(
            view.id,
            view.status.value,
            view.state.mode,
            _pending(view),
            str(body.get("scope")),
            ", ".join(body.get("actions", [])),
            view.state.proposed_by,
            view.state.case_id or "",
        )
    console.print(table)


@command(restrict_app, name="show")
def show(
    restriction_id: RestrictionId,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """One restriction, its status and its full event history."""
    with acting(Action.LIST_RESTRICTIONS, key_file, token_file) as (store, _):
        view = show_restriction(store, restriction_id)
    if as_json:
        console.print_json(json.dumps(view.to_json()))
        return
    _summary(view)
    body = view.state.body
    for field in ("scope", "actions", "regions", "exempt", "not_before", "not_after", "reason"):
        value = body.get(field)
        if value not in (None, [], {}):
            console.print(f"  {field}: {value}", highlight=False, markup=False)
    history = Table("rev", "event", "by", "at", "why", title="history")
    for event in view.events:
        history.add_row(
            str(event.revision),
            event.kind,
            event.actor,
            format_time(event.at) or "",
            event.why or "",
        )
    console.print(history)


_AWAITING = {
    EventKind.APPROVED: "approval",
    EventKind.LIFT_APPROVED: "approval of its lift",
    EventKind.PROMOTION_APPROVED: "approval of its promotion to enforce",
}


def _pending(view: RestrictionView) -> str:
    pending = view.state.pending
    if pending is None:
        return ""
    return f"{_AWAITING[pending]} (asked by {view.state.pending_by})"


def _summary(view: RestrictionView) -> None:
    line = f"[bold]{view.id}[/]: {view.status.value} ({view.state.mode})"
    if view.state.pending:
        line += f", awaiting {_pending(view)}"
    if view.replayed:
        line += " [dim](retry: nothing changed)[/]"
    if view.guard_approval:
        line += " — guard approval recorded; a second approver must now approve it"
    console.print(line, highlight=False)


def _print(views: list[RestrictionView], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps([v.to_json() for v in views]))
        return
    for view in views:
        _summary(view)
