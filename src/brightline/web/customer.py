"""A customer's page: the restrictions in force and scheduled on its own subtree, the
notices it was sent, and a form to appeal each (:mod:`brightline.service.customer`).
A restriction outside the subtree is "not found", as an unknown one is."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from brightline.access import Action
from brightline.server.state import app_state, store_call
from brightline.service.customer import customer_restrictions, file_appeal, phases_of
from brightline.service.notices import notice_of
from brightline.web.common import (
    PREFIX,
    Me,
    Posted,
    back,
    field_value,
    need,
    page,
    router,
    run,
    say,
)


@router.get("/customer", response_class=HTMLResponse)
async def customer(request: Request, me: Me) -> HTMLResponse:
    need(me, Action.VIEW_OWN_RESTRICTIONS)
    state = app_state(request)
    notice = notice_of(state.settings)
    shown = await store_call(
        state, lambda: customer_restrictions(state.store, actor=me.principal, notice=notice)
    )
    return page(
        request,
        me,
        "customer.html",
        node=me.principal.node,
        restrictions=shown,
        phases=phases_of(shown),
        contact=notice.contact,
        can_appeal=me.principal.may(Action.FILE_APPEAL),
    )


@router.post("/customer/{restriction_id}/appeal")
async def customer_appeal(request: Request, restriction_id: str, form: Posted) -> Response:
    me, data = form
    need(me, Action.FILE_APPEAL)
    state = app_state(request)
    grounds = field_value(data, "grounds")
    notice = notice_of(state.settings)
    filed = await run(
        request,
        lambda: file_appeal(
            state.store, restriction_id, actor=me.principal, grounds=grounds, notice=notice
        ),
    )
    await say(
        request,
        me,
        "ok",
        f"Appeal {filed.number} against {restriction_id} filed: it is re-reviewed by people "
        "other than those who decided.",
    )
    return back(f"{PREFIX}/customer#restriction-{restriction_id}")
