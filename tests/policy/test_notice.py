"""The customer notice of a denial: restriction ids, policies' public names and the appeal
contact, and nothing of the internal reason, whatever it says."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.policy import (
    ActionPattern,
    Decision,
    Notice,
    Request,
    Restriction,
    Snapshot,
    snapshot_document,
    snapshot_from_document,
)
from brightline.world import World, load_world
from policy.conftest import EXAMPLE

WORLD: World = load_world(EXAMPLE)
AT = datetime(2026, 1, 1, tzinfo=UTC)
CALL = Request("sub-9900-archive", "storage.blob", "write", "westeurope", AT)
NOTICE = Notice("https://provider.example/appeals", {"mass-surveillance": "Mass surveillance"})


def _restriction(rid: str, reason: dict[str, str]) -> Restriction:
    return Restriction(
        id=rid,
        scope="unit-9900",
        actions=(ActionPattern("storage.*", "*"),),
        reason=MappingProxyType(reason),
    )


def _decide(reason: dict[str, str], notice: Notice = NOTICE) -> Decision:
    return Snapshot(WORLD, [_restriction("r-1", reason)], notice=notice).decide(CALL)


#: What an operator may write in a reason: any key but the public one, any text.
internal = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k != "policy"),
    st.text(min_size=1, max_size=80),
    min_size=1,
    max_size=4,
)
policies = st.sampled_from(["mass-surveillance", "export-controls"])


@settings(max_examples=200, deadline=None)
@given(internal=internal, policy=policies)
def test_the_notice_does_not_depend_on_the_internal_reason(
    internal: dict[str, str], policy: str
) -> None:
    # Equal whatever the rest of the reason says: so it cannot carry any of it.
    public = _decide({"policy": policy}).customer_notice()
    full = _decide({**internal, "policy": policy}).customer_notice()
    assert full == public
    assert public is not None
    assert public.policies == (NOTICE.policy_name(policy),)


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=60), key=st.sampled_from(["case", "note", "why"]))
def test_a_marked_internal_reason_never_shows(text: str, key: str) -> None:
    secret = f"SECRET<{text}>"
    notice = _decide({key: secret, "policy": "mass-surveillance"}).customer_notice()
    assert notice is not None
    assert secret not in notice.message
    assert all(secret not in value for value in notice.to_json().values() if isinstance(value, str))


@settings(max_examples=100, deadline=None)
@given(internal=internal)
def test_the_snapshot_document_carries_no_internal_reason(internal: dict[str, str]) -> None:
    snapshot = Snapshot(
        WORLD, [_restriction("r-1", {**internal, "policy": "mass-surveillance"})], notice=NOTICE
    )
    document = snapshot_document(snapshot, at=AT, world_version=1)
    assert [r["reason"] for r in document["restrictions"]] == [{"policy": "mass-surveillance"}]
    rebuilt = snapshot_from_document(document)
    assert rebuilt.version == snapshot.version
    assert rebuilt.notice == NOTICE
    assert rebuilt.decide(CALL).customer_notice() == snapshot.decide(CALL).customer_notice()


def test_the_notice_names_each_restriction_with_its_policy_and_the_contact() -> None:
    snapshot = Snapshot(
        WORLD,
        [
            _restriction("r-1", {"policy": "mass-surveillance", "case": "C-1"}),
            _restriction("r-2", {"policy": "export-controls"}),
            _restriction("r-3", {}),
        ],
        notice=NOTICE,
    )
    notice = snapshot.decide(CALL).customer_notice()
    assert notice is not None
    assert notice.restrictions == ("r-1", "r-2", "r-3")
    # A policy without a public name is shown by its id (its ledger entries publish it).
    assert notice.policies == ("Mass surveillance", "export-controls", "an acceptable-use policy")
    assert notice.message == (
        "Refused under the provider's acceptable-use restrictions r-1 (Mass surveillance), "
        "r-2 (export-controls), r-3 (an acceptable-use policy). To appeal, contact "
        "https://provider.example/appeals and quote r-1, r-2, r-3."
    )


def test_an_allow_has_no_notice_and_a_deployment_without_a_contact_says_so() -> None:
    allowed = Snapshot(WORLD, [], notice=NOTICE).decide(CALL)
    assert allowed.customer_notice() is None
    notice = _decide({"policy": "mass-surveillance"}, Notice()).customer_notice()
    assert notice is not None
    assert notice.appeal_contact == "your provider's support"
    assert notice.policies == ("mass-surveillance",)


def test_a_fail_closed_denial_says_the_policy_could_not_be_confirmed_and_nothing_more() -> None:
    allowed = Snapshot(WORLD, [], notice=NOTICE).decide(CALL)
    stale = Decision.fail_closed(allowed, reason="stale bundle: last confirmed at 09:00")
    notice = stale.customer_notice()
    assert notice is not None
    assert notice.restrictions == ()
    assert "stale" not in notice.message
    assert "could not confirm" in notice.message
    assert NOTICE.appeal_contact in notice.message
