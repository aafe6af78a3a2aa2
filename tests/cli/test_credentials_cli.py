"""The CLI acts as an authenticated principal: bootstrapping, credentials from files and the
environment, effective roles (the key's roles that the store grants), four eyes between
principals, revocation, and OIDC tokens."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from brightline.cli import app
from cases.case_scenarios import EXAMPLE
from cli.people import ADMIN, People, words

PROPOSAL = "id: r-4e\nscope: unit-9900\nactions: ['storage.*:*']\n"


@pytest.fixture
def proposed(people: People, tmp_path: Path) -> People:
    """The example world, alice (investigator) with r-4e proposed, an auditor."""
    people.invoke("world", "import", str(EXAMPLE), by=ADMIN)
    people.enrol("alice", "investigator")
    people.enrol("aude", "auditor")
    proposal = tmp_path / "r.yaml"
    proposal.write_text(PROPOSAL)
    people.invoke("restrict", "propose", str(proposal), by="alice")
    return people


def _status(people: People, restriction: str) -> str:
    shown = json.loads(people.invoke("restrict", "show", restriction, "--json", by="aude"))
    return str(shown["status"])


def _ledger_size(people: People) -> int:
    return int(json.loads(people.invoke("ledger", "status", "--json", by="aude"))["size"])


# -- bootstrap --------------------------------------------------------------------------------


def test_bootstrap_makes_the_first_admin_once(tmp_path: Path) -> None:
    people = People(
        CliRunner(env={"BRIGHTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}),
        tmp_path / "keys",
    )
    people.bootstrap("root")
    key = people.key_file("root")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("bl_")
    listed = json.loads(people.invoke("principal", "list", "--json", by="root"))
    assert listed == {"root": ["admin", "case-admin"]}
    logged = json.loads(people.invoke("ledger", "status", "--json", by="root"))
    assert logged["size"] == 1  # principal.bootstrapped

    again = people.invoke("bootstrap", "--principal", "other", code=4)
    assert "already has principals or keys" in words(again)
    assert json.loads(people.invoke("principal", "list", "--json", by="root")) == listed


def test_bootstrap_prints_the_key_once_without_key_out(tmp_path: Path) -> None:
    runner = CliRunner(env={"BRIGHTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"})
    result = runner.invoke(app, ["bootstrap", "--principal", "root"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()  # alone on standard output
    assert key.startswith("bl_")
    listed = runner.invoke(app, ["principal", "list"], env={"BRIGHTLINE_API_KEY": key})
    assert listed.exit_code == 0, listed.output
    assert "root: admin, case-admin" in listed.stdout


def test_bootstrap_never_overwrites_a_key_file(tmp_path: Path) -> None:
    runner = CliRunner(env={"BRIGHTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"})
    taken = tmp_path / "taken"
    taken.write_text("something else")
    refused = runner.invoke(app, ["bootstrap", "--principal", "root", "--key-out", str(taken)])
    assert refused.exit_code == 2
    assert "not overwritten" in words(refused.stderr)
    assert taken.read_text() == "something else"
    # Nothing was bootstrapped: the store is still empty.
    fresh = tmp_path / "fresh"
    made = runner.invoke(app, ["bootstrap", "--principal", "root", "--key-out", str(fresh)])
    assert made.exit_code == 0, made.output


# -- credentials ------------------------------------------------------------------------------


def test_a_missing_credential_is_a_one_line_error(sqlite_people: People) -> None:
    result = sqlite_people.runner.invoke(app, ["restrict", "list"])
    assert result.exit_code == 8
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--key-file" in result.stderr
    assert "BRIGHTLINE_API_KEY" in result.stderr


def test_offline_commands_need_no_credential(tmp_path: Path) -> None:
    runner = CliRunner(env={"BRIGHTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"})
    assert runner.invoke(app, ["validate", "--world", str(EXAMPLE)]).exit_code == 0
    checked = ["check", "--world", str(EXAMPLE), "sub-hq-mail", "storage.blob:read", "westeurope"]
    assert runner.invoke(app, checked).exit_code == 0
    exported = ["export", "cedar", "--world", str(EXAMPLE), "--out", str(tmp_path / "cedar")]
    assert runner.invoke(app, exported).exit_code == 0
    # Without --world, the same commands read the store and need a credential.
    assert runner.invoke(app, checked[:1] + checked[3:]).exit_code == 8


def test_a_key_file_others_can_read_is_refused(sqlite_people: People) -> None:
    key = sqlite_people.key_file(ADMIN)
    os.chmod(key, 0o644)
    refused = sqlite_people.invoke("principal", "list", by=ADMIN, code=2)
    assert "chmod 600" in words(refused)
    os.chmod(key, 0o600)
    sqlite_people.invoke("principal", "list", by=ADMIN)


def test_the_key_may_come_from_the_environment(sqlite_people: People) -> None:
    key = sqlite_people.key_file(ADMIN).read_text().strip()
    runner = sqlite_people.runner
    listed = runner.invoke(app, ["principal", "list"], env={"BRIGHTLINE_API_KEY": key})
    assert listed.exit_code == 0, listed.output
    both = runner.invoke(
        app,
        ["principal", "list"],
        env={"BRIGHTLINE_API_KEY": key, "BRIGHTLINE_OIDC_TOKEN": "x.y.z"},
    )
    assert both.exit_code == 2
    assert "unset one" in words(both.stderr)


def test_a_revoked_key_is_refused_on_the_next_command(sqlite_people: People) -> None:
    sqlite_people.enrol("ivy", "investigator")
    keys = json.loads(sqlite_people.invoke("apikey", "list", "--json", by=ADMIN))
    ivy = next(k["id"] for k in keys if k["principal"] == "ivy")
    sqlite_people.invoke("restrict", "list", by="ivy")
    sqlite_people.invoke("apikey", "revoke", ivy, by=ADMIN)
    refused = sqlite_people.invoke("restrict", "list", by="ivy", code=8)
    assert "unknown or revoked API key" in words(refused)


def test_only_an_admin_creates_keys(sqlite_people: People) -> None:
    sqlite_people.enrol("ivy", "investigator")
    refused = sqlite_people.invoke(
        "apikey", "create", "eve", "--role", "approver", by="ivy", code=7
    )
    assert "may not create-key" in words(refused)


# -- effective roles and four eyes ------------------------------------------------------------


def test_a_key_carrying_approver_without_the_grant_cannot_approve(proposed: People) -> None:
    """(a) and (c): mallory's key carries approver and investigator, the store grants only
    investigator: approving is refused (exit 7) and writes nothing; the same key works
    for what the grant allows."""
    proposed.enrol("mallory", "approver", "investigator", grant=["investigator"])
    before = _ledger_size(proposed)
    refused = proposed.invoke("restrict", "approve", "r-4e", by="mallory", code=7)
    assert "mallory (investigator) may not approve-restriction" in words(refused)
    assert proposed.invoke("case", "approve", "r-4e", by="mallory", code=7)
    assert _status(proposed, "r-4e") == "proposed"
    assert _ledger_size(proposed) == before

    listed = json.loads(proposed.invoke("restrict", "list", "--json", by="mallory"))
    assert [r["id"] for r in listed] == ["r-4e"]


def test_approving_with_the_proposers_own_key_is_refused(proposed: People) -> None:
    """Four eyes between authenticated principals: alice, also granted approver and with a
    key carrying it, still cannot approve her own proposal."""
    proposed.enrol("alice2", "approver")  # someone else, for the approval below
    proposed.invoke("principal", "grant", "alice", "approver", by=ADMIN)
    proposed.invoke(
        "apikey",
        "create",
        "alice",
        "--role",
        "approver",
        "--key-out",
        str(proposed.key_file("alice-approver")),
        by=ADMIN,
    )
    own = proposed.invoke("restrict", "approve", "r-4e", by="alice-approver", code=4)
    assert "second person" in words(own)
    assert _status(proposed, "r-4e") == "proposed"
    approved = json.loads(proposed.invoke("restrict", "approve", "r-4e", "--json", by="alice2"))
    assert approved[0]["status"] == "in-force"


def test_a_revoked_grant_is_refused_on_the_next_command(proposed: People) -> None:
    """(b): the key still authenticates; the role it carries is no longer granted."""
    proposed.enrol("bob", "approver")
    proposed.invoke("restrict", "list", by="bob")
    proposed.invoke("principal", "revoke", "bob", "approver", by=ADMIN)
    refused = proposed.invoke("restrict", "approve", "r-4e", by="bob", code=7)
    assert "bob holds no role" in words(refused)
    proposed.invoke("restrict", "list", by="bob", code=7)
    assert _status(proposed, "r-4e") == "proposed"


def test_no_one_grants_roles_to_themselves(sqlite_people: People) -> None:
    sqlite_people.enrol("casey", "case-admin")
    refused = sqlite_people.invoke("principal", "grant", "casey", "approver", by="casey", code=7)
    assert "may not change its own roles" in words(refused)


def test_a_customer_grant_binds_a_node_of_the_world(sqlite_people: People) -> None:
    people = sqlite_people
    people.invoke("world", "import", str(EXAMPLE), by=ADMIN)
    unbound = people.invoke("principal", "grant", "acme-ops", "customer", by=ADMIN, code=2)
    assert "names the node it binds to" in words(unbound)
    bound_auditor = ("principal", "grant", "acme-ops", "auditor", "--node", "acme-voice")
    assert "only a customer grant binds a node" in words(
        people.invoke(*bound_auditor, by=ADMIN, code=2)
    )
    unknown = ("principal", "grant", "acme-ops", "customer", "--node", "nowhere")
    assert "no node 'nowhere'" in words(people.invoke(*unknown, by=ADMIN, code=3))
    people.invoke("principal", "grant", "acme-ops", "customer", "--node", "acme-voice", by=ADMIN)
    listed = people.invoke("principal", "list", "--json", by=ADMIN)
    assert "customer" in json.loads(listed)["acme-ops"]
    assert "acme-ops: customer (customer of acme-voice)" in people.invoke(
        "principal", "list", by=ADMIN
    )
    people.invoke("principal", "revoke", "acme-ops", "customer", by=ADMIN)
    people.invoke("principal", "grant", "acme-ops", "auditor", by=ADMIN)
    assert "acme-ops: auditor\n" in people.invoke("principal", "list", by=ADMIN)


# -- OIDC -------------------------------------------------------------------------------------

ISSUER = "https://idp.example.test/"
AUDIENCE = "brightline"


def test_an_oidc_token_acts_as_its_oidc_principal(people: People, tmp_path: Path) -> None:
    """(d): a token from the identity provider, through BRIGHTLINE_OIDC_TOKEN or
    --token-file, acts as ``oidc:<alias>:<sub>`` with the roles its claims map to that the
    store grants that name."""
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    oidc = {
        "BRIGHTLINE_OIDC_ISSUER": ISSUER,
        "BRIGHTLINE_OIDC_AUDIENCE": AUDIENCE,
        "BRIGHTLINE_OIDC_JWKS": str(jwks),
        "BRIGHTLINE_OIDC_ROLES_CLAIM": "groups",
        "BRIGHTLINE_OIDC_ROLE_MAP": "trust-and-safety=investigator",
        "BRIGHTLINE_OIDC_ISSUER_ALIAS": "corp",
    }
    people.runner.env.update(oidc)
    people.invoke("world", "import", str(EXAMPLE), by=ADMIN)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "dana", "groups": ["trust-and-safety"]}
    token = jwt.encode(
        {**claims, "exp": int(time.time()) + 300}, signing, algorithm="RS256", headers={"kid": "k1"}
    )
    proposal = tmp_path / "r.yaml"
    proposal.write_text(PROPOSAL)
    propose = ["restrict", "propose", str(proposal)]

    def as_dana(*args: str) -> tuple[int, str]:
        result = people.runner.invoke(app, list(args), env={"BRIGHTLINE_OIDC_TOKEN": token})
        return result.exit_code, result.stdout + result.stderr

    code, out = as_dana(*propose)
    assert code == 7
    assert "oidc:corp:dana holds no role" in words(out)
    people.invoke("principal", "grant", "oidc:corp:dana", "investigator", by=ADMIN)
    code, out = as_dana(*propose)
    assert code == 0, out
    code, out = as_dana("restrict", "show", "r-4e", "--json")
    assert code == 0, out
    assert json.loads(out)["events"][0]["actor"] == "oidc:corp:dana"

    token_file = tmp_path / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    people.invoke("restrict", "list", "--token-file", str(token_file))
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 10}, signing, algorithm="RS256", headers={"kid": "k1"}
    )
    token_file.write_text(expired)
    refused = people.invoke("restrict", "list", "--token-file", str(token_file), code=8)
    assert "invalid bearer token" in words(refused)
