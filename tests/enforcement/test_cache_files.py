"""The enforcement client's files (the cached bundle, the decision log) on a disk that
fills or turns read-only, after a crash, or damaged: the client keeps deciding, says what
it could not write, leaves the last good file, and writes it once it can."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from brightline.bundle import CURRENT_HEADER, Bundle, encode_header, sign_current
from brightline.enforcement import HIGH_WATER_FILE, Client, DecisionLogBuffer, read_high_water
from brightline.errors import StorageError
from brightline.ledger import NoteSigner
from brightline.policy import Request
from enforcement.conftest import NOW
from tmpfs import Tmpfs

ARCHIVE = Request("sub-9900-archive", "storage.blob", "write", "westeurope", NOW)
NO_SPACE = "No space left on device"
READ_ONLY = "Read-only file system"


def server(bundle: Bundle, signer: NoteSigner) -> httpx.MockTransport:
    """A bundle server that answers 304 to a client holding its bundle, confirming it
    current with each answer (the bundle comes without a ledger proof: these tests are
    about files, the client is told to accept it)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/decision-logs":
            return httpx.Response(200, json={})
        current = {CURRENT_HEADER: encode_header(sign_current(bundle, at=NOW, signer=signer))}
        if request.headers.get("if-none-match") == f'"{bundle.version}"':
            return httpx.Response(304, headers=current)
        return httpx.Response(200, json=bundle.document(), headers=current)

    return httpx.MockTransport(answer)


@pytest.fixture
def client_at(
    signed: tuple[Bundle, NoteSigner],
) -> Iterator[Callable[[Path], Client]]:
    made: list[Client] = []

    def make(cache_dir: Path) -> Client:
        bundle, signer = signed
        client = Client(
            "http://brightline.test",
            api_key="bl_test",
            verifier=signer.verifier(),
            cache_dir=cache_dir,
            transport=server(bundle, signer),
            accept_unlogged_bundles_unsafe=True,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client._http.close()


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_bundle_that_cannot_be_cached_is_in_force_and_cached_once_it_can_be(
    tmpfs: Tmpfs, client_at: Callable[[Path], Client], fault: str
) -> None:
    cache = tmpfs.path / "ep"
    client = client_at(cache)  # makes nothing on disk yet
    cache.mkdir()
    if fault == "full":
        tmpfs.fill()
    else:
        tmpfs.read_only()
    try:
        assert client.refresh()
    finally:
        tmpfs.read_write()
        tmpfs.unfill()
    assert client.decide(ARCHIVE).denied
    cause = NO_SPACE if fault == "full" else READ_ONLY
    assert client.last_error == f"cannot write {cache / 'bundle.json'}: {cause}"
    assert list(cache.iterdir()) == []  # nothing half-written

    assert not client.refresh()  # 304: the same bundle, now cached, and its mark
    assert client.last_error is None
    assert sorted(p.name for p in cache.iterdir()) == ["bundle.json", "high-water.json"]
    restarted = client_at(cache)
    assert restarted.version == client.version


def test_a_decision_log_that_cannot_be_persisted_keeps_the_last_one_written(
    tmpfs: Tmpfs, client_at: Callable[[Path], Client]
) -> None:
    cache = tmpfs.path / "ep"
    client = client_at(cache)
    client.refresh()
    client.decide(ARCHIVE)
    client.buffer.persist()
    saved = (cache / "decision-log.json").read_bytes()
    client.buffer.sample_every = 1
    for _ in range(200):  # samples: the file grows past a page
        client.decide(ARCHIVE)
    tmpfs.fill()
    with pytest.raises(StorageError) as raised:
        client.buffer.persist()
    assert str(raised.value) == f"cannot write {cache / 'decision-log.json'}: {NO_SPACE}"
    assert (cache / "decision-log.json").read_bytes() == saved
    assert DecisionLogBuffer(cache / "decision-log.json").pending_count() == 1
    with pytest.raises(StorageError):  # the background loop keeps it as last_error
        client.report()
    assert client.decide(ARCHIVE).denied
    tmpfs.unfill()
    assert client.report()
    assert client.buffer.pending_count() == 1  # the decision made while reports waited


def test_a_damaged_decision_log_is_set_aside_and_the_client_starts(
    tmp_path: Path, client_at: Callable[[Path], Client]
) -> None:
    cache = tmp_path / "ep"
    cache.mkdir()
    (cache / "decision-log.json").write_text('{"pending": {"report_id": "r1", "coun')
    client = client_at(cache)
    assert client.buffer.pending_count() == 0
    assert (cache / "decision-log.json.damaged").read_text().startswith('{"pending"')
    client.refresh()
    client.decide(ARCHIVE)
    client.buffer.persist()
    assert json.loads((cache / "decision-log.json").read_text())["pending"]["counts"]


def test_a_torn_cached_bundle_is_ignored_and_replaced(
    tmp_path: Path, client_at: Callable[[Path], Client]
) -> None:
    cache = tmp_path / "ep"
    first = client_at(cache)
    first.refresh()
    whole = (cache / "bundle.json").read_bytes()
    (cache / "bundle.json").write_bytes(whole[: len(whole) // 2])
    (cache / ".bundle.json.0123456789ab.partial").write_bytes(whole[:10])  # a killed write
    restarted = client_at(cache)
    assert restarted.version is None
    assert not (cache / ".bundle.json.0123456789ab.partial").exists()
    assert restarted.refresh()
    assert (cache / "bundle.json").read_bytes() == whole


def test_a_new_bundle_is_in_force_once_its_mark_is_on_disk_and_cached_after(
    tmp_path: Path, signed: tuple[Bundle, NoteSigner]
) -> None:
    """The high-water mark is written (and forced to disk) before the client decides with
    a new bundle; the bundle's cache file only after: a crash in between leaves a cached
    bundle older than the mark, which the next start refuses, never a rollback."""
    bundle, signer = signed
    cache = tmp_path / "ep"
    seen: list[tuple[int | None, bool, bool]] = []

    def heard(new: Bundle) -> None:
        mark = read_high_water(cache / HIGH_WATER_FILE)
        seen.append(
            (mark and mark.serial, (cache / "bundle.json").exists(), client.decide(ARCHIVE).denied)
        )
        assert new.version == bundle.version

    client = Client(
        "http://brightline.test",
        api_key="bl_test",
        verifier=signer.verifier(),
        cache_dir=cache,
        transport=server(bundle, signer),
        accept_unlogged_bundles_unsafe=True,
        on_bundle=heard,
    )
    with client:
        assert client.refresh()
        # In force when heard: the mark on disk names it, its cache file is not written yet.
        assert seen == [(bundle.serial, False, True)]
        assert json.loads((cache / "bundle.json").read_bytes()) == bundle.document()
        assert not client.refresh()  # the same bundle again: nothing new is heard
        assert len(seen) == 1
