"""The store audit: the ledger proves the store, and a tamper by someone with database
access is named — the first divergent event and its ledger index.

The history is the disclosure scenario (restriction lifecycles, cases with findings, a
decision and an appeal, signals from people and a detector, role grants, API keys created
and one revoked, two world imports, a transparency release), synced after every step as
the command line does. It is recorded once per backend and copied for each test; every
tamper is raw SQL, as an attacker holding the database would write it.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from brightline.access import Role
from brightline.config import Settings
from brightline.disclosure import Granularity
from brightline.errors import LedgerIntegrityError
from brightline.generalization import TimeGranularity
from brightline.ledger import LedgerEntry, NoteVerifier, generate_key
from brightline.service import approve_restriction, propose_restrictions
from brightline.service.intake import grant_role
from brightline.service.ledger import keygen, private_record, sync, sync_ledger
from brightline.service.ledger_keys import LedgerKeys
from brightline.service.ledger_seal import seal_and_restart
from brightline.service.ledger_verify import VerifyReport, verify_store
from brightline.service.records import restriction_record
from brightline.service.store_audit import StoreDivergenceError, audit_beside, audit_store
from brightline.service.store_audit_checks import Where, check_entry, compare
from brightline.store import Store, StoredEvent, append_outbox, open_store
from brightline.store.history import LoggedEntry, log_sizes, logged_entries
from brightline.store.ledger import ledger_size
from brightline.store.outbox import OutboxRecord
from disclosure_scenario import every_event
from principals import NO_TELEMETRY, principal
from service.store_scenarios import ALICE, BOB, at

BACKENDS = ["sqlite", "postgresql"]
ROOT = principal("root", Role.ADMIN)


@dataclass(frozen=True)
class Recorded:
    """A recorded history: a database to copy and the data directory beside it."""

    backend: str
    url: str
    data_dir: Path


def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(database_url=SecretStr(url), data_dir=data_dir)


@pytest.fixture(scope="module", params=BACKENDS)
def recorded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Recorded]:
    """The scenario recorded once per backend and module (it takes seconds)."""
    scratch = tmp_path_factory.mktemp("recorded")
    if request.param == "sqlite":
        path = scratch / "recorded.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        admin = None
    else:
        admin = request.getfixturevalue("postgres_url")
        template = request.getfixturevalue("postgres_template")
        name = f"recorded_{uuid.uuid4().hex[:8]}"
        _admin(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    config = _settings(url, scratch / "data")
    keygen(config)
    with open_store(config, migrate=False) as store:
        for _ in every_event(store, config, scratch):
            sync(config, store)
        sync(config, store)
    yield Recorded(request.param, url, config.data_dir)
    if admin is not None:
        _admin(admin, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture
def history(recorded: Recorded, tmp_path: Path) -> Iterator[Store]:
    """A copy of the recorded history, open (its data directory copied too)."""
    data_dir = tmp_path / "data"
    shutil.copytree(recorded.data_dir, data_dir)
    if recorded.backend == "sqlite":
        path = tmp_path / "copy.db"
        shutil.copyfile(make_url(recorded.url).database or "", path)
        url, drop = f"sqlite:///{path}", None
    else:
        name = f"t_{uuid.uuid4().hex[:12]}"
        source = make_url(recorded.url)
        admin = source.set(database="postgres").render_as_string(hide_password=False)
        _admin(admin, f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"')
        url, drop = source.set(database=name).render_as_string(hide_password=False), name
    try:
        with open_store(_settings(url, data_dir), migrate=False) as store:
            yield store
    finally:
        if drop is not None:
            _admin(admin, f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')


# -- an attacker's tools ------------------------------------------------------------------------


def _sql(store: Store, statement: str, **values: Any) -> list[Any]:
    with store.engine.begin() as connection:
        result = connection.execute(text(statement), values)
        return list(result) if result.returns_rows else []


def _outbox(store: Store, event_type: str, **fields: Any) -> list[tuple[int, dict[str, Any]]]:
    """Outbox events of ``event_type`` whose payload holds ``fields``, oldest first."""
    rows = _sql(
        store,
        "SELECT id, payload FROM outbox WHERE event_type = :t ORDER BY id",
        t=event_type,
    )
    found = []
    for outbox_id, payload in rows:
        data = json.loads(payload)
        if all(data.get(k) == v for k, v in fields.items()):
            found.append((outbox_id, data))
    return found


def _index_of(store: Store, outbox_id: int) -> int:
    with store.read() as session:
        for entry in logged_entries(session, sizes=log_sizes(session)):
            if entry.outbox_id == outbox_id:
                return entry.seq
    raise AssertionError(f"outbox event {outbox_id} is not logged")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rewrite(connection: Connection, outbox_id: int, payload: dict[str, Any]) -> None:
    connection.execute(
        text("UPDATE outbox SET payload = :p WHERE id = :i"),
        {"p": _canonical(payload), "i": outbox_id},
    )


def _diverges(store: Store) -> StoreDivergenceError:
    """The error the audit raises, the same whether it runs in one process or two."""
    with pytest.raises(StoreDivergenceError) as caught:
        audit_store(store, parallel=False)
    with pytest.raises(StoreDivergenceError) as in_two:
        audit_store(store, parallel=True)
    assert str(in_two.value) == str(caught.value)
    return caught.value


# -- the honest store ---------------------------------------------------------------------------


@pytest.mark.parametrize("parallel", [False, True], ids=["one-process", "two-processes"])
def test_an_honest_history_passes(history: Store, parallel: bool) -> None:
    report = audit_store(history, parallel=parallel)
    with history.read() as session:
        assert report.entries == ledger_size(session) > 60
    assert report.pending == 0
    assert report.rows["restriction_events"] > 20
    assert report.rows["case_events"] > 10
    assert report.rows["world_versions"] == 2
    assert report.rows["api_keys"] == 9
    assert report.rows["api_key_revocations"] == 1
    assert report.rows["signals"] == 4
    assert report.approved == 5  # r-9900, r-hq, r-dry, r-lifted, r-dry-kept
    assert any("agree" in note for note in report.notes())


def test_events_not_yet_logged_are_audited_against_their_rows(history: Store) -> None:
    admin = principal("admin", Role.ADMIN, Role.CASE_ADMIN)
    grant_role(history, "newcomer", Role.AUDITOR, actor=admin, now=at(100))
    report = audit_store(history)
    assert report.pending == 1
    _sql(history, "UPDATE role_grant_events SET principal = 'mallory' WHERE principal = 'newcomer'")
    error = _diverges(history)
    assert error.index is None
    assert "not yet logged" in str(error)
    assert "its row gives another payload: 'principal' differs" in str(error)
    assert "mallory" not in str(error)  # records are private: where, never what


def test_a_customer_binding_is_audited_with_its_grant(history: Store) -> None:
    admin = principal("admin", Role.ADMIN, Role.CASE_ADMIN)
    grant_role(history, "acme-ops", Role.CUSTOMER, actor=admin, node="acme-voice", now=at(100))
    assert audit_store(history).pending == 1
    _sql(history, "UPDATE role_grant_events SET node = 'northwind' WHERE node = 'acme-voice'")
    error = _diverges(history)
    assert "its row gives another payload: 'node' differs" in str(error)


# -- the tree check beside the audit (ledger verify) --------------------------------------------


def _tree(verifier: NoteVerifier) -> Callable[[Store], VerifyReport]:
    return lambda store: verify_store(store, verifier)


def test_the_tree_check_runs_beside_the_audit(history: Store) -> None:
    """``ledger verify``: the tree checked in another process while this one audits (a
    SQLite file, or PostgreSQL, can be opened by both); both reports come back."""
    assert history.settings is not None
    verifier = LedgerKeys.of(history.settings).verifier()
    report, audit = audit_beside(history, _tree(verifier))
    assert report.size == audit.entries > 60
    assert report.root
    assert audit.pending == 0


def test_a_tree_check_that_fails_beside_the_audit_comes_first(history: Store) -> None:
    """Its error is raised as if it had run first: whether the audit passes or not."""
    assert history.settings is not None
    verifier = LedgerKeys.of(history.settings).verifier()
    stranger = generate_key("stranger.example/ledger").verifier()
    with pytest.raises(LedgerIntegrityError) as alone:
        verify_store(history, stranger)
    with pytest.raises(LedgerIntegrityError) as beside:
        audit_beside(history, _tree(stranger))
    assert str(beside.value) == str(alone.value)
    assert not isinstance(beside.value, StoreDivergenceError)
    [(outbox_id, payload)] = _outbox(history, "case.appeal-decided")
    payload["data"]["outcome"] = "upheld"
    with history.engine.begin() as connection:  # now the audit fails too
        _rewrite(connection, outbox_id, payload)
    with pytest.raises(LedgerIntegrityError) as both:
        audit_beside(history, _tree(stranger))
    assert str(both.value) == str(alone.value)
    with pytest.raises(StoreDivergenceError, match=r"'data\.outcome' differs"):
        audit_beside(history, _tree(verifier))  # the tree holds: the audit's error


# -- tampers ------------------------------------------------------------------------------------


def test_an_approval_deleted_with_its_outbox_event_is_named(history: Store) -> None:
    """The finding: a restriction quietly undone by deleting its approval and the
    approval's outbox event passed ``ledger verify``."""
    [(outbox_id, payload)] = _outbox(history, "restriction.approved", restriction="r-hq")
    index = _index_of(history, outbox_id)
    _sql(history, "DELETE FROM restriction_events WHERE seq = :s", s=payload["event"])
    _sql(history, "DELETE FROM outbox WHERE id = :i", i=outbox_id)
    error = _diverges(history)
    assert (error.index, error.event) == (index, f"outbox event {outbox_id}")
    assert f"ledger entry {index} (restriction.approved of R-2) records outbox event " in str(error)
    assert "not in the outbox" in str(error)


def test_an_edited_outbox_payload_is_named(history: Store) -> None:
    """An appeal's outcome changed in the outbox (lift → upheld)."""
    [(outbox_id, payload)] = _outbox(history, "case.appeal-decided")
    index = _index_of(history, outbox_id)
    payload["data"]["outcome"] = "upheld"
    with history.engine.begin() as connection:
        _rewrite(connection, outbox_id, payload)
    error = _diverges(history)
    assert error.index == index
    assert error.event.startswith("case_events seq ")
    assert f"ledger entry {index}" in str(error)
    assert "'data.outcome' differs" in str(error)


def test_an_edited_history_row_is_named(history: Store) -> None:
    """A restriction's proposed scope changed in its row, not in the outbox."""
    [(outbox_id, payload)] = _outbox(history, "restriction.proposed", restriction="r-hq")
    index = _index_of(history, outbox_id)
    body = dict(payload["restriction_body"], scope="mod-medical")
    _sql(
        history,
        "UPDATE restriction_events SET body = :b WHERE seq = :s",
        b=_canonical(body),
        s=payload["event"],
    )
    error = _diverges(history)
    assert (error.index, error.event) == (
        index,
        f"restriction_events seq {payload['event']} (r-hq r1)",
    )
    assert "'restriction_body.scope' differs" in str(error)


def test_an_edited_key_row_is_named(history: Store) -> None:
    """A key's roles widened in its row: the key's creation entry names it."""
    [(outbox_id, payload)] = _outbox(history, "apikey.created", principal="auditor")
    index = _index_of(history, outbox_id)
    _sql(history, "UPDATE api_keys SET roles = '[\"admin\"]' WHERE id = :k", k=payload["key"])
    error = _diverges(history)
    assert (error.index, error.event) == (index, f"api_keys id {payload['key']}")
    assert "'roles' differs" in str(error)


def test_a_revocation_undone_is_named(history: Store) -> None:
    [(outbox_id, payload)] = _outbox(history, "apikey.revoked")
    index = _index_of(history, outbox_id)
    _sql(history, "DELETE FROM api_key_revocations WHERE key_id = :k", k=payload["key"])
    error = _diverges(history)
    assert (error.index, error.event) == (index, f"api_key_revocations key {payload['key']}")


def test_a_fake_event_inserted_with_its_outbox_row_after_the_sync_is_named(
    history: Store,
) -> None:
    """An approval of the rejected r-refused, forged in both tables with the payload the
    writer would have written: the history breaks the restriction's lifecycle."""
    [(_, proposal)] = _outbox(history, "restriction.proposed", restriction="r-refused")
    [(_, latest)] = _outbox(history, "world.imported", version=2)
    when = datetime(2025, 10, 9, tzinfo=UTC)
    (seq,) = _sql(history, "SELECT MAX(seq) + 1 FROM restriction_events")[0]
    fake = StoredEvent(
        seq, "r-refused", 3, "approved", "approver2", when, None, None, None, None, "0" * 64
    )
    record = restriction_record(fake, world_version=latest["version"])
    _sql(
        history,
        "INSERT INTO restriction_events (seq, restriction_id, revision, kind, actor, at, "
        "request_digest) VALUES (:s, 'r-refused', 3, 'approved', 'approver2', :at, :d)",
        s=seq,
        at=when if history.backend == "postgresql" else when.replace(tzinfo=None),
        d="0" * 64,
    )
    (outbox_id,) = _sql(history, "SELECT MAX(id) + 1 FROM outbox")[0]
    _sql(
        history,
        "INSERT INTO outbox (id, event_type, payload, created_at) VALUES (:i, :t, :p, :at)",
        i=outbox_id,
        t=record.event_type,
        p=_canonical(record.payload),
        at=when if history.backend == "postgresql" else when.replace(tzinfo=None),
    )
    assert proposal["restriction"] == "r-refused"
    error = _diverges(history)
    assert (error.index, error.event) == (None, f"restriction_events seq {seq} (r-refused r3)")
    assert "breaks its lifecycle" in str(error)
    assert f"outbox event {outbox_id} (restriction.approved, not yet logged)" in str(error)


def test_an_outbox_event_inserted_without_its_row_is_named(history: Store) -> None:
    (outbox_id,) = _sql(history, "SELECT MAX(id) + 1 FROM outbox")[0]
    now = datetime(2025, 10, 9, tzinfo=UTC)
    _sql(
        history,
        "INSERT INTO outbox (id, event_type, payload, created_at) VALUES (:i, :t, :p, :at)",
        i=outbox_id,
        t="principal.role-granted",
        p=_canonical({"principal": "mallory", "role": "admin", "actor": "admin", "at": "x"}),
        at=now if history.backend == "postgresql" else now.replace(tzinfo=None),
    )
    error = _diverges(history)
    assert (error.index, error.event) == (None, f"outbox event {outbox_id}")
    assert "role_grant_events holds no row for it" in str(error)


def test_two_outbox_payloads_swapped_are_named_at_the_first(history: Store) -> None:
    """The approvals of r-hq and r-dry swapped: the first of them is named."""
    [(first, one)] = _outbox(history, "restriction.approved", restriction="r-hq")
    [(second, other)] = _outbox(history, "restriction.approved", restriction="r-dry")
    assert first < second
    with history.engine.begin() as connection:
        _rewrite(connection, first, other)
        _rewrite(connection, second, one)
    error = _diverges(history)
    assert (error.index, error.event) == (
        _index_of(history, first),
        f"restriction_events seq {one['event']} (r-hq r2)",
    )


def test_a_case_event_deleted_with_its_outbox_event_is_named(history: Store) -> None:
    [(outbox_id, payload), _] = _outbox(history, "case.finding-recorded")
    index = _index_of(history, outbox_id)
    _sql(history, "DELETE FROM case_events WHERE outbox_id = :i", i=outbox_id)
    _sql(history, "DELETE FROM outbox WHERE id = :i", i=outbox_id)
    error = _diverges(history)
    assert (error.index, error.event) == (index, f"outbox event {outbox_id}")
    assert payload["case"] == "C-1"


def test_a_case_event_deleted_alone_is_named_at_its_outbox_event(history: Store) -> None:
    [(outbox_id, _), _] = _outbox(history, "case.finding-recorded")
    index = _index_of(history, outbox_id)
    _sql(history, "DELETE FROM case_events WHERE outbox_id = :i", i=outbox_id)
    error = _diverges(history)
    assert error.index == index
    assert error.event.startswith("case_events seq ")  # the next one, which does not match


def test_a_history_row_without_an_outbox_event_is_named(history: Store) -> None:
    """A grant inserted in the table alone (its outbox event never written)."""
    now = datetime(2025, 10, 9, tzinfo=UTC)
    _sql(
        history,
        "INSERT INTO role_grant_events (principal, role, kind, actor, at) "
        "VALUES ('mallory', 'admin', 'grant', 'admin', :at)",
        at=now if history.backend == "postgresql" else now.replace(tzinfo=None),
    )
    error = _diverges(history)
    assert error.index is None
    assert error.event.startswith("role_grant_events seq ")
    assert "has no outbox event" in str(error)


def test_an_outbox_event_past_the_cursor_without_its_entry_is_named(history: Store) -> None:
    """Entries removed from the end of the log (bundles rewritten): the ledger's cursor
    says the events were logged."""
    with history.read() as session:
        size = ledger_size(session)
    last = size - 1
    _sql(
        history,
        "UPDATE ledger_bundles SET width = width - 1 WHERE bundle = :b",
        b=last // 256,
    )
    error = _diverges(history)
    assert error.index is None
    assert "cursor" in str(error)


# -- sealed logs ----------------------------------------------------------------------------------


def _grant(store: Store, name: str, hours: float) -> int:
    """Grant ``name`` a role; the grant's outbox event."""
    grant_role(store, name, Role.AUDITOR, actor=ROOT, now=at(hours))
    [(outbox_id, _)] = _outbox(store, "principal.role-granted", principal=name)
    return outbox_id


@pytest.fixture
def sealed_twice(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """Three logs: log 1 logs p1's grant; log 2 its ``ledger.continued`` and p2's; log 3
    its ``ledger.continued`` and p3's."""
    config = _settings(store_url, tmp_path / "data")
    keygen(config)
    with open_store(config) as store:
        _grant(store, "p1", 1)
        sync(config, store)
        seal_and_restart(config, store, actor=ROOT, now=at(2))
        _grant(store, "p2", 3)
        seal_and_restart(config, store, actor=ROOT, now=at(4))
        _grant(store, "p3", 5)
        sync(config, store)
        yield store


def test_a_store_of_sealed_logs_is_audited_across_them(sealed_twice: Store) -> None:
    report = audit_store(sealed_twice)
    assert (report.entries, report.pending, report.rows["role_grant_events"]) == (5, 0, 3)
    with sealed_twice.read() as session:
        assert log_sizes(session) == [(1, 1), (2, 2), (3, 2)]


@pytest.mark.parametrize(("who", "log", "index"), [("p1", 1, 0), ("p2", 2, 1), ("p3", 3, 1)])
def test_a_grant_undone_in_any_log_is_named_with_its_log(
    sealed_twice: Store, who: str, log: int, index: int
) -> None:
    [(outbox_id, _)] = _outbox(sealed_twice, "principal.role-granted", principal=who)
    _sql(sealed_twice, "DELETE FROM role_grant_events WHERE principal = :p", p=who)
    _sql(sealed_twice, "DELETE FROM outbox WHERE id = :i", i=outbox_id)
    error = _diverges(sealed_twice)
    assert (error.log, error.index, error.event) == (log, index, f"outbox event {outbox_id}")
    assert f"log {log}'s entry {index} (principal.role-granted) records outbox event" in str(error)


def test_a_continued_event_edited_is_named_at_entry_0_of_its_log(sealed_twice: Store) -> None:
    [_, (outbox_id, payload)] = _outbox(sealed_twice, "ledger.continued")
    with sealed_twice.engine.begin() as connection:
        _rewrite(connection, outbox_id, dict(payload, actor="mallory"))
    error = _diverges(sealed_twice)
    assert (error.log, error.index, error.event) == (3, 0, f"outbox event {outbox_id}")
    assert "its entry's commitment does not match its record" in str(error)


def test_a_continued_event_is_only_ever_entry_0_of_a_later_log(sealed_twice: Store) -> None:
    """A ``ledger.continued`` event inserted (and logged) as an ordinary event."""
    with sealed_twice.write() as session:
        append_outbox(session, "ledger.continued", {"origin": "x"}, at=at(6))
    error = _diverges(sealed_twice)
    assert error.index is None
    assert "only ever entry 0 of a log after the first" in str(error)


# -- the restrictions in force ------------------------------------------------------------------


def test_a_ledger_that_published_another_body_than_the_store_holds_is_named(
    world_store: Store,
) -> None:
    """The proposal's mode changed in its row while its approval was synced (so that the
    approval published ``enforce``), then put back: rows, outbox and commitments agree,
    and the ledger says a dry run is enforced."""
    store = world_store
    text_ = "id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\nmode: dry-run\n"
    propose_restrictions(store, text_, name="p.yaml", actor=ALICE, now=at(1))
    sync_ledger(store, signer=None)
    approve_restriction(store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    [(_, proposal)] = _outbox(store, "restriction.proposed")
    honest = _canonical(proposal["restriction_body"])
    forged = _canonical(dict(proposal["restriction_body"], mode="enforce"))
    update = "UPDATE restriction_events SET body = :b WHERE seq = :s"
    _sql(store, update, b=forged, s=proposal["event"])
    sync_ledger(store, signer=None)
    _sql(store, update, b=honest, s=proposal["event"])
    [(approval, _)] = _outbox(store, "restriction.approved")
    error = _diverges(store)
    assert error.index == _index_of(store, approval)
    assert "r-1 (R-1) is active" in str(error)
    assert '"dry-run"' in str(error)
    assert '"enforce"' in str(error)


def test_windows_are_compared_at_the_deployment_s_granularity(world_store: Store) -> None:
    store = world_store
    text_ = "id: r-1\nscope: unit-9900\nactions: ['ai.speech:*']\nnot_after: 2025-11-05T10:00:00Z\n"
    propose_restrictions(store, text_, name="p.yaml", actor=ALICE, now=at(1))
    approve_restriction(store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    weekly = Granularity(time=TimeGranularity.WEEK)
    sync_ledger(store, signer=None, granularity=weekly)
    assert audit_store(store, granularity=weekly).approved == 1
    error = _diverges(store)  # the default, days
    assert "not_after" in str(error)


# -- any single entry's event deleted or changed ------------------------------------------------


Tamper = Callable[[Connection, int, str], None]


def _delete(connection: Connection, outbox_id: int, _: str) -> None:
    connection.execute(text("DELETE FROM outbox WHERE id = :i"), {"i": outbox_id})


def _flip(connection: Connection, outbox_id: int, payload: str) -> None:
    changed = payload.replace('"at":"2025', '"at":"2024', 1)
    if changed == payload:
        changed = payload[:-1] + ',"~":0}'
    connection.execute(
        text("UPDATE outbox SET payload = :p WHERE id = :i"), {"p": changed, "i": outbox_id}
    )


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(choice=st.integers(min_value=0), tamper=st.sampled_from([_delete, _flip]))
def test_any_logged_event_deleted_or_changed_is_named_at_its_index(
    history: Store, choice: int, tamper: Tamper
) -> None:
    with history.read() as session:
        entries = list(logged_entries(session, sizes=log_sizes(session)))
    entry = entries[choice % len(entries)]
    select = "SELECT id, event_type, payload, created_at FROM outbox WHERE id = :i"
    with history.engine.begin() as connection:
        kept = connection.execute(text(select), {"i": entry.outbox_id}).one()
        tamper(connection, entry.outbox_id, kept.payload)
    try:
        error = _diverges(history)
        assert error.index == entry.seq, str(error)
    finally:
        with history.engine.begin() as connection:  # put it back for the next example
            connection.execute(text("DELETE FROM outbox WHERE id = :i"), {"i": entry.outbox_id})
            connection.execute(
                text("INSERT INTO outbox VALUES (:id, :event_type, :payload, :created_at)"),
                kept._asdict(),
            )


# -- the fast path and the exact one ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [2**70, 1e16, 0.1, -0.0, "é\u2028\x7f\x01", [1.5, None, True]],
    ids=["big-int", "1e16", "0.1", "negative-zero", "unicode", "list"],
)
def test_values_orjson_writes_otherwise_are_compared_exactly(value: Any) -> None:
    """A record the writer wrote with the standard library (canonical_json) matches its
    row's whatever orjson would make of it; and the entry's commitment checks out."""
    when = datetime(2025, 10, 9, tzinfo=UTC)
    record = OutboxRecord("case.task-added", {"case": "C-1", "data": {"x": value}}, when)
    payload = _canonical(record.payload)
    where = Where((7, record.event_type, payload, when), None)
    compare(where, record)  # raises if it differs
    entry = LedgerEntry.seal(
        event_type=record.event_type,
        time="2025-10-09T00:00:00Z",
        record=private_record(where.outbox_entry()),
    )
    logged = LoggedEntry(6, 7, entry.public_bytes(), entry.salt)
    where = Where((7, record.event_type, payload, when), logged)
    check_entry(where, logged, record)
    other = OutboxRecord(record.event_type, {"case": "C-1", "data": {"x": "other"}}, when)
    with pytest.raises(StoreDivergenceError, match=r"'data\.x'"):
        compare(where, other)


def test_a_world_row_edited_is_named_at_the_first_version_holding_it(history: Store) -> None:
    """A node's row serves every version from the first import: editing it changes both,
    and the audit stops at the first."""
    [(row_id, start)] = _sql(
        history,
        "SELECT id, from_version FROM world_nodes WHERE to_version IS NULL "
        "AND from_version = 1 ORDER BY position LIMIT 1",
    )
    _sql(
        history,
        "UPDATE world_nodes SET name = 'renamed' WHERE id = :i AND from_version = :f",
        i=row_id,
        f=start,
    )
    error = _diverges(history)
    assert error.event == "world_versions id 1"
    assert "nodes, services or regions were changed" in str(error)


def test_a_world_row_range_cut_short_is_named_at_the_version_that_lost_it(history: Store) -> None:
    """Closing a current row at version 2 takes the node out of version 2 alone."""
    [(row_id,)] = _sql(
        history,
        "SELECT id FROM world_nodes WHERE to_version IS NULL AND from_version = 1 "
        "AND parent IS NOT NULL ORDER BY position DESC LIMIT 1",
    )
    _sql(history, "UPDATE world_nodes SET to_version = 2 WHERE id = :i", i=row_id)
    error = _diverges(history)
    assert error.event == "world_versions id 2"
