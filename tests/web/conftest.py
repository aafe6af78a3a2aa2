"""A live server (uvicorn on loopback) over the example world, with principals for every
review role, an alerts file, and helpers to sign in to the console."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, start_server
from brightline.access import Principal, Role
from brightline.config import Settings
from brightline.service.ledger import ensure_key
from brightline.store import Store, open_store

#: Principals of the console tests and the roles each holds (on the key and in the store).
PEOPLE: dict[str, tuple[str, ...]] = {
    "ines": (Role.INVESTIGATOR.value, Role.APPROVER.value),  # investigates and approves
    "ext": (Role.EXTERNAL_REVIEWER.value,),
    "ext2": (Role.EXTERNAL_REVIEWER.value,),
    "alba": (Role.APPROVER.value,),
    "aud": (Role.AUDITOR.value,),
    "cadmin": (Role.CASE_ADMIN.value,),
    "acme-ops": (Role.CUSTOMER.value,),  # bound to the intelligence unit
    "medic-ops": (Role.CUSTOMER.value,),  # bound to its sibling, the medical service
}
#: Where each customer of PEOPLE is bound.
CUSTOMERS: dict[str, str] = {"acme-ops": "unit-9900", "medic-ops": "mod-medical"}

ALERTS = [
    {
        "id": "A-ms-0001",
        "node": "unit-9900",
        "policy": "mass-surveillance",
        "pack": "mass-surveillance",
        "score": 9.4,
        "threshold": 5.0,
        "rules": ["ms-speech-spike", "ms-foreign-storage"],
        "window_start": "2025-08-01T00:00:00+00:00",
        "window_end": "2025-08-31T00:00:00+00:00",
    },
    {
        "id": "A-ms-0002",
        "node": "unit-9900",
        "policy": "mass-surveillance",
        "pack": "mass-surveillance",
        "score": 6.1,
        "threshold": 5.0,
        "rules": ["ms-translation-volume"],
        "window_start": "2025-08-01T00:00:00+00:00",
        "window_end": "2025-08-31T00:00:00+00:00",
    },
]


def login_token(html: str) -> str:
    """The sign-in form's token, from the page that shows the form."""
    found = re.search(r'name="login_token" value="([^"]+)"', html)
    assert found is not None, "no sign-in form on the page"
    return found.group(1)


@dataclass
class Console:
    url: str
    store: Store
    settings: Settings
    keys: dict[str, str] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    def root(self) -> Principal:
        """The bootstrap admin (admin and case admin), for changes made behind the scenes."""
        return principal_of(self.store, self.settings, self.keys[ROOT])

    def client(self) -> httpx.Client:
        """A client closed when the test ends."""
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        self.clients.append(client)
        return client

    def signed_in(self, who: str) -> tuple[httpx.Client, str]:
        """A client with a console session for ``who``, and the session's CSRF token."""
        client = self.client()
        form = client.get("/console/login")
        response = client.post(
            "/console/login",
            data={"login_token": login_token(form.text), "credential": self.keys[who], "next": ""},
        )
        assert response.status_code == 303, response.text
        page = client.get("/console/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        return client, csrf.group(1)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    settings = Settings(
        database_url=SecretStr(f"sqlite:///{tmp_path / 'console.db'}"),
        data_dir=tmp_path / "data",
        admin_rate_per_minute=100_000,
    )
    # With its settings, as `brightline serve` opens it (the key for sealed values).
    store = open_store(settings)
    ensure_key(settings)
    keys = provision(store, settings, PEOPLE, world=EXAMPLE, nodes=CUSTOMERS)
    (settings.data_dir / "alerts.jsonl").write_text(
        "".join(json.dumps(a) + "\n" for a in ALERTS), encoding="utf-8"
    )
    server, thread, url = start_server(settings, store)
    live = Console(url, store, settings, keys)
    try:
        yield live
    finally:
        for client in live.clients:
            client.close()
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
