"""The access rules of issue 14, each through the store's grants and the Authenticator
(both databases): effective roles are the key's roles that the store grants, now; the
bootstrap admin manages keys and grants only; a reviewer's key shows no reporter;
idempotency keys are each principal's own; a restriction names only a case that exists;
grants never escalate; bootstrapping is for an empty store and is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from brightline.access import Principal, Role
from brightline.cases import Finding, FindingOutcome, SourceKind
from brightline.config import Settings
from brightline.disclosure import Facts, published
from brightline.errors import AccessDeniedError, ConflictError, InvalidInputError
from brightline.service import (
    Status,
    approve_restriction,
    propose_restrictions,
    show_restriction,
)
from brightline.service.access import Authenticator, bootstrap
from brightline.service.apikeys import create_key
from brightline.service.case_export import show_case
from brightline.service.cases import assign, open_case, record_finding, start_review
from brightline.service.intake import grant_role, list_principals, revoke_role
from brightline.service.plans import PlanLimits, decide_restrict
from brightline.store import Store, read_outbox
from cases.case_scenarios import POLICY, T0, People, at, report, with_people
from principals import NO_TELEMETRY
from service.store_scenarios import restriction_yaml


@pytest.fixture
def people(store: Store) -> People:
    return with_people(store)


def _key(store: Store, people: People, name: str, *roles: Role) -> str:
    """A new key for ``name``, created by the admin, carrying ``roles``."""
    _, key = create_key(
        store, principal=name, roles=[r.value for r in roles], actor=people["admin"], now=T0
    )
    return key


def _as(store: Store, key: str) -> Principal:
    return Authenticator(store, Settings()).principal_for(key)


def _proposed(store: Store, people: People, rid: str = "r-1") -> str:
    propose_restrictions(
        store, restriction_yaml(rid), name="r.yaml", actor=people["investigator"], now=at(1)
    )
    return rid


def test_a_key_carrying_approver_without_the_grant_cannot_approve(
    store: Store, people: People
) -> None:
    rid = _proposed(store, people)
    mallory = _as(store, _key(store, people, "mallory", Role.APPROVER))
    assert mallory.roles == frozenset()
    with pytest.raises(AccessDeniedError, match="holds no role"):
        approve_restriction(store, rid, actor=mallory, now=at(2), settings=NO_TELEMETRY)
    # An investigator's key that also carries approver: only the granted role counts.
    ivan = _as(store, _key(store, people, "investigator", Role.INVESTIGATOR, Role.APPROVER))
    assert ivan.roles == {Role.INVESTIGATOR}
    with pytest.raises(AccessDeniedError, match="needs one of: approver"):
        approve_restriction(store, rid, actor=ivan, now=at(2), settings=NO_TELEMETRY)
    assert show_restriction(store, rid, now=at(3)).status is Status.PROPOSED


def test_a_revoked_grant_stops_working_on_the_next_call(store: Store, people: People) -> None:
    first, second = _proposed(store, people, "r-1"), _proposed(store, people, "r-2")
    authenticator = Authenticator(store, Settings())  # one, with its cache, as a server's
    key = people.keys["approver1"]
    approve_restriction(
        store, first, actor=authenticator.principal_for(key), now=at(2), settings=NO_TELEMETRY
    )
    revoke_role(store, "approver1", Role.APPROVER, actor=people["admin"], now=at(2))
    with pytest.raises(AccessDeniedError):
        approve_restriction(
            store, second, actor=authenticator.principal_for(key), now=at(3), settings=NO_TELEMETRY
        )
    assert show_restriction(store, second, now=at(3)).status is Status.PROPOSED


def test_the_bootstrap_admin_can_neither_propose_nor_approve(store: Store, people: People) -> None:
    admin = people["admin"]
    assert admin.roles == {Role.ADMIN, Role.CASE_ADMIN}
    with pytest.raises(AccessDeniedError, match="needs one of: investigator"):
        propose_restrictions(store, restriction_yaml(), name="r.yaml", actor=admin, now=at(1))
    rid = _proposed(store, people)
    with pytest.raises(AccessDeniedError, match="needs one of: approver"):
        approve_restriction(store, rid, actor=admin, now=at(2), settings=NO_TELEMETRY)


def test_a_case_admins_reviewer_key_does_not_see_reporters(store: Store, people: People) -> None:
    grant_role(store, "casey", Role.EXTERNAL_REVIEWER, actor=people["admin"], now=T0)
    named = report(store, actor=people["admin"], name="Jo Whistle", source=SourceKind.EMPLOYEE)
    investigator = people["investigator"]
    case = open_case(store, actor=investigator, title="t", signals=[named], now=at(1)).id
    assign(store, case, "casey", actor=investigator, now=at(1))

    as_case_admin = people["casey"]
    as_reviewer = _as(store, _key(store, people, "casey", Role.EXTERNAL_REVIEWER))
    assert as_reviewer.roles == {Role.EXTERNAL_REVIEWER}
    assert show_case(store, case, actor=as_case_admin).reporters is not None
    seen = show_case(store, case, actor=as_reviewer)
    assert seen.reporters is None
    assert "reporters" not in seen.to_json()
    assert "Jo Whistle" not in str(seen.to_json())


def test_another_principals_idempotency_key_does_not_block_a_decision(
    store: Store, people: People, tmp_path: Path
) -> None:
    investigator = people["investigator"]
    signal = report(store, actor=investigator)
    case = open_case(store, actor=investigator, title="t", signals=[signal], now=at(1)).id
    start_review(store, case, actor=investigator, now=at(2))
    finding = Finding(POLICY, FindingOutcome.SUBSTANTIATED, "telecom-scale speech")
    record_finding(store, case, finding, actor=investigator, now=at(3))
    # Another investigator spends the key the decision will use, on another restriction.
    grant_role(store, "ines", Role.INVESTIGATOR, actor=people["admin"], now=T0)
    ines = _as(store, _key(store, people, "ines", Role.INVESTIGATOR))
    squatted = f"{case}:decision:1"
    propose_restrictions(
        store, restriction_yaml("r-squat"), name="r.yaml", actor=ines, key=squatted, now=at(4)
    )

    state, _ = decide_restrict(
        store,
        Settings(data_dir=tmp_path / "data"),
        case,
        restriction_yaml("r-case"),
        name="r.yaml",
        actor=investigator,
        rationale="substantiated",
        limits=PlanLimits(max_subscriptions=100, max_usage_share=1.0),
        now=at(5),
    )
    assert state.decisions[-1].decision.restrictions == ("r-case",)
    view = show_restriction(store, "r-case", now=at(6))
    assert (view.status, view.state.proposed_by, view.state.case_id) == (
        Status.PROPOSED,
        "investigator",
        case,
    )
    assert show_restriction(store, "r-squat", now=at(6)).state.proposed_by == "ines"


def test_a_restriction_naming_a_case_that_does_not_exist_is_refused(
    store: Store, people: People
) -> None:
    text = restriction_yaml("r-9", extra="reason: {case: C-404, policy: mass-surveillance}\n")
    with pytest.raises(InvalidInputError, match=r"r-9\.reason\.case: no case 'C-404'"):
        propose_restrictions(store, text, name="r.yaml", actor=people["investigator"], now=at(1))
    with pytest.raises(InvalidInputError, match=r"reason\.case"):
        propose_restrictions(
            store,
            restriction_yaml("r-9"),
            name="r.yaml",
            actor=people["investigator"],
            case_id="C-404",
            now=at(1),
        )
    with store.read() as session:
        assert not [o for o in read_outbox(session) if o.event_type.startswith("restriction.")]


def _held(store: Store, actor: Principal) -> dict[str, frozenset[Role]]:
    """Who holds which roles now, as ``list_principals`` lists them."""
    return {h.principal: h.roles for h in list_principals(store, actor=actor)}


def test_no_one_grants_roles_to_themselves(store: Store, people: People) -> None:
    for name, role in (("admin", Role.APPROVER), ("casey", Role.INVESTIGATOR)):
        with pytest.raises(AccessDeniedError, match="its own roles"):
            grant_role(store, name, role, actor=people[name], now=at(1))
    with pytest.raises(AccessDeniedError, match="its own roles"):
        grant_role(store, "CASEY", Role.APPROVER, actor=people["casey"], now=at(1))
    with pytest.raises(AccessDeniedError, match="its own roles"):
        revoke_role(store, "admin", Role.CASE_ADMIN, actor=people["admin"], now=at(1))
    grants = _held(store, people["admin"])
    assert grants["admin"] == {Role.ADMIN, Role.CASE_ADMIN}
    assert grants["casey"] == {Role.CASE_ADMIN}


def test_a_case_admin_cannot_grant_or_revoke_admin(store: Store, people: People) -> None:
    casey = people["casey"]
    with pytest.raises(AccessDeniedError, match="only an admin"):
        grant_role(store, "investigator", Role.ADMIN, actor=casey, now=at(1))
    with pytest.raises(AccessDeniedError, match="only an admin"):
        revoke_role(store, "keeper", Role.ADMIN, actor=casey, now=at(1))
    assert people["investigator"].roles == {Role.INVESTIGATOR}
    assert people["keeper"].roles == {Role.ADMIN}
    # The case admin grants the other roles; an admin grants admin.
    grant_role(store, "investigator", Role.AUDITOR, actor=casey, now=at(1))
    grant_role(store, "casey", Role.ADMIN, actor=people["admin"], now=at(1))
    assert _held(store, casey)["casey"] == {Role.ADMIN, Role.CASE_ADMIN}


def test_bootstrap_is_recorded_and_only_for_an_empty_store(store: Store) -> None:
    key = bootstrap(store, principal="root", now=T0)
    first = _as(store, key)
    assert (first.name, first.roles) == ("root", {Role.ADMIN, Role.CASE_ADMIN})
    with store.read() as session:
        [entry] = read_outbox(session)
    assert entry.event_type == "principal.bootstrapped"
    data = entry.data()
    assert (data["principal"], sorted(data["roles"])) == ("root", ["admin", "case-admin"])
    assert f"key:{data['key']}" == first.credential
    assert "public" not in data  # what is published is brightline.disclosure's to say
    assert published("principal.bootstrapped", data, Facts()) == {}

    with pytest.raises(ConflictError, match="empty store"):
        bootstrap(store, principal="usurper", now=T0)
    with store.read() as session:
        assert len(read_outbox(session)) == 1
    assert "usurper" not in _held(store, first)
