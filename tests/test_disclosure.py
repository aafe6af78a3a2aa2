"""brightline.disclosure: one table decides what every ledger event type publishes.

The event types are read from the source (the ``append_outbox`` calls and the enums their
f-strings expand), not listed here, so a new type without a rule fails this file; a
realistic run through the services writes every type and publishes nothing the table
does not allow; random extra keys in a record never reach a public form.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline import disclosure
from brightline.cases import CaseMove
from brightline.config import Settings
from brightline.disclosure import PUBLIC_FIELDS, PUBLIC_NODE_FIELDS, Facts, published
from brightline.errors import LedgerIntegrityError
from brightline.service import EventKind
from brightline.service.ledger import sync_ledger
from brightline.store import Store
from brightline.store.ledger import iter_public
from brightline.world import load_world
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


def written_event_types() -> set[str]:
    """Every outbox event type the source can write, read from its ``append_outbox`` calls."""
    found: set[str] = set()
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree, "append_outbox"):
            argument = call.args[1]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.add(argument.value)
            elif isinstance(argument, ast.JoinedStr):
                found |= _expand(path, tree, argument)
            else:
                pytest.fail(f"{path}:{call.lineno}: an event type this test cannot read")
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
        assert fields <= set(disclosure._DERIVATIONS[family]), event_type


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
    '"reviewer"',  # a principal ("investigator" is also a role's name, published on grants)
    '"approver1"',
    '"alice"',
    '"bob"',
    '"unit-9900"',
    '"unit-9900-analysis"',
    '"sub-9900-rescue"',
    '"mod-hq"',
    "employee",
    "anonymous",
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


def _check_allowed(forms: list[dict[str, Any]]) -> None:
    for form in forms:
        public = form["public"]
        assert set(public) <= PUBLIC_FIELDS[form["type"]], form
        for node in public.get("nodes", ()):
            assert set(node) <= PUBLIC_NODE_FIELDS, form


def test_a_realistic_run_writes_every_type_and_publishes_only_allowed_fields(
    store: Store, tmp_path: Path
) -> None:
    config = Settings(data_dir=tmp_path / "data")
    for _ in every_event(store, config, tmp_path):
        sync_ledger(store, signer=None, customer_names=True)
    forms = _public_forms(store)
    # The run covers the table, but for the entry only a seal writes (a log continuing a
    # sealed one: tests/service/test_ledger_chain.py).
    assert {f["type"] for f in forms} == set(PUBLIC_FIELDS) - {"ledger.continued"}
    _check_allowed(forms)
    text = json.dumps([f["public"] for f in forms])
    for secret in PRIVATE:
        assert secret not in text
    named = [f for f in forms if "customer" in f["public"]]  # opted in
    assert {f["public"]["customer"] for f in named} == CUSTOMERS - {"Federal Weather Agency"}
    assert all(f["type"].startswith("restriction.") for f in named)


def test_a_lagging_sync_publishes_the_world_each_change_was_made_against(
    store: Store, tmp_path: Path
) -> None:
    """The story imports a second world (headquarters: defense -> administration) midway;
    one sync at the end still seals each entry with the world of its change."""
    for _ in every_event(store, Settings(data_dir=tmp_path / "data"), tmp_path):
        pass
    sync_ledger(store, signer=None)
    forms = _public_forms(store)
    _check_allowed(forms)
    assert not any("customer" in f["public"] for f in forms)  # not opted in
    r_hq = [f for f in forms if f["public"].get("restriction") == "r-hq"]
    sectors = [(f["type"], f["public"]["sector"]) for f in r_hq]
    assert sectors == [
        ("restriction.proposed", "defense"),
        ("restriction.approved", "defense"),
        ("restriction.lift-proposed", "defense"),
        ("restriction.lift-rejected", "defense"),
        ("restriction.lift-proposed", "administration"),
        ("restriction.lift-approved", "administration"),
    ]
    countries = {
        n["country"]
        for f in forms
        if f["public"].get("case") == "C-1" and f["type"].startswith("case.")
        for n in f["public"]["nodes"]
    }
    assert countries == {"XF"}


# -- the module on its own ---------------------------------------------------------------------

BODY: dict[str, Any] = {
    "id": "r-1",
    "scope": "unit-9900-analysis",
    "actions": ["storage.*:*", "ai.speech:transcribe", "not a pattern"],
    "regions": ["westeurope", "northeurope"],
    "exempt": ["sub-9900-translate"],
    "mode": "enforce",
    "not_before": None,
    "not_after": "2026-01-01T00:00:00Z",
    "reason": {"policy": "mass-surveillance", "case": "C-1"},
}


def _base(event_type: str) -> dict[str, Any]:
    """A record of ``event_type`` as its writer makes it."""
    family, _, move = event_type.partition(".")
    if family == "restriction":
        record: dict[str, Any] = {"restriction": "r-1", "revision": 2, "actor": "bob"}
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
            "outcome": "lift" if move == "appeal-decided" else "substantiated",
            "exceeds_limits": True,
            "kind": "restrict",
            "rationale": "why",
        }
        if move == "signal-attached":
            del data["signals"]
        return {"case": "C-1", "revision": 1, "kind": move, "actor": "investigator", "data": data}
    if family == "signal":
        return {
            "signal": "S-1",
            "source": "person",
            "alert": None,
            "nodes": ["unit-9900-analysis", "unit-9900", "unit-9900-collection"],
            "policies": ["b-policy", "a-policy"],
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
    return {"version": 2, "digest": "ab", "source": "/path", "counts": {"added_nodes": 3}}


FACTS = Facts(
    world=WORLD,
    restriction=BODY,
    case_policies=("mass-surveillance",),
    case_nodes=("unit-9900", "unit-9900-analysis", "acme-voice", "gone"),
)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(LedgerIntegrityError, match="no disclosure rule"):
        published("restriction.renamed", {"restriction": "r-1"}, FACTS)


def test_a_restriction_publishes_tags_and_its_scope_s_kind_sector_and_country() -> None:
    public = published("restriction.approved", _base("restriction.approved"), FACTS)
    assert public == {
        "restriction": "r-1",
        "kind": "approved",
        "case": "C-1",
        "policy": "mass-surveillance",
        "mode": "enforce",
        "regions": ["northeurope", "westeurope"],
        "not_before": None,
        "not_after": "2026-01-01T00:00:00Z",
        "service_tags": ["file-storage", "object-storage", "speech-to-text"],
        "scope_kind": "unit",
        "sector": "intelligence",  # from unit-9900
        "country": "XF",  # from the customer
    }


def test_the_customer_name_is_published_only_where_the_deployment_opts_in() -> None:
    record = _base("restriction.approved")
    opted = Facts(world=WORLD, restriction=BODY, customer_names=True)
    assert published("restriction.approved", record, opted)["customer"] == (
        "Ministry of Defence of Freedonia"
    )
    assert "customer" not in published("restriction.approved", record, FACTS)
    assert "customer" not in published("case.opened", _base("case.opened"), opted)


def test_a_proposal_publishes_the_body_it_proposes_not_the_one_in_effect() -> None:
    record = _base("restriction.promotion-proposed")
    record["restriction_body"] = {**BODY, "mode": "enforce"}
    in_effect = Facts(world=WORLD, restriction={**BODY, "mode": "dry-run"})
    assert published("restriction.promotion-proposed", record, in_effect)["mode"] == "enforce"


def test_without_a_world_or_a_body_a_restriction_publishes_less() -> None:
    record = _base("restriction.approved")
    assert set(published("restriction.approved", record, Facts(restriction=BODY))) == {
        "restriction",
        "kind",
        "case",
        "policy",
        "mode",
        "regions",
        "not_before",
        "not_after",
    }
    assert published("restriction.approved", record, Facts(world=WORLD)) == {
        "restriction": "r-1",
        "kind": "approved",
        "case": "C-1",
    }
    unknown_scope = Facts(world=WORLD, restriction={**BODY, "scope": "gone"})
    assert "scope_kind" not in published("restriction.approved", record, unknown_scope)


def test_a_guard_approval_publishes_a_null_kind_as_it_always_has() -> None:
    public = published("restriction.guard-approved", _base("restriction.guard-approved"), FACTS)
    assert public["guard"] == "blast-radius"
    assert public["kind"] is None
    assert "case" not in public


def test_case_nodes_are_kind_sector_and_country_deduplicated_and_unknown_ones_skipped() -> None:
    public = published("case.opened", _base("case.opened"), FACTS)
    assert public == {
        "case": "C-1",
        "policies": ["mass-surveillance"],
        "nodes": [
            {"kind": "unit", "sector": "intelligence", "country": "XF"},
            {"kind": "customer", "sector": "telecom", "country": "DE"},
        ],
        "signals": ["S-1"],
    }
    attached = published("case.signal-attached", _base("case.signal-attached"), FACTS)
    assert attached["signals"] == ["S-2"]


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("case.evidence-added", "evidence", "document"),
        ("case.usage-accessed", "access", "per-subscription usage"),
        ("case.finding-recorded", "outcome", "substantiated"),
        ("case.finding-recorded", "policy", "mass-surveillance"),
        ("case.plan-attached", "exceeds_limits", True),
        ("case.decided", "decision", "restrict"),
        ("case.appeal-decided", "appeal", "lift"),
    ],
)
def test_each_case_move_publishes_its_one_closed_value(
    event_type: str, field: str, value: object
) -> None:
    assert published(event_type, _base(event_type), FACTS)[field] == value


def test_a_signal_publishes_person_or_detector_and_nothing_finer() -> None:
    public = published("signal.received", _base("signal.received"), Facts(world=WORLD))
    assert public["source"] == "person"
    assert public["policies"] == ["a-policy", "b-policy"]
    assert public["nodes"] == [{"kind": "unit", "sector": "intelligence", "country": "XF"}]
    with pytest.raises(LedgerIntegrityError, match="person or detector"):
        published("signal.received", {**_base("signal.received"), "source": "employee"}, FACTS)


def test_a_record_lacking_what_its_type_publishes_is_refused() -> None:
    with pytest.raises(LedgerIntegrityError, match="'role'"):
        published("principal.role-granted", {"principal": "jo"}, FACTS)
    with pytest.raises(LedgerIntegrityError, match="'counts'"):
        published("world.imported", {"counts": {"added_nodes": "many"}}, FACTS)


def test_the_misspelt_revocation_type_is_the_one_written() -> None:
    assert "principal.role-revokeed" in written_event_types()
    assert published("principal.role-revokeed", _base("principal.role-revokeed"), FACTS) == {
        "role": "auditor"
    }


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
    facts = Facts(world=WORLD, restriction=body, case_policies=("p",), case_nodes=("unit-9900",))
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
