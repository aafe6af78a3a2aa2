"""Usage views for cases and plans, read from the metering dataset (Parquet, per day).

Privacy guard: a case sees usage as aggregates per node it names (every subscription
below it summed). A per-subscription breakdown needs a stated purpose, and each such
access is itself a case event, hence a ledger entry. Pinning an aggregate as evidence
stores the query, its parameters, the rows and their SHA-256, as of when it was taken.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from weakref import WeakKeyDictionary

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from brightline.access import Principal
from brightline.cases import Action, AggregateRow, CaseMove, UsageAggregate
from brightline.cases.model import check_text
from brightline.config import Settings
from brightline.errors import InvalidInputError, NotFoundError, Problem
from brightline.policy import format_time
from brightline.service.cases import load_case, now_utc, record, require
from brightline.store import (
    Store,
    StoredWorld,
    latest_world_version,
    world_by_version,
)
from brightline.telemetry import METERING_SCHEMA, TelemetryDataset, rollups, rollups_cover
from brightline.world import Directory

#: The aggregate queries a case may pin; the name says what the numbers are.
QUERY_PER_NODE: Final = "usage-per-node/1"
QUERY_PER_SUBSCRIPTION: Final = "usage-per-subscription/1"
COLUMNS: Final = ("ts", "subscription_id", "service", "operation", "region", "quantity", "unit")


def telemetry_of(settings: Settings) -> TelemetryDataset:
    return TelemetryDataset(settings.data_dir / "telemetry")


def read_usage(
    dataset: TelemetryDataset,
    *,
    subscriptions: Iterable[str],
    since: datetime,
    until: datetime,
) -> pa.Table:
    """Metering rows of ``subscriptions`` with ``since <= ts < until`` (empty if none)."""
    wanted = pa.array(sorted(set(subscriptions)), pa.string())
    files = _raw_files(dataset, since=since, until=until)
    if not files or len(wanted) == 0:
        return METERING_SCHEMA.empty_table().select(list(COLUMNS))
    # The subscription filter is pushed into the read, so that a case about a few
    # subscriptions does not materialise every row of the window.
    table = pq.read_table(
        files,
        columns=list(COLUMNS),
        partitioning=None,
        filters=pc.is_in(pc.field("subscription_id"), wanted),
    )
    mask = pc.and_(
        pc.greater_equal(table["ts"], pa.scalar(since, pa.timestamp("us", tz="UTC"))),
        pc.less(table["ts"], pa.scalar(until, pa.timestamp("us", tz="UTC"))),
    )
    return table.filter(mask)


def _raw_files(dataset: TelemetryDataset, *, since: datetime, until: datetime) -> list[Path]:
    """The raw files of the days from ``since`` to ``until`` (both included)."""
    first, last = since.strftime("%Y-%m-%d"), until.strftime("%Y-%m-%d")
    files: list[Path] = []
    for day_dir in dataset.day_dirs():
        day = day_dir.name.split("=", 1)[1]
        if first <= day <= last:
            files.extend(sorted(day_dir.glob("*.parquet")))
    return files


#: The keys of a usage summary, before its ``quantity`` (summed) and ``rows`` (counted).
SUMMARY_KEYS: Final = ("subscription_id", "service", "operation", "region", "unit")
_SUMMARY_SCHEMA: Final = pa.schema(
    [
        *(pa.field(k, pa.string()) for k in SUMMARY_KEYS),
        pa.field("quantity", pa.float64()),
        pa.field("rows", pa.int64()),
    ]
)


def summarise(table: pa.Table) -> pa.Table:
    """Metering rows summed per key: ``quantity`` summed, ``rows`` counted."""
    if table.num_rows == 0:
        return _SUMMARY_SCHEMA.empty_table()
    summed = table.group_by(list(SUMMARY_KEYS)).aggregate(
        [("quantity", "sum"), ("quantity", "count")]
    )
    return pa.table(
        [
            *(pc.cast(summed[k], pa.string()) for k in SUMMARY_KEYS),
            summed["quantity_sum"],
            pc.cast(summed["quantity_count"], pa.int64()),
        ],
        schema=_SUMMARY_SCHEMA,
    )


def read_usage_summary(
    dataset: TelemetryDataset,
    *,
    subscriptions: Iterable[str],
    since: datetime,
    until: datetime,
) -> pa.Table:
    """The usage of ``subscriptions`` with ``since <= ts < until`` summed per key (see
    :func:`summarise`). Whole UTC days come from the daily rollups when they cover the
    data (a case's 30 days are then 30 small files, not every hourly row); the partial
    days at either end, and everything when the rollups do not cover, from raw rows."""
    wanted = sorted(set(subscriptions))
    first_whole = _day_start(since + timedelta(days=1) - timedelta(microseconds=1))
    end_whole = _day_start(until)
    if not wanted or first_whole >= end_whole or not rollups_cover(dataset):
        return summarise(read_usage(dataset, subscriptions=wanted, since=since, until=until))
    stored = rollups.rollup_files(dataset.root)
    days = [
        path
        for day, path in sorted(stored.items())
        if first_whole.strftime("%Y-%m-%d") <= day < end_whole.strftime("%Y-%m-%d")
    ]
    parts = [
        _partial_day(dataset, subscriptions=wanted, since=since, until=first_whole),
        _partial_day(dataset, subscriptions=wanted, since=end_whole, until=until),
    ]
    if days:
        parts.append(rollups.read_summed(days, wanted).cast(_SUMMARY_SCHEMA))
    table = pa.concat_tables(parts)
    if table.num_rows == 0:
        return _SUMMARY_SCHEMA.empty_table()
    summed = table.group_by(list(SUMMARY_KEYS)).aggregate([("quantity", "sum"), ("rows", "sum")])
    return pa.table(
        [*(summed[k] for k in SUMMARY_KEYS), summed["quantity_sum"], summed["rows_sum"]],
        schema=_SUMMARY_SCHEMA,
    )


_PARTIALS: Final = 64
_partials: OrderedDict[tuple[object, ...], pa.Table] = OrderedDict()
_partials_lock = threading.Lock()


def _partial_day(
    dataset: TelemetryDataset, *, subscriptions: list[str], since: datetime, until: datetime
) -> pa.Table:
    """The summary of a partial day at either end of a window, from its raw rows. The last
    few are kept by their files (path, inode, size, change time: any writer replaces or
    adds files), so that a page shown again within the hour reads them once."""
    if since >= until:
        return _SUMMARY_SCHEMA.empty_table()
    try:
        stats = tuple(
            (str(p), s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns)
            for p in _raw_files(dataset, since=since, until=until)
            for s in (p.stat(),)
        )
    except FileNotFoundError:  # a writer replaced a file meanwhile: read without keeping
        return summarise(read_usage(dataset, subscriptions=subscriptions, since=since, until=until))
    key = (stats, tuple(subscriptions), since, until)
    with _partials_lock:
        kept = _partials.get(key)
        if kept is not None:
            _partials.move_to_end(key)
            return kept
    table = summarise(read_usage(dataset, subscriptions=subscriptions, since=since, until=until))
    with _partials_lock:
        _partials[key] = table
        while len(_partials) > _PARTIALS:
            _partials.popitem(last=False)
    return table


def _day_start(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def aggregate(table: pa.Table, group: str, node_of: dict[str, str]) -> list[AggregateRow]:
    """Sum a usage summary per (node, service, operation, region, unit); ``node_of`` maps
    subscriptions. ``hours`` are the metered rows summed."""
    if table.num_rows == 0:
        return []
    nodes = pa.array([node_of[s] for s in table["subscription_id"].to_pylist()], pa.string())
    keyed = table.append_column(group, nodes)
    keys = [group, "service", "operation", "region", "unit"]
    summed = keyed.group_by(keys).aggregate([("quantity", "sum"), ("rows", "sum")])
    rows = [
        AggregateRow(
            node=r[group],
            service=r["service"],
            operation=r["operation"],
            region=r["region"],
            unit=r["unit"],
            quantity=float(f"{r['quantity_sum']:.12g}"),
            hours=int(r["rows_sum"]),
        )
        for r in summed.to_pylist()
    ]
    return sorted(rows, key=lambda r: (r.node, r.service, r.operation, r.region, r.unit))


_worlds: WeakKeyDictionary[Store, StoredWorld] = WeakKeyDictionary()
_worlds_lock = threading.Lock()


def _latest_world(store: Store, session: Session) -> StoredWorld | None:
    """The store's newest world, loaded once per version: an imported version never
    changes, and loading the demo's 12,000 nodes takes longer than the case's usage."""
    version = latest_world_version(session)
    if version is None:
        return None
    with _worlds_lock:
        kept = _worlds.get(store)
    if kept is not None and kept.version == version:
        return kept
    stored = world_by_version(session, version)
    if stored is not None:
        with _worlds_lock:
            _worlds[store] = stored
    return stored


def subscriptions_under(directory: Directory, node: str) -> list[str]:
    """Leaves of the subtree: the nodes metering rows name."""
    return [n for n in directory.subtree(node) if not directory.children(n)]


@dataclass(frozen=True, slots=True)
class UsageView:
    aggregate: UsageAggregate
    breakdown: bool

    def to_json(self) -> dict[str, Any]:
        return {"breakdown": self.breakdown, **self.aggregate.to_json()}


def case_usage(
    store: Store,
    settings: Settings,
    case_id: str,
    *,
    actor: Principal,
    days: int = 30,
    nodes: Sequence[str] = (),
    purpose: str | None = None,
    pin: bool = False,
    now: datetime | None = None,
) -> UsageView:
    """Usage of the case's nodes (or ``nodes``, each within them) over the last ``days``.

    Per node by default. With ``purpose``, per subscription: the access is recorded as a
    ``usage-accessed`` case event naming the purpose. With ``pin``, the aggregate is
    added to the case as evidence.
    """
    if not 1 <= days <= 400:
        raise InvalidInputError(Problem("--days", "between 1 and 400"))
    breakdown = purpose is not None
    if breakdown:
        purpose = check_text(purpose or "", "--purpose", limit=500)
    at = now_utc(now)
    until = at.replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(days=days)
    with store.read() as session:
        state = load_case(session, case_id)
        action = Action.VIEW_USAGE_BREAKDOWN if breakdown else Action.VIEW_USAGE
        require(actor, action, state)
        if pin:
            require(actor, Action.ADD_EVIDENCE, state)
        stored = _latest_world(store, session)
        if stored is None:
            raise NotFoundError("no world in the store yet")
    directory = stored.world.directory
    chosen = list(nodes) or list(state.nodes)
    outside = [
        n
        for n in chosen
        if n not in directory or not any(directory.is_within(n, c) for c in state.nodes)
    ]
    if outside:
        raise InvalidInputError(
            Problem("--node", f"not a node of case {case_id}: {', '.join(outside)}")
        )
    under = {node: subscriptions_under(directory, node) for node in chosen}
    every = {sub for subs in under.values() for sub in subs}
    table = read_usage_summary(
        telemetry_of(settings), subscriptions=every, since=since, until=until
    )
    if breakdown:
        rows = aggregate(table, "node", {sub: sub for sub in every})
    else:  # each node sums its own subtree, even where the case's nodes overlap
        rows = []
        for node, subs in under.items():
            part = table.filter(pc.is_in(table["subscription_id"], pa.array(subs, pa.string())))
            rows += aggregate(part, "node", dict.fromkeys(subs, node))
    params = {"nodes": chosen, "since": format_time(since), "until": format_time(until)}
    result = UsageAggregate(
        query=QUERY_PER_SUBSCRIPTION if breakdown else QUERY_PER_NODE,
        params={**params, **({"purpose": purpose} if breakdown else {})},
        rows=tuple(rows),
        result_sha256=UsageAggregate.digest(rows),
        taken_at=format_time(at) or "",
    )
    if breakdown or pin:
        with store.write() as session:
            state = load_case(session, case_id)
            if breakdown:
                state = record(
                    session,
                    state,
                    case_id=case_id,
                    move=CaseMove.USAGE_ACCESSED,
                    actor=actor.name,
                    at=at,
                    data={
                        "purpose": purpose,
                        "query": result.query,
                        "params": params,
                        "result_sha256": result.result_sha256,
                    },
                )
            if pin:
                record(
                    session,
                    state,
                    case_id=case_id,
                    move=CaseMove.EVIDENCE_ADDED,
                    actor=actor.name,
                    at=at,
                    data={"number": state.next_number("evidence"), "evidence": result.to_json()},
                )
    return UsageView(result, breakdown)
