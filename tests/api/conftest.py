"""A real server on loopback (uvicorn in a thread) over a fresh store with the example
world, a ledger key and one API key per role."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from access_setup import CUSTOMER_NODE, ROOT, principal_of, provision
from brightline.access import Role
from brightline.config import Settings
from brightline.ledger import NoteVerifier
from brightline.server import UVICORN_LOGS, create_app
from brightline.service.apikeys import create_key
from brightline.service.intake import grant_role
from brightline.service.ledger import LedgerKeys, ensure_key
from brightline.store import Store, open_store

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
ROLE_NAMES = [r.value for r in Role]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    store: Store
    settings: Settings
    verifier: NoteVerifier
    keys: dict[str, str] = field(default_factory=dict)
    server: uvicorn.Server | None = None

    def client(self, role: str | None = None, **kwargs: object) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def key_for(
        self, principal: str, *roles: str, grant: bool = True, node: str = CUSTOMER_NODE
    ) -> str:
        """A new key for ``principal`` carrying ``roles``, which the store also grants
        unless ``grant`` is False (a customer grant bound to ``node``)."""
        root = principal_of(self.store, self.settings, self.keys[ROOT])
        _, key = create_key(self.store, principal=principal, roles=roles, actor=root)
        if grant:
            for role in roles:
                bound = node if role == Role.CUSTOMER else None
                grant_role(self.store, principal, Role(role), actor=root, node=bound)
        return key


def start_server(settings: Settings, store: Store) -> tuple[uvicorn.Server, threading.Thread, str]:
    signer = LedgerKeys.of(settings).signer()
    assert signer is not None
    app = create_app(settings, store, signer)
    port = free_port()
    # The logging `brightline serve` uses (no access log: it would hold client addresses).
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **UVICORN_LOGS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    yield from _serve(tmp_path, f"sqlite:///{tmp_path / 'api.db'}")


@pytest.fixture
def live_on(tmp_path: Path, store_url: str) -> Iterator[Live]:
    """``live`` on each backend: SQLite, then PostgreSQL."""
    yield from _serve(tmp_path, store_url)


def _serve(tmp_path: Path, url: str, **overrides: Any) -> Iterator[Live]:
    settings = Settings(
        database_url=SecretStr(url),
        data_dir=tmp_path / "data",
        admin_rate_per_minute=100_000,
        **overrides,
    )
    # Opened with its settings, as `brightline serve` opens it: with the data directory's
    # key for sealed values (reporters' contacts, public reports' documents).
    store = open_store(settings)
    verifier = ensure_key(settings)
    # One principal per role, its key carrying the role and the store granting it: the
    # key limits what the credential may do, the grants what the person may do.
    keys = provision(store, settings, {f"{r}-user": [r] for r in ROLE_NAMES}, world=EXAMPLE)
    server, thread, url = start_server(settings, store)
    live = Live(url, store, settings, verifier, server=server)
    live.keys.update({r: keys[f"{r}-user"] for r in ROLE_NAMES}, **{ROOT: keys[ROOT]})
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
