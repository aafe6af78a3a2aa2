"""``brightline case notify``: notification contacts, delivery and the delivery log.
Each command acts as the principal of its credential (:mod:`brightline.cli.credentials`)."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from brightline.access import Action
from brightline.cli.app import command, console
from brightline.cli.case import case_app
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.service.notify import (
    NotifySettings,
    add_notification_contact,
    deliver_pending,
    enqueue_notifications,
    notification_log,
)

notify_app = typer.Typer(help="Notification contacts and delivery.", no_args_is_help=True)
case_app.add_typer(notify_app, name="notify")


@command(notify_app, name="add-contact")
def add_contact(
    name: Annotated[str, typer.Option("--name")],
    channel: Annotated[str, typer.Option("--channel", help="webhook or smtp")],
    target: Annotated[str, typer.Option("--target", help="URL or e-mail address")],
    node: Annotated[
        str | None, typer.Option("--node", help="Customer node; none: internal")
    ] = None,
    secret: Annotated[
        str | None, typer.Option("--secret", envvar="BRIGHTLINE_WEBHOOK_SECRET")
    ] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Add a notification contact."""
    with acting(Action.MANAGE_NOTIFICATIONS, key_file, token_file, record=True) as (store, actor):
        contact = add_notification_contact(
            store, actor=actor, name=name, channel=channel, target=target, node=node, secret=secret
        )
    console.print(f"contact {contact.id} added", highlight=False)


@command(notify_app, name="send")
def send(key_file: KeyFile = None, token_file: TokenFile = None) -> None:
    """Enqueue notifications for new events and deliver every pending one."""
    with acting(Action.MANAGE_NOTIFICATIONS, key_file, token_file) as (store, _):
        added = enqueue_notifications(store)
        report = deliver_pending(store, NotifySettings.from_env(os.environ))
    console.print(
        f"{added} enqueued, {report.delivered} delivered, {report.failed} failed "
        f"({report.attempts} attempts)",
        highlight=False,
    )


@command(notify_app, name="log")
def log(
    key_file: KeyFile = None,
    token_file: TokenFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every notification: to whom, for which event, attempts, delivered or not."""
    with acting(Action.VIEW_NOTIFICATIONS, key_file, token_file) as (store, actor):
        sent = notification_log(store, actor=actor)
    rows = [
        {
            "id": n.id,
            "event": n.event_type,
            "contact": n.contact.name,
            "channel": n.contact.channel,
            "node": n.contact.node,
            "attempts": n.attempts,
            "delivered": n.delivered,
        }
        for n in sent
    ]
    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        console.print(
            f"{row['id']:>5}  {row['event']:28} {row['contact']} ({row['channel']}): "
            f"{'delivered' if row['delivered'] else 'pending'} after {row['attempts']} attempts",
            highlight=False,
            markup=False,
        )
