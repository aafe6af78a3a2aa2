"""A customer's own view over HTTP, on SQLite and PostgreSQL: its restrictions in force
and scheduled, nothing of its sibling's (by id, by listing, by node), nothing internal,
and an appeal that lands on the case."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from access_setup import ROOT, principal_of
from api.conftest import Live, _serve
from brightline.access import Role
from brightline.cases import CaseStatus
from brightline.service.case_export import show_case
from brightline.service.intake import grant_role
from brightline.service.notify import add_notification_contact, enqueue_notifications
from customer_scenario import (
    CUSTOMER_NODE,
    IN_FORCE,
    INTERNAL,
    SCHEDULED,
    SIBLING,
    SIBLING_NODE,
    Restricted,
    restricted_customer,
)

ISSUER = "https://idp.example.test/"


@dataclass
class Scene:
    live: Live
    restricted: Restricted
    customer: httpx.Client
    sibling: httpx.Client


@pytest.fixture
def scene(live_on: Live) -> Iterator[Scene]:
    live = live_on
    p = lambda role: principal_of(live.store, live.settings, live.keys[role])  # noqa: E731
    restricted = restricted_customer(
        live.store,
        live.settings,
        investigator=p(Role.INVESTIGATOR.value),
        approver=p(Role.APPROVER.value),
    )
    sibling_key = live.key_for("sibling-co", Role.CUSTOMER.value, node=SIBLING_NODE)
    customer = live.client(Role.CUSTOMER.value)
    sibling = httpx.Client(
        base_url=live.url, headers={"authorization": f"Bearer {sibling_key}"}, timeout=30
    )
    with customer, sibling:
        yield Scene(live, restricted, customer, sibling)


def test_a_customer_sees_its_restrictions_in_force_and_scheduled(scene: Scene) -> None:
    answer = scene.customer.get("/v1/customer/restrictions")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["node"] == CUSTOMER_NODE
    shown = {r["id"]: r for r in body["restrictions"]}
    assert set(shown) == {IN_FORCE, SCHEDULED}
    now = shown[IN_FORCE]
    assert now["status"] == "in-force"
    assert now["scope"] == CUSTOMER_NODE
    assert now["inherited"] is False
    assert now["services"] == ["ai.speech:*"]
    assert now["regions"] == ["westeurope"]
    assert now["exempt"] == ["sub-9900-rescue"]
    assert now["policy"] == "Mass surveillance" or now["policy"].lower().startswith("mass")
    assert now["appealable"] is True
    later = shown[SCHEDULED]
    assert later["status"] == "approved"
    assert later["window"]["not_before"] is not None
    assert body["phases"] == [
        {"starts": None, "restrictions": [IN_FORCE]},
        {"starts": later["window"]["not_before"], "restrictions": [SCHEDULED]},
    ]
    one = scene.customer.get(f"/v1/customer/restrictions/{IN_FORCE}")
    assert one.status_code == 200
    assert one.json()["id"] == IN_FORCE
    # Below its node: a node of its own subtree narrows the list.
    below = scene.customer.get("/v1/customer/restrictions", params={"node": "unit-9900-analysis"})
    assert {r["id"] for r in below.json()["restrictions"]} == {IN_FORCE, SCHEDULED}
    rescue = scene.customer.get("/v1/customer/restrictions", params={"node": "sub-9900-rescue"})
    assert rescue.json()["restrictions"] == []  # exempt from the one, outside the other


def test_nothing_internal_reaches_the_customer(scene: Scene) -> None:
    text = scene.customer.get("/v1/customer/restrictions").text
    for word in (*INTERNAL, scene.restricted.case, "investigator-user", "approver-user"):
        assert word not in text


def test_a_sibling_customer_sees_nothing_of_it(scene: Scene) -> None:
    listing = scene.sibling.get("/v1/customer/restrictions").json()
    assert [r["id"] for r in listing["restrictions"]] == [SIBLING]
    mine = scene.customer.get("/v1/customer/restrictions").json()
    assert SIBLING not in {r["id"] for r in mine["restrictions"]}
    # By id and by node: the very answer of an id or a node that does not exist.
    for path, unknown in (
        (f"/v1/customer/restrictions/{IN_FORCE}", "/v1/customer/restrictions/r-nowhere"),
        (f"/v1/customer/restrictions/{IN_FORCE}/appeals", None),
    ):
        if unknown is None:
            refused = scene.sibling.post(path, json={"grounds": "not ours"})
            assert refused.status_code == 404
            continue
        refused, missing = scene.sibling.get(path), scene.sibling.get(unknown)
        assert refused.status_code == missing.status_code == 404
        assert refused.json()["message"].replace(IN_FORCE, "X") == missing.json()[
            "message"
        ].replace("r-nowhere", "X")
    other = scene.sibling.get("/v1/customer/restrictions", params={"node": CUSTOMER_NODE})
    nowhere = scene.sibling.get("/v1/customer/restrictions", params={"node": "no-such-node"})
    assert other.status_code == nowhere.status_code == 404
    assert other.json()["message"].replace(CUSTOMER_NODE, "X") == nowhere.json()["message"].replace(
        "no-such-node", "X"
    )


def test_an_appeal_lands_on_the_case(scene: Scene) -> None:
    filed = scene.customer.post(
        f"/v1/customer/restrictions/{IN_FORCE}/appeals", json={"grounds": "we repurposed the unit"}
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["appeal"] == 1
    root = principal_of(scene.live.store, scene.live.settings, scene.live.keys[ROOT])
    case = show_case(scene.live.store, scene.restricted.case, actor=root).state
    assert case.status is CaseStatus.APPEALED
    (appeal,) = case.appeals
    assert appeal.grounds == "we repurposed the unit"
    assert appeal.by == "customer-user"
    shown = scene.customer.get(f"/v1/customer/restrictions/{IN_FORCE}").json()
    assert shown["appeals"] == [
        {
            "number": 1,
            "at": shown["appeals"][0]["at"],
            "grounds": "we repurposed the unit",
            "outcome": None,
        }
    ]
    assert shown["appealable"] is False
    again = scene.customer.post(
        f"/v1/customer/restrictions/{IN_FORCE}/appeals", json={"grounds": "again"}
    )
    assert again.status_code == 409
    # A restriction decided on no case here is appealed through the contact.
    no_case = scene.sibling.post(
        f"/v1/customer/restrictions/{SIBLING}/appeals", json={"grounds": "why"}
    )
    assert no_case.status_code == 409
    assert "contact" in no_case.json()["message"]


def test_the_principal_list_shows_each_customer_bound_node(scene: Scene) -> None:
    with scene.live.client(Role.ADMIN.value) as admin:
        listed = {p["principal"]: p for p in admin.get("/v1/principals").json()}
    assert listed["sibling-co"] == {
        "principal": "sibling-co",
        "roles": ["customer"],
        "node": SIBLING_NODE,
    }
    staff = [p for p in listed.values() if "customer" not in p["roles"]]
    assert staff
    assert all(p["node"] is None for p in staff)


def test_staff_roles_cannot_use_the_customer_view(scene: Scene) -> None:
    with scene.live.client(Role.CASE_ADMIN.value) as staff:
        assert staff.get("/v1/customer/restrictions").status_code == 403
    assert scene.customer.get("/v1/restrictions").status_code == 403
    assert scene.customer.get(f"/v1/cases/{scene.restricted.case}").status_code == 403


def test_a_customer_sees_the_notices_sent_to_its_own_contacts(scene: Scene) -> None:
    live = scene.live
    case_admin = principal_of(live.store, live.settings, live.keys[Role.CASE_ADMIN.value])
    for name, node, target in (
        ("Unit ops", CUSTOMER_NODE, "ops@unit.example"),
        ("Medical ops", SIBLING_NODE, "ops@medical.example"),
        ("Legal watchers", None, "legal@provider.example"),
    ):
        add_notification_contact(
            live.store, actor=case_admin, name=name, channel="smtp", target=target, node=node
        )
    assert enqueue_notifications(live.store) > 0
    shown = scene.customer.get(f"/v1/customer/restrictions/{IN_FORCE}").json()
    sent = shown["notices"]
    assert {n["contact"] for n in sent} == {"Unit ops"}
    assert {n["event"] for n in sent} >= {"approval", "in-force"}
    assert all(n["channel"] == "smtp" and n["delivered"] is False for n in sent)
    assert "ops@" not in str(shown)  # the contact's name, never its address
    sibling = scene.sibling.get(f"/v1/customer/restrictions/{SIBLING}").json()
    assert {n["contact"] for n in sibling["notices"]} == {"Medical ops"}


@pytest.fixture
def oidc_live(tmp_path: Path) -> Iterator[tuple[Live, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    for live in _serve(
        tmp_path,
        f"sqlite:///{tmp_path / 'oidc.db'}",
        oidc_issuer=ISSUER,
        oidc_audience="brightline",
        oidc_jwks=str(tmp_path / "jwks.json"),
        oidc_role_map={"customer-portal": "customer"},
    ):
        yield live, key


def test_an_oidc_customer_is_bound_by_its_grant_as_a_key_is(
    oidc_live: tuple[Live, Any],
) -> None:
    live, key = oidc_live
    p = lambda role: principal_of(live.store, live.settings, live.keys[role])  # noqa: E731
    restricted_customer(
        live.store,
        live.settings,
        investigator=p(Role.INVESTIGATOR.value),
        approver=p(Role.APPROVER.value),
    )
    claims = {"iss": ISSUER, "aud": "brightline", "exp": int(time.time()) + 300}
    token = jwt.encode(
        {**claims, "sub": "medic", "roles": ["customer-portal"]},
        key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    with httpx.Client(
        base_url=live.url, headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        assert http.get("/v1/customer/restrictions").status_code == 403  # no grant yet
        root = principal_of(live.store, live.settings, live.keys[ROOT])
        grant_role(live.store, "oidc:idp:medic", Role.CUSTOMER, actor=root, node=SIBLING_NODE)
        listing = http.get("/v1/customer/restrictions").json()
        assert listing["node"] == SIBLING_NODE
        assert [r["id"] for r in listing["restrictions"]] == [SIBLING]
        assert http.get(f"/v1/customer/restrictions/{IN_FORCE}").status_code == 404
