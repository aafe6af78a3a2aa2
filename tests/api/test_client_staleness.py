"""An enforcement point cannot be kept on an old policy without noticing: its bundle ages
from the server's last signed confirmation, and past ``max_staleness`` it says so
(property, metrics, callback) and applies its mode. Real server on loopback; the broken
server is ``api.proxy`` in front of it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from api.conftest import Live
from api.proxy import Canned, Proxy, proxy_to
from api.test_api_decisions import enforce_example
from brightline.enforcement import (
    Client,
    StaleMode,
    Staleness,
    StalenessChange,
    read_high_water,
)
from brightline.enforcement.highwater import HIGH_WATER_FILE
from brightline.errors import InvalidInputError
from brightline.policy import Effect, Request

NOW = datetime(2026, 6, 1, tzinfo=UTC)
#: Denied by r-api once enforce_example ran; allowed before.
ARCHIVE = Request("sub-9900-archive", "storage.blob", "write", "westeurope", NOW)
#: Never restricted: storage.blob and ai.translator for a node outside unit-9900.
MAIL_STORAGE = Request("sub-hq-mail", "storage.blob", "write", "westeurope", NOW)
MAIL_TRANSLATE = Request("sub-hq-mail", "ai.translator", "translate", "westeurope", NOW)
BUNDLES = "/v1/bundles/current"
MAX = timedelta(seconds=1)
DENY_STORAGE = Staleness(max_staleness=MAX, mode=StaleMode.DENY, deny_services=("storage.*",))
KEEP = Staleness(max_staleness=MAX, mode=StaleMode.KEEP)


def make_client(live: Live, cache: Path, url: str, **options: Any) -> Client:
    return Client(
        url,
        api_key=live.keys["enforcement-point"],
        verifier=live.verifier,
        cache_dir=cache,
        enforcement_point="enforcement-point-user",
        **options,
    )


def not_modified_forever(proxy: Proxy, *, header: str | None = None) -> None:
    """The server answers 304 to every bundle request, with ``header`` as its freshness
    note (a replayed one) or none at all."""
    headers = {} if header is None else {"x-brightline-current": header}

    def answer(path: str, _: dict[str, str]) -> Canned | None:
        return Canned(304, headers) if path.startswith(BUNDLES) else None

    proxy.answer = answer


def wait_until_stale(client: Client, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not client.refresh():
        if client.stale:
            return
        assert time.monotonic() < deadline, "the client never became stale"
        time.sleep(0.1)
    raise AssertionError("a new bundle arrived")


def test_a_live_server_keeps_the_client_fresh(live: Live, tmp_path: Path) -> None:
    changes: list[StalenessChange] = []
    with make_client(live, tmp_path / "ep", live.url, staleness=KEEP, on_stale=changes.append) as c:
        c.refresh()
        first = c.confirmed_at
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            c.refresh()
            assert not c.stale
            time.sleep(0.2)
        assert c.confirmed_at is not None
        assert first is not None
        assert c.confirmed_at > first
        assert (c.age or MAX) < MAX
    assert changes == []


def test_a_server_answering_not_modified_forever_leaves_the_client_stale_and_it_says_so(
    live: Live, tmp_path: Path
) -> None:
    enforce_example(live)
    changes: list[StalenessChange] = []
    registry = CollectorRegistry()
    with proxy_to(live.url) as server:
        client = make_client(
            live, tmp_path / "ep", server.url, staleness=DENY_STORAGE, on_stale=changes.append
        )
        client.register_metrics(registry)
        with client:
            assert client.refresh()
            assert not client.stale
            assert registry.get_sample_value("brightline_client_stale") == 0
            not_modified_forever(server)
            wait_until_stale(client)
            assert client.last_error == "the server did not confirm that the bundle is current"
            assert [c.stale for c in changes] == [True]
            assert changes[0].age >= MAX
            assert changes[0].version == client.version
            assert registry.get_sample_value("brightline_client_stale") == 1
            assert registry.get_sample_value("brightline_client_became_stale_total") == 1
            age = registry.get_sample_value("brightline_client_bundle_age_seconds")
            assert age is not None
            assert age >= 1

            # The deny mode: the services the configuration lists are denied, saying why;
            # the others are decided by the bundle as before.
            denied = client.decide(MAIL_STORAGE)
            assert denied.effect is Effect.DENY
            assert denied.matched == ()
            assert denied.reason is not None
            assert "stale bundle" in denied.reason
            assert "stale bundle" in denied.explain()
            assert client.decide(MAIL_TRANSLATE).effect is Effect.ALLOW
            restricted = client.decide(ARCHIVE)  # already denied by its restriction
            assert restricted.matched == ("r-api",)
            assert restricted.reason is None
            batch = client.decide_batch(
                {
                    "node": ["sub-hq-mail", "sub-hq-mail", "sub-9900-archive"],
                    "service": ["storage.blob", "ai.translator", "storage.blob"],
                    "operation": ["write", "translate", "write"],
                    "region": ["westeurope"] * 3,
                },
                at=NOW,
            )
            assert batch.effects() == ["deny", "allow", "deny"]
            assert batch.matched_ids(0) == ()
            assert batch.matched_ids(2) == ("r-api",)
            assert batch.reason is not None
            assert "stale bundle" in batch.reason
            assert client.metrics.stale_denials == 2
            assert registry.get_sample_value("brightline_client_stale_denials_total") == 2

            # The server confirms again: fresh, and the callback hears it.
            server.answer = lambda path, headers: None
            client.refresh()
            assert not client.stale
            assert [c.stale for c in changes] == [True, False]
            assert client.decide(MAIL_STORAGE).effect is Effect.ALLOW


def test_the_keep_mode_keeps_deciding_with_the_last_good_bundle(live: Live, tmp_path: Path) -> None:
    enforce_example(live)
    changes: list[StalenessChange] = []
    with proxy_to(live.url) as server:
        client = make_client(
            live, tmp_path / "ep", server.url, staleness=KEEP, on_stale=changes.append
        )
        with client:
            client.refresh()
            not_modified_forever(server)
            wait_until_stale(client)
            assert [c.stale for c in changes] == [True]
            assert client.decide(MAIL_STORAGE).effect is Effect.ALLOW
            assert client.decide(ARCHIVE).matched == ("r-api",)
            assert client.metrics.stale_denials == 0


def test_a_replayed_confirmation_does_not_make_the_bundle_younger(
    live: Live, tmp_path: Path
) -> None:
    with proxy_to(live.url) as server:
        client = make_client(live, tmp_path / "ep", server.url, staleness=DENY_STORAGE)
        with client, ServerHeaders(server) as seen:
            client.refresh()
            replayed = seen[-1]["x-brightline-current"]
            not_modified_forever(server, header=replayed)
            wait_until_stale(client)
            assert client.last_error is None  # a valid note, only an old one


class ServerHeaders:
    """Record the headers of the bundle answers the proxy forwards."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.seen: list[dict[str, str]] = []

    def __enter__(self) -> list[dict[str, str]]:
        def answer(path: str, headers: dict[str, str]) -> Canned | None:
            if not path.startswith(BUNDLES):
                return None
            real = self.proxy.forward("GET", path, headers, b"")
            self.seen.append(real.headers)
            return real

        self.proxy.answer = answer
        return self.seen

    def __exit__(self, *_: object) -> None:
        pass


def test_a_confirmation_signed_by_another_key_is_ignored(live: Live, tmp_path: Path) -> None:
    from brightline.bundle import encode_header, sign_current
    from brightline.ledger import generate_key

    impostor = generate_key("brightline.local/ledger")
    with proxy_to(live.url) as server:
        client = make_client(live, tmp_path / "ep", server.url, staleness=KEEP)
        with client:
            client.refresh()
            bundle = client._bundle
            assert bundle is not None
            forged = encode_header(sign_current(bundle, at=datetime.now(UTC), signer=impostor))
            not_modified_forever(server, header=forged)
            wait_until_stale(client)
            assert "does not check" in (client.last_error or "")


def test_the_confirmation_survives_a_restart(live: Live, tmp_path: Path) -> None:
    cache = tmp_path / "ep"
    with make_client(live, cache, live.url, staleness=KEEP) as client:
        client.refresh()
        confirmed = client.confirmed_at
    mark = read_high_water(cache / HIGH_WATER_FILE)
    assert mark is not None
    assert mark.confirmed_at == confirmed
    with make_client(live, cache, "http://127.0.0.1:9", staleness=KEEP) as offline:
        assert offline.confirmed_at == confirmed
        assert not offline.stale  # confirmed a moment ago, not when the bundle was issued
        time.sleep(MAX.total_seconds() + 0.1)
        assert offline.stale  # and it ages with the server away


def test_a_bundle_that_is_old_when_it_arrives_unconfirmed_is_stale_at_once(
    live: Live, tmp_path: Path
) -> None:
    """A server handing out a bundle without its signed confirmation (or a cached answer
    replayed much later): the bundle's own issue time is all the client has."""
    time.sleep(MAX.total_seconds() + 0.2)  # the bundle in force is older than that now
    with proxy_to(live.url) as server, ServerHeaders(server):
        strip = server.answer

        def answer(path: str, headers: dict[str, str]) -> Canned | None:
            real = strip(path, headers)
            if real is not None:
                real.headers.pop("x-brightline-current", None)
            return real

        server.answer = answer
        with make_client(live, tmp_path / "ep", server.url, staleness=DENY_STORAGE) as client:
            assert client.refresh()
            assert client.stale
            assert client.decide(MAIL_STORAGE).denied


def test_the_staleness_configuration_is_checked() -> None:
    parsed = Staleness.from_mapping(
        {"max_staleness": 900, "mode": "deny", "deny_services": ["storage.*", "ai.speech"]}
    )
    assert parsed.max_staleness == timedelta(minutes=15)
    assert parsed.denies("storage.blob")
    assert parsed.denies("ai.speech")
    assert not parsed.denies("ai.translator")
    assert not Staleness().denies("storage.blob")  # keep: an hour, nothing denied
    assert Staleness().max_staleness == timedelta(hours=1)
    for bad in (
        {"max_staleness": 0},
        {"max_staleness": "soon"},
        {"mode": "panic"},
        {"mode": "deny"},  # deny what?
        {"mode": "deny", "deny_services": ["storage:*"]},
        {"deny_services": "storage.*"},
        {"max_stale": 10},
    ):
        with pytest.raises(InvalidInputError):
            Staleness.from_mapping(bad)
