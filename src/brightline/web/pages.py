"""The dashboard, restrictions and their plans, the customer tree with its tester, and
the ledger."""

from __future__ import annotations

import base64
import io
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from brightline.access import Action
from brightline.errors import BrightlineError, NotFoundError
from brightline.ledger import verify_inclusion
from brightline.server.state import app_state, store_call
from brightline.service import console as read
from brightline.service.ledger import LedgerKeys, export_tiles_dir, ledger_status
from brightline.service.restrictions import (
    approve_restriction,
    lift_restriction,
    list_restrictions,
    reject_restriction,
)
from brightline.web.common import (
    CUSTOMER_HOME,
    PREFIX,
    Me,
    Posted,
    back,
    console_state,
    field_value,
    form_key,
    need,
    now,
    page,
    partial,
    router,
    run,
    say,
    staff,
)

# -- dashboard ------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, me: Me) -> Response:
    if not staff(me.principal):
        return back(CUSTOMER_HOME)
    state = app_state(request)
    data = await store_call(
        state, lambda: read.dashboard(state.store, state.settings, actor=me.principal, now=now())
    )
    return page(request, me, "dashboard.html", data=data, now=now())


# -- restrictions ---------------------------------------------------------------------------


@router.get("/restrictions", response_class=HTMLResponse)
async def restrictions(request: Request, me: Me) -> HTMLResponse:
    need(me, Action.LIST_RESTRICTIONS)
    state = app_state(request)
    views = await store_call(state, lambda: list_restrictions(state.store, now=now()))
    return page(request, me, "restrictions.html", restrictions=views)


@router.get("/restrictions/{restriction_id}", response_class=HTMLResponse)
async def restriction(request: Request, restriction_id: str, me: Me) -> HTMLResponse:
    need(me, Action.LIST_RESTRICTIONS)
    state = app_state(request)
    data = await store_call(
        state,
        lambda: read.restriction_page(
            state.store,
            state.settings,
            restriction_id,
            world=state.keeper.current.snapshot.world,
            now=now(),
        ),
    )
    return page(
        request,
        me,
        "restriction.html",
        data=data,
        r=data.view.to_json(),
        can_approve=me.principal.may(Action.APPROVE_RESTRICTION),
        can_lift=me.principal.may(Action.LIFT_RESTRICTION),
    )


@router.post("/restrictions/{restriction_id}/approve")
async def restriction_approve(request: Request, restriction_id: str, form: Posted) -> Response:
    me, data = form
    need(me, Action.APPROVE_RESTRICTION)
    state = app_state(request)
    key = form_key(data)
    view = await run(
        request,
        lambda: approve_restriction(
            state.store, restriction_id, actor=me.principal, settings=state.settings, key=key
        ),
    )
    await say(
        request,
        me,
        "ok",
        "Guard approval recorded; a second approver must now approve."
        if view.guard_approval
        else f"Approved: {restriction_id} is now {view.status.value}.",
    )
    return back(f"{PREFIX}/restrictions/{restriction_id}")


@router.post("/restrictions/{restriction_id}/reject")
async def restriction_reject(request: Request, restriction_id: str, form: Posted) -> Response:
    me, data = form
    need(me, Action.REJECT_RESTRICTION)
    state = app_state(request)
    why, key = field_value(data, "why"), form_key(data)
    await run(
        request,
        lambda: reject_restriction(
            state.store, restriction_id, actor=me.principal, why=why, key=key
        ),
    )
    await say(request, me, "ok", f"Rejected {restriction_id}.")
    return back(f"{PREFIX}/restrictions/{restriction_id}")


@router.post("/restrictions/{restriction_id}/lift")
async def restriction_lift(request: Request, restriction_id: str, form: Posted) -> Response:
    me, data = form
    need(me, Action.LIFT_RESTRICTION)
    state = app_state(request)
    why, key = field_value(data, "why"), form_key(data)
    await run(
        request,
        lambda: lift_restriction(state.store, restriction_id, actor=me.principal, why=why, key=key),
    )
    await say(
        request, me, "ok", f"Lifting {restriction_id} proposed; it needs another person's approval."
    )
    return back(f"{PREFIX}/restrictions/{restriction_id}")


# -- the customer tree ----------------------------------------------------------------------


@router.get("/tree", response_class=HTMLResponse)
async def tree(request: Request, me: Me, q: str = "") -> HTMLResponse:
    need(me, Action.READ_DIRECTORY)
    state = app_state(request)
    world = state.keeper.current.snapshot.world
    nodes = await run_in_threadpool(lambda: read.search_nodes(world, q[:200]))
    template = "_nodes.html" if partial(request) else "tree.html"
    return page(request, me, template, nodes=nodes, q=q)


@router.get("/tree/{node_id}", response_class=HTMLResponse)
async def node(request: Request, node_id: str, me: Me) -> HTMLResponse:
    need(me, Action.READ_DIRECTORY)
    snapshot = app_state(request).keeper.current.snapshot
    data = read.node_page(snapshot, node_id, now=now())
    return page(request, me, "node.html", data=data, verdict=None, asked={})


@router.get("/tree/{node_id}/test", response_class=HTMLResponse)
async def node_test(
    request: Request,
    node_id: str,
    me: Me,
    service: str = "",
    operation: str = "",
    region: str = "",
) -> HTMLResponse:
    """Would this call be allowed now? Decided by the snapshot in force, explained."""
    need(me, Action.REQUEST_DECISION)
    snapshot = app_state(request).keeper.current.snapshot
    asked = {"service": service, "operation": operation, "region": region}
    status = 200
    try:
        verdict: Any = read.test_call(
            snapshot, node=node_id, service=service, operation=operation, region=region, at=now()
        )
    except BrightlineError as exc:
        verdict = read.Verdict("error", str(exc), (), (), snapshot.version)
        status = 422
    if partial(request):
        return page(request, me, "_verdict.html", verdict=verdict, status=status)
    data = read.node_page(snapshot, node_id, now=now())
    return page(request, me, "node.html", data=data, verdict=verdict, asked=asked, status=status)


# -- the ledger -----------------------------------------------------------------------------


@router.get("/ledger", response_class=HTMLResponse)
async def ledger(request: Request, me: Me, index: str = "") -> HTMLResponse:
    need(me, Action.VIEW_LEDGER)
    state = app_state(request)
    current = await store_call(state, ledger_status, state.store)
    entry, checks, problem = None, None, None
    if index.strip():
        try:
            number = int(index)
            entry = await store_call(state, read.public_entry, state.store, number)
            p = entry.proof
            checks = verify_inclusion(p.leaf_hash, p.index, p.size, list(p.proof), p.root)
        except ValueError:
            problem = f"{index!r} is not an entry number"
        except NotFoundError as exc:
            problem = str(exc)
    return page(
        request,
        me,
        "ledger.html",
        status=422 if problem else 200,
        ledger=current,
        root_b64=base64.b64encode(current.root).decode(),
        entry=entry,
        checks=checks,
        problem=problem,
        index=index,
    )


@router.get("/ledger/tiles.tar.gz")
async def ledger_tiles(request: Request, me: Me) -> Response:
    """The log as C2SP tiles with its checkpoint and public key, for offline verification."""
    need(me, Action.VIEW_LEDGER)
    state, console = app_state(request), console_state(request)

    def build() -> bytes:
        # Built once per checkpoint: a download costs a full export of the log.
        checkpoint = ledger_status(state.store).checkpoint
        note = checkpoint.note if checkpoint else ""
        if console.tiles is not None and console.tiles[0] == note:
            return console.tiles[1]
        keys = LedgerKeys.of(state.settings)
        with tempfile.TemporaryDirectory() as tmp:
            export_tiles_dir(state.store, Path(tmp) / "tiles", keys.verifier())
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                tar.add(Path(tmp) / "tiles", arcname="tiles")
                if keys.public.is_file():
                    tar.add(keys.public, arcname="log.pub")
        console.tiles = (note, buffer.getvalue())
        return console.tiles[1]

    body = await store_call(state, build)
    return Response(
        body,
        media_type="application/gzip",
        headers={"content-disposition": 'attachment; filename="brightline-tiles.tar.gz"'},
    )
