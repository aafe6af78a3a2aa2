"""brightline.disclosure: one table decides what every ledger event type publishes.

The event types are read from the source (the ``append_outbox`` calls and the enums their
f-strings expand), not listed here, so a new type without a rule fails this file; a
realistic run through the services writes every type and publishes only enforcement acts,
under opaque references, generalized, on days; random extra keys in a record never reach
a public form.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline import disclosure
from brightline.cases import CaseMove
from brightline.config import Settings
from brightline.disclosure import (
    BUNDLE_FIELDS,
    ENFORCEMENT_FIELDS,
    PUBLIC_FIELDS,
    Facts,
    Granularity,
    public_time,
    published,
    reference,
)
from brightline.errors import LedgerIntegrityError
from brightline.generalization import TimeGranularity
from brightline.ledger import CONTINUED
from brightline.service import EventKind
from brightline.service.ledger import sync_ledger
from brightline.service.restrictions import bootstrap_restrictions
from brightline.store import Store, restriction_ids
from brightline.store.ledger import iter_public
from brightline.world import load_world
from cases.case_scenarios import T0, with_people
from disclosure_scenario import every_event

SRC = Path(__file__).parents[1] / "src" / "brightline"
EXAMPLE = Path(__file__).parents[1] / "examples" / "world"
WORLD = load_world(EXAMPLE)


# -- every type the code writes has a rule ---------------------------------------------------


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def _keyword_constants(tree: ast.AST, function: str, keyword: str) -> list[str]:
    """The string constants passed as ``keyword=`` to ``function`` in ``tree``."""
    return [
        k.value.value
        for call in _calls(tree, function)
        for k in call.keywords
        if k.arg == keyword and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
    ]


def _placeholder_values(path: Path, tree: ast.AST, expression: str) -> list[str]:
    """What a placeholder of an f-string event type can be, from the code's own enums or
    call sites; an f-string this does not know fails the test until it is taught here."""
    where = path.relative_to(SRC).as_posix()
    if (where, expression) == ("service/restrictions.py", "kind.value"):
        return [k.value for k in EventKind]
    if (where, expression) == ("store/cases.py", "move.value"):
        return [m.value for m in CaseMove]
    if (where, expression) == ("service/intake.py", "kind"):
        return _keyword_constants(tree, "_grant", "kind")
    if (where, expression) == ("service/records.py", "event.kind"):
        return [k.value for k in EventKind]
    if (where, expression) == ("service/records.py", "event.move.value"):
        return [m.value for m in CaseMove]
    if (where, expression) == ("service/records.py", "grant.kind"):
        intake = SRC / "service" / "intake.py"
        return _keyword_constants(ast.parse(intake.read_text(encoding="utf-8")), "_grant", "kind")
    pytest.fail(f"{where}: an event type built from {{{expression}}}: teach this test its values")


def _expand(path: Path, tree: ast.AST, text: ast.JoinedStr) -> set[str]:
    types = {""}
    for part in text.values:
        if isinstance(part, ast.Constant):
            types = {t + str(part.value) for t in types}
        else:
            assert isinstance(part, ast.FormattedValue)
            values = _placeholder_values(path, tree, ast.unparse(part.value))
            types = {t + v for t in types for v in values}
    return types


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME: Final = "text"`` assignments."""
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found[node.target.id] = node.value.value
    return found


#: The one ``append_outbox`` call whose type is not written at the call: it appends an
#: ``OutboxRecord``, whose constructions are read instead.
_RECORD_APPENDER = ("store/outbox.py", "record.event_type")


def written_event_types() -> set[str]:
    """Every outbox event type the source can write, read from its ``append_outbox`` calls
    and its ``OutboxRecord`` constructions (``brightline.service.records``)."""
    found: set[str] = set()
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _module_constants(tree)
        arguments = [call.args[1] for call in _calls(tree, "append_outbox")]
        arguments += [call.args[0] for call in _calls(tree, "OutboxRecord")]
        for argument in arguments:
            where = (path.relative_to(SRC).as_posix(), ast.unparse(argument))
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id in constants:
                found.add(constants[argument.id])
            elif isinstance(argument, ast.JoinedStr):
                found |= _expand(path, tree, argument)
            elif where != _RECORD_APPENDER:
                pytest.fail(f"{path}:{argument.lineno}: an event type this test cannot read")
    return found


def test_the_source_writes_the_types_this_test_expects_to_find() -> None:
    written = written_event_types()
    # A sanity check of the reading itself, not the list the table is checked against.
    assert {"world.imported", "signal.received", "restriction.guard-approved"} <= written
    assert {"restriction.approved", "case.opened", "principal.role-granted"} <= written


def test_every_event_type_the_code_writes_has_a_rule_and_every_rule_a_writer() -> None:
    assert set(PUBLIC_FIELDS) == written_event_types()


def test_every_allowed_field_has_a_derivation() -> None:
    for event_type, fields in PUBLIC_FIELDS.items():
        family = event_type.partition(".")[0]
        assert fields <= set(disclosure._DERIVATIONS.get(family, {})), event_type


#: The only types that publish anything: enforcement acts.
BOOTSTRAPPED = "restriction.bootstrapped"
ENFORCEMENT_TYPES = {
    "restriction.approved",
    "restriction.promotion-approved",
    "restriction.lift-approved",
    "restriction.bootstrapped",
}


#: What the first entry of a log continuing a sealed one publishes: what the sealed log's
#: final checkpoint says, and the hash of that checkpoint.
CONTINUED_FIELDS = {"origin", "size", "root", "checkpoint_sha256"}
#: Bundles issued to the enforcement points publish their two hashes.
BUNDLE_TYPES = {"bundle.issued"}


def test_only_enforcement_acts_and_bundles_publish_anything() -> None:
    """...and the entry that continues a sealed log, which says nothing of anyone."""
    for event_type, fields in PUBLIC_FIELDS.items():
        if event_type == CONTINUED:
            assert fields == CONTINUED_FIELDS
            continue
        expected: frozenset[str] = frozenset()
        if event_type in ENFORCEMENT_TYPES:
            expected = ENFORCEMENT_FIELDS
        elif event_type in BUNDLE_TYPES:
            expected = BUNDLE_FIELDS
        assert fields == expected, event_type
    assert "case" not in ENFORCEMENT_FIELDS
    assert {"version", "digest"} == BUNDLE_FIELDS  # not the serial: an exact time


# -- a realistic run ----------------------------------------------------------------------------

#: What the story puts in records and must never reach a public form (customer names
#: only with the opt-in, checked apart).
PRIVATE = [
    "Jo Whistle",
    "secure-drop",
    "intercepts",  # the reports' summary
    "Unit 9900",  # a case title
    "telecom-scale",  # a finding's rationale
    "Framework agreement",  # an evidence title
    "which subscription",  # a stated purpose
    "humanitarian",  # a node attribute that is not sector or country
    '"reviewer"',
    '"approver1"',
    '"investigator"',
    '"auditor"',  # a role, published on grants before
    '"unit-9900"',
    '"unit-9900-analysis"',
    '"sub-9900-rescue"',
    '"mod-hq"',
    "employee",
    "anonymous",
    "person",
    "detector",
    "C-1",
    "S-1",
    "not-substantiated",
]
CUSTOMERS = {
    "Ministry of Defence of Freedonia",
    "Acme Contact Centres",
    "Northwind Broadcasting",
    "Federal Weather Agency",
}


def _public_forms(store: Store) -> list[dict[str, Any]]:
    with store.read() as session:
        return [json.loads(public) for _, public in iter_public(session)]


def _check_model(store: Store, forms: list[dict[str, Any]]) -> None:
    """Only enforcement acts publish anything; every time is a UTC midnight; no
    restriction id of the store is published."""
    text = json.dumps(forms)
    with store.read() as session:
        ids = restriction_ids(session)
    assert ids
    for rid in ids:
        assert rid not in text
    for form in forms:
        public = form["public"]
        assert set(public) <= PUBLIC_FIELDS[form["type"]], form
        if form["type"] == CONTINUED:
            assert set(public) == CONTINUED_FIELDS, form
        elif form["type"] in BUNDLE_TYPES:
            assert set(public) == {"version", "digest"}, form
            assert all(len(v) == 64 and not v.strip("0123456789abcdef") for v in public.values())
        elif form["type"] not in ENFORCEMENT_TYPES:
            assert public == {}, form
        else:
            assert public["restriction"].startswith("R-")
        at = datetime.fromisoformat(form["time"].replace("Z", "+00:00"))
        assert (at.hour, at.minute, at.second, at.microsecond) == (0, 0, 0, 0), form
        assert form["time"].endswith("T00:00:00Z")


def test_a_realistic_run_writes_every_type_and_publishes_only_enforcement(
    store: Store, tmp_path: Path
) -> None:
    config = Settings(data_dir=tmp_path / "data")
    granularity = Granularity(k=1, customer_names=True)
    for _ in every_event(store, config, tmp_path):
        sync_ledger(store, signer=None, granularity=granularity)
    forms = _public_forms(store)
    # The run covers the table, but for the entry only a seal writes (a log continuing a
    # sealed one: tests/service/test_ledger_chain.py) and the restrictions only `serve`
    # bootstraps on an empty store (below).
    assert {f["type"] for f in forms} == set(PUBLIC_FIELDS) - {CONTINUED, BOOTSTRAPPED}
    _check_model(store, forms)
    text = json.dumps([f["public"] for f in forms])
    for secret in PRIVATE:
        assert secret not in text
    named = [f for f in forms if "customer" in f["public"]]  # opted in
    assert {f["public"]["customer"] for f in named} == {
        "Ministry of Defence of Freedonia",
        "Acme Contact Centres",
    }
    assert all(f["type"] in ENFORCEMENT_TYPES for f in named)
    # References rank restrictions by their first event: r-9900 is R-1; r-hq, r-dry,
    # r-lifted, r-dry-kept and r-refused follow in the order they were proposed.
    acts = [
        (f["type"], f["public"]["restriction"]) for f in forms if f["type"] in ENFORCEMENT_TYPES
    ]
    assert acts == [
        ("restriction.approved", "R-1"),
        ("restriction.lift-approved", "R-1"),
        ("restriction.approved", "R-2"),
        ("restriction.approved", "R-3"),
        ("restriction.approved", "R-4"),
        ("restriction.approved", "R-5"),
        ("restriction.lift-approved", "R-4"),
        ("restriction.promotion-approved", "R-3"),
        ("restriction.lift-approved", "R-2"),
    ]


def test_a_lagging_sync_generalizes_each_restriction_against_the_world_it_was_made_in(
    store: Store, tmp_path: Path
) -> None:
    """The story imports a second world (headquarters: defense -> administration) midway;
    one sync at the end seals r-hq's lift with the world of its proposal, as its
    approval was: two entries of one restriction always publish the same scope."""
    # Up to the transparency release, which needs the log synced (at the deployment's k).
    for step in every_event(store, Settings(data_dir=tmp_path / "data"), tmp_path):
        if step == "after":
            break
    sync_ledger(store, signer=None, granularity=Granularity(k=1))
    forms = _public_forms(store)
    _check_model(store, forms)
    assert not any("customer" in f["public"] for f in forms)  # not opted in
    r_hq = [f["public"] for f in forms if f["public"].get("restriction") == "R-2"]
    assert [(p["kind"], p["sector"], p["country"]) for p in r_hq] == [
        ("approved", "defense", "XF"),
        ("lift-approved", "defense", "XF"),
    ]


def test_with_k_above_the_number_of_customers_every_scope_is_at_the_top(
    store: Store, tmp_path: Path
) -> None:
    for _ in every_event(store, Settings(data_dir=tmp_path / "data"), tmp_path):
        pass
    sync_ledger(store, signer=None)  # k = 5; the example world has four customers
    scopes = {
        (f["public"]["country"], f["public"]["sector"], f["public"]["scope_kind"])
        for f in _public_forms(store)
        if f["type"] in ENFORCEMENT_TYPES
    }
    assert scopes == {("any", "any", "node")}


def test_bootstrapped_restrictions_publish_their_facts_as_bootstrapped(store: Store) -> None:
    people = with_people(store)
    bootstrap_restrictions(store, EXAMPLE / "restrictions.yaml", actor=people["admin"], now=T0)
    sync_ledger(store, signer=None, granularity=Granularity(k=1))
    forms = _public_forms(store)
    _check_model(store, forms)
    acts = [f["public"] for f in forms if f["type"] == BOOTSTRAPPED]
    assert [(a["restriction"], a["kind"], a["mode"]) for a in acts] == [
        ("R-1", "bootstrapped", "enforce"),
        ("R-2", "bootstrapped", "dry-run"),
    ]
    assert all(set(a) <= ENFORCEMENT_FIELDS for a in acts)


# -- the module on its own ---------------------------------------------------------------------

BODY: dict[str, Any] = {
    "id": "r-9900-1",
    "scope": "unit-9900-analysis",
    "actions": ["storage.*:*", "ai.speech:transcribe", "not a pattern"],
    "regions": ["westeurope", "northeurope"],
    "exempt": ["sub-9900-translate"],
    "mode": "enforce",
    "not_before": "2025-10-01T08:30:00.123456Z",
    "not_after": "2026-01-01T00:00:00Z",
    "reason": {"policy": "mass-surveillance", "case": "C-1"},
}


def _base(event_type: str) -> dict[str, Any]:
    """A record of ``event_type`` as its writer makes it."""
    family, _, move = event_type.partition(".")
    if family == "restriction":
        record: dict[str, Any] = {
            "restriction": "r-9900-1",
            "revision": 2,
            "actor": "bob",
            "world_version": 1,
        }
        if move != "guard-approved":
            record |= {"kind": move, "case": "C-1", "why": "because"}
        if move in ("proposed", "promotion-proposed"):
            record["restriction_body"] = dict(BODY)
        return record
    if family == "case":
        data = {
            "title": "Unit 9900",
            "signals": ["S-1"],
            "signal": "S-2",
            "nodes": ["unit-9900"],
            "evidence": {"kind": "document", "title": "Contract"},
            "policy": "mass-surveillance",
            "outcome": "not-substantiated",
            "exceeds_limits": True,
            "kind": "restrict",
            "rationale": "why",
        }
        return {"case": "C-1", "revision": 1, "kind": move, "actor": "investigator", "data": data}
    if family == "signal":
        return {
            "signal": "S-1",
            "source": "person",
            "alert": None,
            "nodes": ["unit-9900-analysis"],
            "policies": ["a-policy"],
        }
    if family == "principal":
        return {"principal": "jo", "role": "auditor", "actor": "admin"}
    if family == "ledger":  # the first entry of a log continuing a sealed one
        return {
            "origin": "brightline.local/ledger",
            "size": 5,
            "root": "jg3l4vEdpgUPS0uKgCzG7Vax/AxSLblJus2kmlPOzJ8=",
            "checkpoint_sha256": "ab" * 32,
            "log": 2,
            "sealed_log": 1,
            "actor": "admin",
        }
    if family == "bundle":
        return {
            "version": "a1" * 32,
            "serial": 1_759_312_345_678_901,
            "digest": "d2" * 32,
            "issued_at": "2025-10-01T11:12:25.678901Z",
        }
    return {"version": 2, "digest": "ab", "source": "/path", "counts": {"added_nodes": 3}}


EXACT = Granularity(k=1)
FACTS = Facts(world=WORLD, restriction=BODY, reference="R-7", granularity=EXACT)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(LedgerIntegrityError, match="no disclosure rule"):
        published("restriction.renamed", {"restriction": "r-1"}, FACTS)


def test_an_approval_publishes_the_enforcement_facts_under_its_reference() -> None:
    public = published("restriction.approved", _base("restriction.approved"), FACTS)
    assert public == {
        "restriction": "R-7",
        "kind": "approved",
        "policy": "mass-surveillance",
        "mode": "enforce",
        "regions": ["northeurope", "westeurope"],
        "not_before": "2025-10-01T00:00:00Z",  # rounded down to its day
        "not_after": "2026-01-01T00:00:00Z",
        "service_tags": ["file-storage", "object-storage", "speech-to-text"],
        "scope_kind": "unit",
        "sector": "intelligence",  # from unit-9900
        "country": "XF",  # from the customer
    }


def test_the_scope_is_generalized_against_the_world_with_the_deployment_s_k() -> None:
    """Four customers in the example world: with k = 2 the intelligence unit in XF (the
    only customer outside M49's regions) ends as any node of any customer."""
    facts = Facts(world=WORLD, restriction=BODY, reference="R-7", granularity=Granularity(k=2))
    public = published("restriction.lift-approved", _base("restriction.lift-approved"), facts)
    assert (public["country"], public["sector"], public["scope_kind"]) == ("any", "any", "node")
    assert public["service_tags"] == ["file-storage", "object-storage", "speech-to-text"]
    acme = Facts(
        world=WORLD,
        restriction={**BODY, "scope": "acme-voice"},
        reference="R-8",
        granularity=Granularity(k=2),
    )
    public = published("restriction.approved", _base("restriction.approved"), acme)
    # DE is in Europe with IE (Northwind) and FR (the weather agency); telecom and media
    # are private: two European customers of the private sector.
    assert (public["country"], public["sector"], public["scope_kind"]) == (
        "Europe",
        "private",
        "customer",
    )


def test_windows_and_times_are_rounded_to_the_deployment_s_granule() -> None:
    weekly = Facts(
        world=WORLD,
        restriction=BODY,
        reference="R-7",
        granularity=Granularity(k=1, time=TimeGranularity.WEEK),
    )
    public = published("restriction.approved", _base("restriction.approved"), weekly)
    assert public["not_before"] == "2025-09-29T00:00:00Z"  # the Monday
    assert public["not_after"] == "2025-12-29T00:00:00Z"
    at = datetime(2025, 10, 15, 13, 4, 5, 6, tzinfo=UTC)
    assert public_time(at, TimeGranularity.DAY) == "2025-10-15T00:00:00Z"
    assert public_time(at, TimeGranularity.WEEK) == "2025-10-13T00:00:00Z"
    assert public_time(at, TimeGranularity.MONTH) == "2025-10-01T00:00:00Z"


def test_the_customer_name_is_published_only_where_the_deployment_opts_in() -> None:
    record = _base("restriction.approved")
    opted = Facts(
        world=WORLD,
        restriction=BODY,
        reference="R-7",
        granularity=Granularity(k=1, customer_names=True),
    )
    assert published("restriction.approved", record, opted)["customer"] == (
        "Ministry of Defence of Freedonia"
    )
    assert "customer" not in published("restriction.approved", record, FACTS)
    assert published("case.opened", _base("case.opened"), opted) == {}


def test_a_promotion_publishes_the_body_in_effect_once_approved() -> None:
    record = _base("restriction.promotion-approved")
    in_effect = Facts(
        world=WORLD, restriction={**BODY, "mode": "enforce"}, reference="R-7", granularity=EXACT
    )
    assert published("restriction.promotion-approved", record, in_effect)["mode"] == "enforce"


def test_without_a_world_or_a_body_an_approval_publishes_less() -> None:
    record = _base("restriction.approved")
    no_world = Facts(restriction=BODY, reference="R-7", granularity=EXACT)
    assert set(published("restriction.approved", record, no_world)) == {
        "restriction",
        "kind",
        "policy",
        "mode",
        "regions",
        "not_before",
        "not_after",
    }
    no_body = Facts(world=WORLD, reference="R-7", granularity=EXACT)
    assert published("restriction.approved", record, no_body) == {
        "restriction": "R-7",
        "kind": "approved",
    }
    unknown_scope = Facts(
        world=WORLD, restriction={**BODY, "scope": "gone"}, reference="R-7", granularity=EXACT
    )
    assert "scope_kind" not in published("restriction.approved", record, unknown_scope)


def test_the_misspelt_revocation_type_is_the_one_written() -> None:
    assert "principal.role-revokeed" in written_event_types()


def test_an_approval_without_a_reference_is_refused() -> None:
    with pytest.raises(LedgerIntegrityError, match="'restriction'"):
        published("restriction.approved", _base("restriction.approved"), Facts(world=WORLD))
    assert reference(12) == "R-12"


def test_a_bundle_publishes_its_version_and_digest_never_its_serial() -> None:
    record = _base("bundle.issued")
    assert published("bundle.issued", record, FACTS) == {"version": "a1" * 32, "digest": "d2" * 32}
    for bad in ("ab", "A1" * 32, "customer name" + "0" * 51):
        with pytest.raises(LedgerIntegrityError, match="'digest'"):
            published("bundle.issued", {**record, "digest": bad}, FACTS)


@pytest.mark.parametrize(
    "event_type",
    sorted(t for t in PUBLIC_FIELDS if t not in ENFORCEMENT_TYPES | BUNDLE_TYPES | {CONTINUED}),
)
def test_every_other_event_publishes_nothing(event_type: str) -> None:
    """Proposals, rejections, guard approvals, cases, signals, principals and world
    imports: the entry's type, day and commitment say it happened, nothing more."""
    assert published(event_type, _base(event_type), FACTS) == {}


def test_a_continued_log_publishes_the_sealed_log_s_checkpoint_and_not_who_sealed_it() -> None:
    record = _base(CONTINUED)
    assert published(CONTINUED, record, FACTS) == {
        "origin": "brightline.local/ledger",
        "size": 5,
        "root": "jg3l4vEdpgUPS0uKgCzG7Vax/AxSLblJus2kmlPOzJ8=",
        "checkpoint_sha256": "ab" * 32,
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("origin", ""),
        ("origin", "brightline.local/ledger\nadmin alice"),
        ("size", 0),
        ("size", True),
        ("size", "5"),
        ("root", "a name, not a hash"),
        ("root", "YWxpY2U="),  # base64, but of 5 bytes
        ("checkpoint_sha256", "ab" * 31),
        ("checkpoint_sha256", "AB" * 32),  # not as the chain writes it
        ("checkpoint_sha256", "alice"),
    ],
)
def test_a_continued_log_publishes_hashes_only_as_hashes(key: str, value: object) -> None:
    """Each field is checked for its shape, so none can carry anything but what a
    checkpoint says (a name, a free text)."""
    with pytest.raises(LedgerIntegrityError, match=repr(key)):
        published(CONTINUED, {**_base(CONTINUED), key: value}, FACTS)


SECRET = "SECRET-never-published"
_KNOWN_KEYS = frozenset(
    {
        *(k for t in PUBLIC_FIELDS for k in _base(t)),
        *BODY,
        *(k for k in _base("case.opened")["data"]),
        "restriction_body",
        "signal",
    }
)
extra_keys = st.dictionaries(
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda k: k not in _KNOWN_KEYS),
    st.just(SECRET),
    max_size=4,
)


def _with_extras(
    record: Mapping[str, Any], top: dict[str, str], nested: dict[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {**record, **top, "public": {"leak": SECRET}}
    if isinstance(record.get("data"), Mapping):
        out["data"] = {**record["data"], **nested}
    if isinstance(record.get("restriction_body"), Mapping):
        body = record["restriction_body"]
        out["restriction_body"] = {**body, **nested, "reason": {**body["reason"], **nested}}
    return out


@pytest.mark.parametrize("event_type", sorted(PUBLIC_FIELDS))
@settings(max_examples=25, deadline=None)
@given(top=extra_keys, nested=extra_keys)
def test_extra_keys_in_a_record_never_reach_its_public_form(
    event_type: str, top: dict[str, str], nested: dict[str, str]
) -> None:
    base = _base(event_type)
    body = {**BODY, **nested, "reason": {**BODY["reason"], **nested}}
    facts = Facts(world=WORLD, restriction=body, reference="R-1", granularity=EXACT)
    public = published(event_type, _with_extras(base, top, nested), facts)
    assert set(public) <= PUBLIC_FIELDS[event_type]
    assert SECRET not in json.dumps(public)
    assert public == published(event_type, base, facts)  # extras change nothing


# -- purity -------------------------------------------------------------------------------------


def test_the_disclosure_module_loads_no_store_service_or_web_framework() -> None:
    code = (
        "import sys, brightline.disclosure; "
        "bad = ('sqlalchemy', 'fastapi', 'brightline.store', 'brightline.service'); "
        "print(','.join(m for m in bad if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
