"""The demo's live parts: the HTTP API on loopback (uvicorn in a thread, over the demo's
store) and the people of the story with their roles and API keys.

The people act as authenticated principals, as at every way in: the store's first
principal is bootstrapped (the case admin, also its admin), creates everyone else's key
and grants them the key's roles, and each step acts as the principal that the
Authenticator makes of a person's key (``Demo.principal``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import uvicorn

from brightline import files
from brightline.access import Principal, Role
from brightline.config import Settings
from brightline.errors import BrightlineError
from brightline.ledger import NoteSigner
from brightline.service.access import Authenticator, bootstrap
from brightline.service.apikeys import create_key
from brightline.service.intake import grant_role
from brightline.service.ledger import LedgerKeys
from brightline.store import Store, open_store
from brightline.synth.story import MINISTRY

HOST: Final = "127.0.0.1"
START_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class Person:
    """Someone in the story: a principal with roles (granted in the store) and an API key
    whose roles are the same (the key limits the credential, the grants the person)."""

    name: str
    what: str
    roles: tuple[str, ...]
    #: The node a customer's grant binds it to.
    node: str | None = None


#: The store's first principal: bootstrapping grants it exactly these two roles.
CASE_ADMIN: Final = Person(
    "casey.admin", "case admin (grants roles)", (Role.CASE_ADMIN.value, Role.ADMIN.value)
)
INVESTIGATOR: Final = Person(
    "ivan.investigator", "trust & safety investigator", (Role.INVESTIGATOR.value,)
)
REVIEWER: Final = Person(
    "rita.reviewer", "external reviewer (human-rights counsel)", (Role.EXTERNAL_REVIEWER.value,)
)
APPROVER: Final = Person("amal.approver", "approver (legal)", (Role.APPROVER.value,))
SECOND_APPROVER: Final = Person("bo.approver", "approver (executive)", (Role.APPROVER.value,))
AUDITOR: Final = Person("aude.auditor", "auditor", (Role.AUDITOR.value,))
GATEWAY: Final = Person(
    "gw-eu-1", "enforcement point (an API gateway)", (Role.ENFORCEMENT_POINT.value,)
)
CUSTOMER: Final = Person(
    "freedonia.cloud",
    "the ministry's cloud team (a customer, bound to the ministry)",
    (Role.CUSTOMER.value,),
    node=MINISTRY,
)
PEOPLE: Final = (
    CASE_ADMIN,
    INVESTIGATOR,
    REVIEWER,
    APPROVER,
    SECOND_APPROVER,
    AUDITOR,
    GATEWAY,
    CUSTOMER,
)


@dataclass(frozen=True, slots=True)
class Credential:
    person: Person
    key_id: str
    key: str


def bootstrap_admin(store: Store, authenticator: Authenticator) -> Credential:
    """Bootstrap the empty store's first principal, the case admin (``admin`` and
    ``case-admin``, in the ledger), and return its key."""
    key = bootstrap(store, principal=CASE_ADMIN.name)
    admin = authenticator.principal_for(key)
    return Credential(CASE_ADMIN, admin.credential.removeprefix("key:"), key)


def enrol(store: Store, admin: Principal) -> dict[str, Credential]:
    """As the bootstrapped ``admin``: grant everyone else their roles and create each an
    API key carrying the same roles, by name."""
    credentials = {}
    for person in PEOPLE:
        if person is CASE_ADMIN:
            continue
        for role in person.roles:
            node = person.node if role == Role.CUSTOMER else None
            grant_role(store, person.name, Role(role), actor=admin, node=node)
        info, key = create_key(store, principal=person.name, roles=person.roles, actor=admin)
        credentials[person.name] = Credential(person, info.id, key)
    return credentials


def save_keys(directory: Path, credentials: Mapping[str, Credential]) -> Path:
    """Keep each person's key in ``directory/keys/<name>.key`` (0600, in a 0700 folder), so
    that a finished demo can be served and signed in to again."""
    folder = directory / "keys"
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    for name, credential in credentials.items():
        path = folder / f"{name}.key"
        files.write_file(path, credential.key + "\n", mode=0o600)
    return folder


def saved_key(directory: Path, name: str) -> str:
    """A person's key kept by :func:`save_keys`."""
    path = directory / "keys" / f"{name}.key"
    if not path.is_file():
        raise DemoServerError(f"no key for {name} in {path.parent}: is this a demo directory?")
    return path.read_text(encoding="utf-8").strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class DemoServerError(BrightlineError):
    """The demo's server did not start."""


class LiveServer:
    """The real API (``create_app``) served by uvicorn from a background thread."""

    def __init__(self, settings: Settings, store: Store, signer: NoteSigner, *, port: int) -> None:
        from brightline.server import UVICORN_LOGS, create_app

        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        config = uvicorn.Config(
            create_app(settings, store, signer),
            host=HOST,
            port=self.port,
            **UVICORN_LOGS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="brightline-demo", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DemoServerError(f"the server did not start on {self.url}")
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, seconds: float) -> None:
        self._thread.join(timeout=seconds)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextmanager
def served(directory: Path) -> Iterator[tuple[LiveServer, Store]]:
    """A finished demo's store served again on loopback, by the real app (for the
    console's screenshots and page timings)."""
    from brightline.demo.state import demo_settings  # state imports this module

    settings = demo_settings(directory)
    signer = LedgerKeys.of(settings).signer()
    if signer is None:
        raise DemoServerError(f"no ledger key in {settings.data_dir}: is this a demo directory?")
    store = open_store(settings)
    server = LiveServer(settings, store, signer, port=0)
    try:
        server.start()
        yield server, store
    finally:
        server.stop()
        store.close()
