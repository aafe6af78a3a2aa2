"""Findings of the hostile-insider review (issue 14), each tried through the API as the
insider would, on SQLite and PostgreSQL: the guard on every approval path, idempotency
keys that belong to their sender, and links to cases that exist."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, start_server
from brightline.config import Settings
from brightline.service.ledger import ensure_key
from brightline.service.worlds import import_world
from brightline.store import Store

PEOPLE = {
    "ivan": ["investigator"],
    "amal": ["approver"],
    "bo": ["approver"],
    "cara": ["case-admin"],
}


@dataclass
class Guarded:
    url: str
    store: Store
    keys: dict[str, str]

    def http(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {self.keys[who]}"}, timeout=30
        )


@pytest.fixture
def guarded(store: Store, tmp_path: Path) -> Iterator[Guarded]:
    """A server whose blast-radius limit is one subscription: every proposal over the
    example's ministry unit exceeds it."""
    settings = Settings(
        data_dir=tmp_path / "data", admin_rate_per_minute=100_000, plan_max_subscriptions=1
    )
    ensure_key(settings)
    keys = provision(store, settings, PEOPLE)
    import_world(store, EXAMPLE, actor=principal_of(store, settings, keys[ROOT]))
    server, thread, url = start_server(settings, store)
    try:
        yield Guarded(url, store, keys)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _proposal(rid: str, mode: str = "enforce") -> dict[str, str]:
    return {"restrictions": f"id: {rid}\nscope: unit-9900\nactions: ['ai.*:*']\nmode: {mode}\n"}


def test_a_proposal_made_through_the_api_is_guarded(guarded: Guarded) -> None:
    with guarded.http("ivan") as ivan, guarded.http("amal") as amal, guarded.http("bo") as bo:
        assert ivan.post("/v1/restrictions", json=_proposal("r-g")).status_code == 200
        first = amal.post("/v1/restrictions/r-g/approve")
        assert first.status_code == 200, first.text
        assert first.json()["guard_approval"] is True
        assert first.json()["status"] == "proposed"
        again = amal.post("/v1/restrictions/r-g/approve")
        assert again.status_code == 409  # the guard's approver cannot also approve
        second = bo.post("/v1/restrictions/r-g/approve")
        assert second.status_code == 200, second.text
        assert second.json()["guard_approval"] is False
        assert second.json()["status"] == "in-force"


def test_a_dry_run_and_its_promotion_are_guarded_on_the_enforce_effect(guarded: Guarded) -> None:
    with guarded.http("ivan") as ivan, guarded.http("amal") as amal, guarded.http("bo") as bo:
        assert ivan.post("/v1/restrictions", json=_proposal("r-d", "dry-run")).status_code == 200
        # A dry-run denies nothing, but enforcing it would: the guard applies.
        assert amal.post("/v1/restrictions/r-d/approve").json()["guard_approval"] is True
        assert bo.post("/v1/restrictions/r-d/approve").json()["status"] == "in-force"
        promote = ivan.post("/v1/restrictions", json=_proposal("r-d", "enforce"))
        assert promote.status_code == 200, promote.text
        # The promotion is guarded again, and amal already gave a guard approval for this
        # restriction: a different approver must give this one.
        assert amal.post("/v1/restrictions/r-d/approve").status_code == 409
        assert bo.post("/v1/restrictions/r-d/approve").json()["guard_approval"] is True
        done = amal.post("/v1/restrictions/r-d/approve")
        assert done.status_code == 200, done.text
        assert done.json()["mode"] == "enforce"


def test_an_idempotency_key_belongs_to_its_sender(guarded: Guarded) -> None:
    key = {"idempotency-key": "C-1:decision:1"}
    with guarded.http("ivan") as ivan, guarded.http("cara") as cara:
        # cara (no investigator role) spends the key first: refused, and nothing is stored.
        assert cara.post("/v1/restrictions", json=_proposal("r-x"), headers=key).status_code == 403
        first = ivan.post("/v1/restrictions", json=_proposal("r-i"), headers=key)
        assert first.status_code == 200, first.text
        retry = ivan.post("/v1/restrictions", json=_proposal("r-i"), headers=key)
        assert retry.json()[0]["replayed"] is True
    extra = provision_more(guarded, "ivy", ["investigator"])
    with httpx.Client(base_url=guarded.url, headers={"authorization": f"Bearer {extra}"}) as ivy:
        # The same key sent by another investigator is another key: not a replay of ivan's,
        # not a conflict with it.
        mine = ivy.post("/v1/restrictions", json=_proposal("r-j"), headers=key)
        assert mine.status_code == 200, mine.text
        assert mine.json()[0]["replayed"] is False


def provision_more(guarded: Guarded, name: str, roles: list[str]) -> str:
    from brightline.access import Role
    from brightline.service.apikeys import create_key
    from brightline.service.intake import grant_role

    settings = Settings()
    root = principal_of(guarded.store, settings, guarded.keys[ROOT])
    _, key = create_key(guarded.store, principal=name, roles=roles, actor=root)
    for role in roles:
        grant_role(guarded.store, name, Role(role), actor=root)
    return key


def test_a_restriction_names_only_a_case_that_exists(guarded: Guarded) -> None:
    with guarded.http("ivan") as ivan:
        body = {"restrictions": _proposal("r-c")["restrictions"], "case": "C-404"}
        response = ivan.post("/v1/restrictions", json=body)
        assert response.status_code == 422
        assert "no case 'C-404'" in response.text
        inline = {
            "restrictions": "id: r-c\nscope: unit-9900\nactions: ['ai.*:*']\n"
            "reason: {case: C-405, policy: mass-surveillance}\n"
        }
        response = ivan.post("/v1/restrictions", json=inline)
        assert response.status_code == 422
        assert "reason.case" in response.text
        assert ivan.get("/v1/restrictions/r-c").status_code == 404
