"""What a seal changes beyond the log, on SQLite and PostgreSQL: the key that signs policy
bundles (the ledger's key signs them too), the public form of the entry that starts the
new log (the deployment's privacy model holds for it as for any entry), and what a seal
refuses because reports could not follow it (a privacy budget spent in the sealed log)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from brightline.bundle import Bundle, open_bundle
from brightline.config import Settings
from brightline.enforcement import Client, NoBundleError
from brightline.errors import ConflictError, LedgerIntegrityError
from brightline.generalization import TimeGranularity
from brightline.ledger import CONTINUED
from brightline.policy import Request
from brightline.service import approve_restriction, propose_restrictions
from brightline.service.bundles import BundleKeeper
from brightline.service.ledger import disclose, keygen, ledger_status, sync
from brightline.service.ledger_keys import LedgerKeys
from brightline.service.ledger_seal import seal_and_restart
from brightline.service.transparency import (
    verify_transparency_report,
    write_transparency_report,
)
from brightline.store import Store, append_outbox
from cases.case_scenarios import at
from principals import NO_TELEMETRY
from service.store_scenarios import ALICE, BOB, restriction_yaml
from service.test_ledger_chain import ADMIN, ORIGIN, seal
from transparency.scenario import NOW, PERIOD, seed, settings_for

T = datetime(2025, 10, 1, tzinfo=UTC)
ARCHIVE = Request("sub-9900-archive", "storage.blob", "write", "westeurope", T)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    made = Settings(data_dir=tmp_path / "data")
    keygen(made)
    return made


def _serving(bundles: list[Bundle]) -> httpx.MockTransport:
    """A server that answers every bundle request with the latest of ``bundles``."""
    return httpx.MockTransport(lambda _: httpx.Response(200, json=bundles[-1].document()))


def _point(verifier: str, cache: Path, bundles: list[Bundle]) -> Client:
    return Client(
        "http://brightline.test",
        api_key="an enforcement point's key",
        verifier=verifier,
        cache_dir=cache,
        transport=_serving(bundles),
    )


def test_after_a_seal_bundles_are_signed_with_the_new_log_s_key(
    world_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The ledger key signs bundles too: a server started after the seal signs them with
    the new log's key; an enforcement point still holding the old ``log.pub`` refuses them
    and keeps deciding from the bundle it holds, until it is given the new one."""
    keys = LedgerKeys.of(settings)
    old = keys.public.read_text(encoding="utf-8")
    signer = keys.signer()
    assert signer is not None
    bundles = [BundleKeeper(world_store, signer).current]
    cache = tmp_path / "enforcement-point"
    with _point(old, cache, bundles) as point:
        assert point.refresh()
        assert not point.decide(ARCHIVE).denied

        sync(settings, world_store)
        seal(settings, world_store, 1)
        # A restriction approved after the seal; the server, restarted, reads the new key.
        propose_restrictions(world_store, restriction_yaml("r-after"), name="r", actor=ALICE)
        approve_restriction(world_store, "r-after", actor=BOB, settings=settings)
        signer = keys.signer()
        assert signer is not None
        assert signer.name == f"{ORIGIN}/2"
        bundles.append(BundleKeeper(world_store, signer).current)
        with pytest.raises(LedgerIntegrityError):
            open_bundle(bundles[-1].document(), keys.sealed(settings, 1).verifier())
        assert open_bundle(bundles[-1].document(), keys.verifier()).version == bundles[-1].version

        with pytest.raises(LedgerIntegrityError):
            point.refresh()  # the old key: refused
        assert point.version == bundles[0].version
        assert not point.decide(ARCHIVE).denied  # still the bundle it holds

    new = keys.public.read_text(encoding="utf-8")
    assert new != old
    # Restarted with the new key while the server is away, it cannot trust the bundle it
    # cached under the old one: it has none, and fails closed.
    down = httpx.MockTransport(lambda _: httpx.Response(503))
    with Client(
        "http://brightline.test", api_key="k", verifier=new, cache_dir=cache, transport=down
    ) as point:
        assert not point.refresh()
        with pytest.raises(NoBundleError):
            point.decide(ARCHIVE)
    # With the server up, it takes the new bundle.
    with _point(new, cache, bundles) as point:
        assert point.refresh()
        assert point.version == bundles[-1].version
        assert point.decide(ARCHIVE).denied  # r-after denies it


def test_the_continued_entry_is_public_at_the_deployment_s_granularity(
    world_store: Store, tmp_path: Path
) -> None:
    """Its time is rounded like every entry's (here to the ISO week); its public form is
    what the sealed log's final checkpoint says and nothing of who sealed it."""
    settings = Settings(data_dir=tmp_path / "data", ledger_time_granularity=TimeGranularity.WEEK)
    keygen(settings)
    at = datetime(2025, 10, 2, 17, 42, 7, 1234, tzinfo=UTC)  # a Thursday
    result = seal_and_restart(settings, world_store, actor=ADMIN, expected=1, now=at)
    disclosed = disclose(world_store, 0, log=result.log.number)
    assert disclosed.event_type == CONTINUED
    assert disclosed.public["time"] == "2025-09-29T00:00:00Z"  # its Monday
    assert set(disclosed.public["public"]) == {"origin", "size", "root", "checkpoint_sha256"}
    assert disclosed.record["at"] == "2025-10-02T17:42:07.001234Z"  # exact, in private
    assert disclosed.record["actor"] == ADMIN.name
    assert ADMIN.name not in json.dumps(disclosed.public)


@pytest.mark.parametrize("logged", [True, False])
def test_a_store_that_released_figures_with_differential_privacy_is_not_sealed(
    world_store: Store, settings: Settings, logged: bool
) -> None:
    """A later report could not account for a release in the sealed log (its budget is
    checked against its own log's releases): refused before any key is made, whether the
    release is logged yet or still pending."""
    with world_store.write() as session:
        append_outbox(session, "transparency.released", {"release_epsilon": 1.0}, at=T)
    if logged:
        sync(settings, world_store)
    with pytest.raises(ConflictError, match="released figures with differential privacy"):
        seal(settings, world_store, 1)
    assert ledger_status(world_store).logs == 1
    assert not LedgerKeys.staged(settings).private.parent.exists()


def test_a_report_after_a_seal_counts_the_new_log_and_verifies(
    store: Store, tmp_path: Path
) -> None:
    """The documented path: seal before the first report of the release, then report.
    The report counts the new log only (restrictions approved in the sealed log are in the
    reports published before the seal), and verifies from the new log's tiles."""
    settings = settings_for(tmp_path)
    seed(store, settings)  # 1–3 October: r-9900 and r-hq in force, in log 1
    sync(settings, store)
    seal_and_restart(settings, store, actor=ADMIN, expected=1, now=at(24 * 10))
    propose_restrictions(
        store,
        "id: r-new\nscope: mod-hq\nactions: ['ai.vision:*']\n",
        name="n",
        actor=ALICE,
        now=at(24 * 11),
    )
    approve_restriction(store, "r-new", actor=BOB, now=at(24 * 11), settings=NO_TELEMETRY)
    out = tmp_path / "site"
    summary = write_transparency_report(
        store,
        settings=settings,
        period_from=PERIOD[0],
        period_to=PERIOD[1],
        out_dir=out,
        tiles_dir=out / "tiles",
        now=NOW,
    )
    assert summary.checkpoint.origin == "brightline.test/log/2"
    result = verify_transparency_report(
        out, out / "tiles", verifier=LedgerKeys.of(settings).verifier()
    )
    assert result.ok, result.problems
    assert result.in_force == 1  # r-new only
