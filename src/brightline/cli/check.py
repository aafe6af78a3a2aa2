"""``brightline check``: decide one request, or a file of them, and explain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brightline.access import Action
from brightline.cli.app import command, console, err_console, settings
from brightline.cli.credentials import KeyFile, TokenFile, acting
from brightline.errors import InvalidInputError, Problem
from brightline.policy import Request, Snapshot
from brightline.service.offline import load_world_dir

if TYPE_CHECKING:
    from brightline.service.request_files import FileSummary

_EFFECT_STYLE = {"allow": "green", "deny": "bold red", "error": "yellow"}


def parse_time(text: str | None, *, where: str = "--at") -> datetime:
    """``--at`` (or the value at ``where``): RFC 3339 with a zone; default now."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInputError(Problem(where, f"not an RFC 3339 time: {text!r}")) from exc
    if moment.tzinfo is None:
        raise InvalidInputError(
            Problem(where, f"time {text!r} must carry a zone, e.g. 2025-10-01T12:00:00Z")
        )
    return moment.astimezone(UTC)


def load_snapshot(
    world: Path | None,
    at: datetime,
    *,
    action: Action,
    key_file: Path | None,
    token_file: Path | None,
) -> Snapshot:
    """The snapshot from world files (offline: no credential), or from the store's
    restrictions in force at ``at``, for a principal whom the table allows ``action``."""
    from brightline.service.notices import notice_of

    config = settings()
    if world is not None:
        return load_world_dir(world).snapshot(notice=notice_of(config))
    from brightline.service.snapshots import compile_snapshot_at

    with acting(action, key_file, token_file, config=config) as (store, _):
        return compile_snapshot_at(store, at, notice=notice_of(config)).snapshot


def _split_action(text: str) -> tuple[str, str]:
    service, sep, operation = text.partition(":")
    if not sep or not service or not operation:
        raise InvalidInputError(
            Problem("SERVICE:OPERATION", f"expected service:operation, got {text!r}")
        )
    return service, operation


@command(name="check")
def check(
    node: Annotated[str | None, typer.Argument(help="Node id (usually a subscription).")] = None,
    action: Annotated[str | None, typer.Argument(metavar="SERVICE:OPERATION")] = None,
    region: Annotated[str | None, typer.Argument(help="Region id.")] = None,
    world: Annotated[
        Path | None, typer.Option("--world", help="World directory; default: the store.")
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="RFC 3339 time; default now.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    requests: Annotated[
        Path | None, typer.Option("--requests", help="CSV or Parquet file of requests.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the decided rows (.csv/.parquet).")
    ] = None,
    key_file: KeyFile = None,
    token_file: TokenFile = None,
) -> None:
    """Decide a request (NODE SERVICE:OPERATION REGION) or a file (--requests); explain why.

    With --world it reads only files and needs no credential."""
    moment = parse_time(at)
    snapshot = load_snapshot(
        world, moment, action=Action.REQUEST_DECISION, key_file=key_file, token_file=token_file
    )
    if requests is not None:
        if node or action or region:
            raise InvalidInputError(
                "give either NODE SERVICE:OPERATION REGION or --requests, not both"
            )
        if out is None:
            _print_file(snapshot, requests, moment, as_json=as_json)
        else:
            _decide_file(snapshot, requests, out, moment)
        return
    if node is None or action is None or region is None:
        raise InvalidInputError("give NODE SERVICE:OPERATION REGION, or --requests FILE")
    service, operation = _split_action(action)
    decision = snapshot.decide(Request.checked(node, service, operation, region, moment))
    if as_json:
        console.print_json(json.dumps(decision.to_dict()))
        return
    style = _EFFECT_STYLE[decision.effect.value]
    console.print(
        f"[{style}]{decision.effect.value.upper()}[/]  {decision.explain()}", highlight=False
    )
    console.print(f"[dim]snapshot {decision.version[:16]}[/]")


def _decide_file(snapshot: Snapshot, requests: Path, out: Path, at: datetime) -> None:
    from brightline.service.request_files import REPORTED_ERRORS, decide_file

    if console.is_terminal:
        summary = _decide_file_watched(snapshot, requests, out, at)
    else:  # no one watches a bar: rich.progress is not even loaded
        summary = decide_file(snapshot, requests, out, at=at)
    counts = ", ".join(f"{v} {k}" for k, v in summary.by_decision.items())
    console.print(f"{summary.rows} requests decided → {out} ({counts})", highlight=False)
    errors = summary.by_decision["error"]
    if errors:
        shown = "" if errors <= REPORTED_ERRORS else f", the first {REPORTED_ERRORS}"
        err_console.print(
            f"{errors} request(s) could not be decided (column error of {out}{shown}):",
            highlight=False,
            markup=False,
        )
        for problem in summary.errors:
            err_console.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)


def _decide_file_watched(
    snapshot: Snapshot, requests: Path, out: Path, at: datetime
) -> FileSummary:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from brightline.service.request_files import decide_file

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"deciding {requests.name}", total=None)
        return decide_file(
            snapshot,
            requests,
            out,
            at=at,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )


def _print_file(snapshot: Snapshot, requests: Path, at: datetime, *, as_json: bool) -> None:
    """Small files without --out: each request, its decision and why."""
    from rich.padding import Padding

    from brightline.service.request_files import RequestFile

    source = RequestFile(requests)
    rows = []
    for batch in source.batches():
        rows.extend(batch.to_pylist())
        if len(rows) > 1000:
            raise InvalidInputError(
                Problem(str(requests), "more than 1,000 requests: use --out FILE")
            )
    if not as_json:
        console.print(f"[dim]{requests} — snapshot {snapshot.version[:16]}[/]\n", highlight=False)
    # A CSV row's line or a Parquet row's number, so that a bad value is found where it is.
    places = source.places(range(len(rows)))
    for place, row in zip(places, rows, strict=True):
        moment: datetime | None = at if not row.get("time") else None
        try:
            if moment is None:
                moment = parse_time(str(row["time"]), where="time")
            decision = snapshot.decide(
                Request.checked(
                    row["node"], row["service"], row["operation"], row["region"], moment
                )
            )
        except InvalidInputError as exc:
            error = "; ".join(f"{place}: {p}" for p in exc.problems)
            effect, why, record = "error", error, {"error": error, "request": row}
        else:
            effect, why, record = decision.effect.value, decision.explain(), decision.to_dict()
        if as_json:
            console.print_json(json.dumps(record, default=str))
            continue
        when = f"{moment:%Y-%m-%d %H:%M}Z" if moment is not None else str(row["time"])
        console.print(
            f"[{_EFFECT_STYLE[effect]}]{effect.upper():5}[/] {row['node']}  "
            f"{row['service']}:{row['operation']}  {row['region']}  {when}",
            highlight=False,
        )
        console.print(Padding(why, (0, 0, 1, 6)), highlight=False)
