"""Decisions, signed bundles and decision logs: the endpoints enforcement points use.

The batch endpoint parses its body with orjson into columns and decides them in one
``decide_batch`` call, rather than building a pydantic model per request: at 10,000
requests a batch, model parsing would cost more than deciding.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from brightline.access import Action, Principal
from brightline.api.auth import require
from brightline.bundle import CURRENT_HEADER, encode_header
from brightline.errors import AccessDeniedError, InvalidInputError, Problem
from brightline.policy import BatchEffect, denial_notice, format_time, to_micros
from brightline.policy import Request as DecisionRequest
from brightline.server.state import AppState, store_call
from brightline.service.decision_logs import DecisionCount, DecisionLogReport, record_report

router = APIRouter(prefix="/v1", tags=["decisions"])

MAX_BATCH: Final = 10_000
Decider = Annotated[Principal, Depends(require(Action.REQUEST_DECISION, limited=False, hot=True))]
BundleReader = Annotated[Principal, Depends(require(Action.READ_BUNDLE, limited=False, hot=True))]
Reporter = Annotated[Principal, Depends(require(Action.REPORT_DECISION_LOGS))]
_EFFECTS: Final = ("allow", "deny", "error")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: str = Field(min_length=1, max_length=128)
    service: str = Field(min_length=1, max_length=128)
    operation: str = Field(min_length=1, max_length=128)
    region: str = Field(min_length=1, max_length=128)
    time: AwareDatetime | None = Field(default=None, description="RFC 3339; default now")


class CustomerNoticeOut(BaseModel):
    """What the customer's caller may be shown of a denial; never the internal reason."""

    message: str = Field(description="one sentence: restrictions, policies, how to appeal")
    restrictions: list[str] = Field(description="the restrictions that deny")
    policies: list[str] = Field(description="each restriction's policy, by its public name")
    appeal_contact: str = Field(description="whom the customer contacts to appeal")


class DecisionOut(BaseModel):
    effect: str = Field(description="allow or deny")
    restrictions: list[str] = Field(description="enforcing restrictions that deny, sorted")
    would_deny: list[str] = Field(description="dry-run restrictions that would deny, sorted")
    version: str = Field(description="snapshot version that decided")
    explanation: str = Field(description="for the provider's staff: names internal reasons")
    customer_notice: CustomerNoticeOut | None = Field(
        default=None, description="for the customer's caller, when denied (docs/api.md)"
    )


class BatchDecisionOut(BaseModel):
    effect: str = Field(description="allow, deny or error")
    restrictions: list[str]
    would_deny: list[str]
    error: str | None = None
    customer_notice: CustomerNoticeOut | None = Field(
        default=None, description="for the customer's caller, when denied: as a single decision's"
    )


class BatchOut(BaseModel):
    version: str
    decisions: list[BatchDecisionOut]


_BATCH_SCHEMA: Final = {
    "type": "object",
    "required": ["requests"],
    "additionalProperties": False,
    "properties": {
        "requests": {
            "type": "array",
            "maxItems": MAX_BATCH,
            "items": {
                "type": "object",
                "required": ["node", "service", "operation", "region"],
                "additionalProperties": False,
                "properties": {
                    "node": {"type": "string"},
                    "service": {"type": "string"},
                    "operation": {"type": "string"},
                    "region": {"type": "string"},
                    "time": {"type": "string", "format": "date-time"},
                },
            },
        }
    },
}


@router.post("/decisions", response_model=DecisionOut, summary="Decide one request")
async def decide_one(body: DecisionIn, request: Request, _: Decider) -> DecisionOut:
    """Served by :mod:`brightline.api.fast_decisions` for well-formed requests from known
    credentials; this route answers the others (and documents the schema)."""
    at = body.time.astimezone(UTC) if body.time is not None else datetime.now(UTC)
    request_ = DecisionRequest(body.node, body.service, body.operation, body.region, at)
    return DecisionOut.model_validate(decide_answer(request.app.state.brightline, request_))


def decide_answer(state: AppState, request: DecisionRequest) -> dict[str, Any]:
    """Decide ``request`` on the bundle in force, count it in the metrics and give the
    answer (DecisionOut's fields, in order): one rule for both ways ``POST /v1/decisions``
    is served. Raises as :meth:`Snapshot.decide` does (an unknown name is an error)."""
    started = time.perf_counter()
    decision = state.keeper.current.snapshot.decide(request)
    state.metrics.latency.observe(time.perf_counter() - started)
    state.metrics.decision_counts[decision.effect.value].inc()
    notice = decision.customer_notice()
    return {
        "effect": decision.effect.value,
        "restrictions": list(decision.matched),
        "would_deny": list(decision.would_deny),
        "version": decision.version,
        "explanation": decision.explain(),
        "customer_notice": None if notice is None else notice.to_json(),
    }


def _columns(body: Any) -> tuple[dict[str, Any], int]:
    if not isinstance(body, dict) or set(body) != {"requests"}:
        raise InvalidInputError(Problem("body", 'expected {"requests": [...]}'))
    items = body["requests"]
    if not isinstance(items, list):
        raise InvalidInputError(Problem("requests", "must be a list"))
    if len(items) > MAX_BATCH:
        raise InvalidInputError(
            Problem("requests", f"{len(items)} requests; a batch holds at most {MAX_BATCH}")
        )
    try:
        # The common case, checked in bulk: objects with the four names as strings and
        # no time (decided at "now"). Anything else takes the careful path below.
        if all(type(item) is dict and len(item) == 4 for item in items):
            columns = {name: [item[name] for item in items] for name in _NAMES}
            if all(type(v) is str for column in columns.values() for v in column):
                now = to_micros(datetime.now(UTC))
                return {**columns, "time": np.full(len(items), now, dtype=np.int64)}, len(items)
    except KeyError:
        pass
    return _columns_checked(items)


_NAMES: Final = ("node", "service", "operation", "region")


def _columns_checked(items: list[Any]) -> tuple[dict[str, Any], int]:
    """Every row checked, every problem named (up to 100)."""
    columns: dict[str, list[Any]] = {name: [] for name in _NAMES}
    times: list[int] = []
    now = to_micros(datetime.now(UTC))
    problems = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem(f"requests[{i}]", "must be an object"))
            continue
        for name, column in columns.items():
            value = item.get(name)
            if not isinstance(value, str):
                problems.append(Problem(f"requests[{i}].{name}", "required string"))
            column.append(value)
        extra = set(item) - {*_NAMES, "time"}
        if extra:
            problems.append(
                Problem(f"requests[{i}]", f"unknown field(s) {', '.join(sorted(extra))}")
            )
        raw = item.get("time")
        if raw is None:
            times.append(now)
            continue
        try:
            moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            problems.append(Problem(f"requests[{i}].time", "RFC 3339 time with a zone"))
            times.append(0)
        else:
            times.append(to_micros(moment))
    if problems:
        raise InvalidInputError(problems[:100])
    return {**columns, "time": np.asarray(times, dtype=np.int64)}, len(items)


#: The JSON of the most common answer, written once rather than per row.
_PLAIN_ALLOW: Final = (
    b'{"effect":"allow","restrictions":[],"would_deny":[],"error":null,"customer_notice":null}'
)


@router.post(
    "/decisions/batch",
    response_model=BatchOut,
    summary=f"Decide up to {MAX_BATCH:,} requests",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BATCH_SCHEMA}},
        }
    },
)
async def decide_batch(request: Request, _: Decider) -> Response:
    state = request.app.state.brightline
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(Problem("body", f"malformed JSON: {exc}")) from exc
    columns, n = _columns(body)
    snapshot = state.keeper.current.snapshot
    started = time.perf_counter()
    result = snapshot.decide_batch(columns)
    state.metrics.batch_latency.observe(time.perf_counter() - started)
    effects = result.effect
    m_off, w_off = result.matched_offsets, result.would_deny_offsets
    # Rows that are a plain allow (most of them) share one pre-serialised answer; only
    # the others are built and serialised one by one.
    plain = (effects == BatchEffect.ALLOW) & (np.diff(w_off) == 0)
    parts: list[bytes] = [_PLAIN_ALLOW] * n
    ids = result.restriction_ids
    m_codes, w_codes = result.matched, result.would_deny
    # The same words as a single decision's (denial_notice), made once per set of
    # restrictions that deny.
    notices: dict[tuple[str, ...], dict[str, Any]] = {}
    for i in np.flatnonzero(~plain).tolist():
        effect = int(effects[i])
        matched = tuple(ids[c] for c in m_codes[m_off[i] : m_off[i + 1]])
        notice = None
        if effect == BatchEffect.DENY:
            notice = notices.get(matched)
            if notice is None:
                notice = notices[matched] = denial_notice(snapshot, matched).to_json()
        parts[i] = orjson.dumps(
            {
                "effect": _EFFECTS[effect],
                "restrictions": list(matched),
                "would_deny": [ids[c] for c in w_codes[w_off[i] : w_off[i + 1]]],
                "error": result.error_message(i) if effect == BatchEffect.ERROR else None,
                "customer_notice": notice,
            }
        )
    counts = np.bincount(effects, minlength=3).tolist()
    for name, count in zip(_EFFECTS, counts, strict=True):
        if count:
            state.metrics.decisions.labels(effect=name).inc(count)
    body_bytes = (
        b'{"version":' + orjson.dumps(result.version) + b',"decisions":[' + b",".join(parts) + b"]}"
    )
    return Response(body_bytes, media_type="application/json")


class LedgerProofOut(BaseModel):
    index: int = Field(description="the bundle's bundle.issued entry")
    entry: str = Field(description="that entry's public form, the logged leaf data")
    proof: list[str] = Field(description="RFC 9162 inclusion proof (hex hashes)")
    checkpoint: str = Field(description="the signed checkpoint the proof leads to")
    consistency: list[str] | None = Field(
        default=None, description="consistency proof from ledger_size, when asked for"
    )


class BundleOut(BaseModel):
    note: str = Field(description="C2SP signed note over the payload's hash")
    payload: dict[str, Any]
    ledger: LedgerProofOut


@router.get(
    "/bundles/current",
    response_model=BundleOut,
    summary="The signed bundle in force, with its ledger proof",
    responses={304: {"description": "Not modified: the bundle named by If-None-Match is current"}},
)
async def current_bundle(
    request: Request,
    _: BundleReader,
    wait: Annotated[
        float, Query(ge=0, le=300, description="Long-poll for up to this many seconds")
    ] = 0,
    ledger_size: Annotated[
        int | None,
        Query(
            ge=0, description="Size of the checkpoint the client holds: adds a consistency proof"
        ),
    ] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    held = (if_none_match or "").strip().strip('"')
    return await bundle_response(request.app.state.brightline, held, wait, ledger_size)


async def bundle_response(
    state: AppState, held: str, wait: float, ledger_size: int | None
) -> Response:
    """The answer to ``GET /v1/bundles/current`` from a client holding bundle version
    ``held`` (empty: none): one rule for both ways it is served (the route above and
    :mod:`brightline.api.fast_bundles`). Raises StoreUnavailableError before the first
    bundle is logged, or when a consistency proof not made yet cannot be read."""
    keeper = state.keeper
    bundle = keeper.current
    if held and held == bundle.version and wait > 0 and state.changed is not None:
        deadline = time.monotonic() + wait
        async with state.changed:
            while keeper.current.version == held:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(state.changed.wait(), timeout=remaining)
                except TimeoutError:
                    break
    served = keeper.served
    bundle = served.bundle
    headers = {"etag": f'"{bundle.version}"', CURRENT_HEADER: encode_header(keeper.freshness())}
    if held and held == bundle.version:
        return Response(status_code=304, headers=headers)
    consistency = None
    if ledger_size is not None and 0 < ledger_size < served.size:
        consistency = keeper.known_consistency(ledger_size, served.size)
        if consistency is None:
            consistency = await store_call(state, keeper.consistency, ledger_size, served.size)
    else:
        ledger_size = None
    return Response(
        served.encoded(ledger_size, consistency),
        media_type="application/json",
        headers={**headers, "x-brightline-serial": str(bundle.serial)},
    )


_ID = r"^[A-Za-z0-9._:\-]{1,128}$"
_INT32 = 2**31 - 1


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    restriction: str = Field(pattern=_ID)
    node: str = Field(pattern=_ID)
    hour: AwareDatetime
    effect: str = Field(pattern="^(deny|would-deny)$")
    count: int = Field(ge=0, le=_INT32)


class DecisionLogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_id: str = Field(pattern=r"^[A-Za-z0-9._\-]{1,64}$")
    enforcement_point: str | None = Field(
        default=None,
        pattern=_ID,
        description="The reporting point; always the principal of the key, so it may be "
        "left out (another name is refused)",
    )
    counts: list[CountIn] = Field(default_factory=list, max_length=100_000)
    samples: list[dict[str, Any]] = Field(default_factory=list, max_length=1_000)
    dropped: int = Field(default=0, ge=0, le=_INT32, description="records the point dropped")


class DecisionLogAck(BaseModel):
    accepted: bool
    duplicate: bool


@router.post("/decision-logs", response_model=DecisionLogAck, summary="Report decision logs")
async def report_decision_logs(
    body: DecisionLogIn, request: Request, who: Reporter
) -> DecisionLogAck:
    state = request.app.state.brightline
    # A point reports for itself only: the name comes from its key, never from the body.
    if body.enforcement_point is not None and body.enforcement_point != who.name:
        raise AccessDeniedError(
            f"{who.name} may report decision logs only as itself, not as {body.enforcement_point!r}"
        )
    report = DecisionLogReport(
        report_id=body.report_id,
        enforcement_point=who.name,
        counts=[
            DecisionCount(c.restriction, c.node, c.hour, c.effect, c.count) for c in body.counts
        ],
        samples=body.samples,
        dropped=body.dropped,
    )
    fresh = await store_call(state, record_report, state.store, report)
    return DecisionLogAck(accepted=True, duplicate=not fresh)


def format_now() -> str:
    return format_time(datetime.now(UTC)) or ""
