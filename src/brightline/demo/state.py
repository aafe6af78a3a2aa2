"""The demo's state and options: where it keeps its files, the store, the live server,
the enforcement point, the people's credentials (and the principals the Authenticator
makes of them) and what each step found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import SecretStr

from brightline.access import Principal
from brightline.config import Settings
from brightline.demo.calls import Decided
from brightline.demo.live import (
    Credential,
    LiveServer,
    Person,
)
from brightline.enforcement import Client
from brightline.service.access import Authenticator
from brightline.store import Store, open_store
from brightline.synth.story import ABROAD, EXEMPT, UNIT
from brightline.world import World

DEFAULT_SCALE: Final = 3000
DAYS: Final = 30
POLICY: Final = "mass-surveillance"
RESTRICTION_ID: Final = "r-9900-1"
RESTRICTION: Final = f"""\
# Cloud storage and AI services denied to one intelligence unit, in the two regions
# where it keeps and processes what it collects; its rescue subscription is exempt.
id: {RESTRICTION_ID}
scope: {UNIT}
actions: ["storage.*:*", "ai.*:*"]
regions: [{", ".join(ABROAD)}]
exempt: [{EXEMPT}]
mode: enforce
reason: {{policy: {POLICY}}}
"""
#: How long to wait for the enforcement point to pick up a new bundle.
PICKUP_SECONDS: Final = 20.0

Progress = Callable[[str, float, float], None]


def demo_settings(directory: Path) -> Settings:
    """The settings of a demo kept in ``directory``: SQLite and local files inside it."""
    return Settings(
        database_url=SecretStr(f"sqlite:///{directory / 'brightline.db'}"),
        data_dir=directory / "data",
        admin_rate_per_minute=100_000,
    )


def no_progress(what: str, done: float, total: float) -> None:
    del what, done, total


@dataclass(frozen=True, slots=True)
class DemoOptions:
    directory: Path
    scale: int = DEFAULT_SCALE
    seed: int = 0
    port: int = 0


@dataclass(slots=True)
class Demo:
    """The story's state: its settings and store, the live server and enforcement point,
    the people's credentials and what each step found. Close it (or use ``with``)."""

    options: DemoOptions
    settings: Settings
    store: Store
    authenticator: Authenticator
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    world: World | None = None
    server: LiveServer | None = None
    client: Client | None = None
    credentials: dict[str, Credential] = field(default_factory=dict)
    verifier: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, str] = field(default_factory=dict)
    case_id: str = ""
    before: list[Decided] = field(default_factory=list)
    bundle_before: str = ""
    approved_at: float = 0.0
    _http: dict[str, httpx.Client] = field(default_factory=dict)

    @classmethod
    def create(cls, options: DemoOptions) -> Demo:
        directory = options.directory
        directory.mkdir(parents=True, exist_ok=True)
        settings = demo_settings(directory)
        store = open_store(settings)
        return cls(options, settings, store, Authenticator(store, settings))

    def principal(self, person: Person) -> Principal:
        """``person`` as every way in sees them: the principal the Authenticator makes of
        their API key, with the roles the key carries and the store grants now."""
        return self.authenticator.principal_for(self.credentials[person.name].key)

    def http(self, person: str) -> httpx.Client:
        """An HTTP client to the live server, signed in as ``person``."""
        if person not in self._http:
            assert self.server is not None, "the server starts in the people step"
            key = self.credentials[person].key
            self._http[person] = httpx.Client(
                base_url=self.server.url, headers={"authorization": f"Bearer {key}"}, timeout=30
            )
        return self._http[person]

    def close(self) -> None:
        for client in self._http.values():
            client.close()
        if self.client is not None:
            self.client.stop()
        if self.server is not None:
            self.server.stop()
        self.store.close()

    def __enter__(self) -> Demo:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
