"""The permission table, tried on every way in: for every action a way in offers, every
role, and principals whose credential and grants disagree, the outcome is the table's.

The expected outcome is computed here from ``PERMISSIONS`` and from what this test set
up (the roles on each credential, the roles the store grants): a role counts only where
both hold it. Each way in is probed through its real interface — HTTP routes on a live
server, console pages and forms with a session, CLI commands in a in-process runner —
and an outcome is "denied" when the way in says so (403, exit 7) and "allowed" otherwise
(a 409 or a 422 means the gate let the request through to the rules after it).
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import typer
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, start_server
from brightline.access import PERMISSIONS, Action, Role, may
from brightline.cases import Signal, SourceKind
from brightline.cli import app
from brightline.config import Settings
from brightline.service.access import Authenticator
from brightline.service.apikeys import create_key
from brightline.service.cases import assign, open_case
from brightline.service.intake import revoke_role, submit_report
from brightline.service.ledger import ensure_key
from brightline.service.restrictions import approve_restriction, propose_restrictions
from brightline.store import Store, open_store
from brightline.web.common import CUSTOMER_HOME, SIGN_IN
from web.conftest import ALERTS, login_token

ISSUER = "https://idp.example.test/"
ASSIGNED_CASE = "C-1"  # the external reviewer is assigned to it
OTHER_CASE = "C-2"  # nobody is assigned
PENDING = "r-pending"
ACTIVE = "r-active"
REVIEWER = f"{Role.EXTERNAL_REVIEWER.value}-user"


@dataclass(frozen=True)
class Who:
    """A principal of the matrix: what its credential carries and what the store grants."""

    label: str
    name: str
    carried: frozenset[Role]
    granted: frozenset[Role]
    token: str = ""

    @property
    def roles(self) -> frozenset[Role]:
        """The oracle: a role counts where the credential and the grants both hold it."""
        return self.carried & self.granted


@dataclass(frozen=True)
class Probe:
    action: Action
    case: str | None = None
    call: Callable[..., int] = field(default=lambda *_: 0, compare=False)

    def expected(self, who: Who) -> bool:
        assigned = (
            None if self.case is None else who.name == REVIEWER and (self.case == ASSIGNED_CASE)
        )
        return may(who.roles, self.action, assigned=assigned)


@dataclass
class World:
    url: str
    store: Store
    settings: Settings
    people: list[Who]
    victims: Iterator[str]
    environment: dict[str, str]
    scratch: Path
    counter: Iterator[int] = field(default_factory=itertools.count)


def _oidc_settings(tmp_path: Path) -> tuple[Settings, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k1"
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_rate_per_minute=1_000_000,
        oidc_issuer=ISSUER,
        oidc_audience="brightline",
        oidc_jwks=str(tmp_path / "jwks.json"),
    )
    return settings, key


def _token(key: Any, sub: str, roles: frozenset[Role]) -> str:
    claims = {
        "iss": ISSUER,
        "aud": "brightline",
        "sub": sub,
        "exp": int(time.time()) + 3600,
        "roles": sorted(r.value for r in roles),
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database for the whole matrix, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'matrix.db'}"
        return
    admin: str = request.getfixturevalue("postgres_url")
    name = f"matrix_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="module")
def world(matrix_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp_path = tmp_path_factory.mktemp("matrix")
    settings, signing_key = _oidc_settings(tmp_path)
    store = open_store(matrix_url)
    ensure_key(settings)
    granted = {f"{r.value}-user": [r.value] for r in Role}
    carried_only = {f"ungranted-{r.value}": [r.value] for r in Role}
    revoked = {f"revoked-{r.value}": [r.value] for r in Role}
    # A customer is bound to the intelligence unit (access_setup.CUSTOMER_NODE).
    keys = provision(
        store,
        settings,
        {**granted, **carried_only, **revoked},
        grants={**granted, **{n: [] for n in carried_only}, **revoked},
        world=EXAMPLE,
    )
    root = principal_of(store, settings, keys[ROOT])
    for name, (role,) in revoked.items():
        revoke_role(store, name, Role(role), actor=root)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "alerts.jsonl").write_text(
        "".join(json.dumps(a) + "\n" for a in ALERTS), encoding="utf-8"
    )
    # Two cases: the external reviewer is assigned to the first only.
    signal = Signal(SourceKind.JOURNALIST, ("unit-9900",), ("mass-surveillance",), "a report")
    for _ in (ASSIGNED_CASE, OTHER_CASE):
        ref = submit_report(store, signal, actor=root).ref
        open_case(store, actor=root, title="matrix", signals=[ref])
    assign(store, ASSIGNED_CASE, REVIEWER, actor=root)
    investigator = principal_of(store, settings, keys["investigator-user"])
    approver = principal_of(store, settings, keys["approver-user"])
    for rid in (PENDING, ACTIVE):
        text = f"id: {rid}\nscope: unit-9900\nactions: ['ai.speech:*']\n"
        propose_restrictions(store, text, name="matrix", actor=investigator)
    approve_restriction(store, ACTIVE, actor=approver, settings=settings)

    people = [
        Who(
            "the bootstrap admin",
            ROOT,
            frozenset({Role.ADMIN, Role.CASE_ADMIN}),
            frozenset({Role.ADMIN, Role.CASE_ADMIN}),
            keys[ROOT],
        ),
    ]
    for r in Role:
        one = frozenset({r})
        people += [
            Who(f"{r.value}", f"{r.value}-user", one, one, keys[f"{r.value}-user"]),
            Who(
                f"{r.value} key, never granted",
                f"ungranted-{r.value}",
                one,
                frozenset(),
                keys[f"ungranted-{r.value}"],
            ),
            Who(
                f"{r.value}, grant revoked",
                f"revoked-{r.value}",
                one,
                frozenset(),
                keys[f"revoked-{r.value}"],
            ),
            # An OIDC subject equal to a key principal: a different principal.
            Who(
                f"{r.value} as OIDC sub",
                f"oidc:idp:{r.value}-user",
                one,
                frozenset(),
                _token(signing_key, f"{r.value}-user", one),
            ),
        ]

    def victims() -> Iterator[str]:
        for n in itertools.count():
            info, _ = create_key(store, principal=f"victim-{n}", roles=["auditor"], actor=root)
            yield info.id

    server, thread, url = start_server(settings, store)
    try:
        environment = {
            "BRIGHTLINE_DATABASE_URL": matrix_url,
            "BRIGHTLINE_DATA_DIR": str(settings.data_dir),
            "BRIGHTLINE_OIDC_ISSUER": ISSUER,
            "BRIGHTLINE_OIDC_AUDIENCE": "brightline",
            "BRIGHTLINE_OIDC_JWKS": str(settings.oidc_jwks),
            "BRIGHTLINE_ADMIN_RATE_PER_MINUTE": "1000000",
        }
        yield World(url, store, settings, people, victims(), environment, tmp_path)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


# -- the API ----------------------------------------------------------------------------------

DECISION = {
    "node": "sub-hq-mail",
    "service": "ai.speech",
    "operation": "transcribe",
    "region": "eastus",
}


def _api(method: str, path: str | Callable[[World], str], body: Any = None) -> Callable[..., int]:
    def call(http: httpx.Client, w: World) -> int:
        where = path(w) if callable(path) else path
        payload = body(w) if callable(body) else body
        return http.request(method, where, json=payload).status_code

    return call


def _proposal(w: World) -> dict[str, str]:
    rid = f"r-m{next(w.counter)}"
    return {"restrictions": f"id: {rid}\nscope: unit-9900\nactions: ['ai.*:*']\n"}


API: list[Probe] = [
    Probe(Action.LIST_CASES, call=_api("GET", "/v1/cases")),
    Probe(Action.VIEW_CASE, ASSIGNED_CASE, _api("GET", f"/v1/cases/{ASSIGNED_CASE}")),
    Probe(Action.VIEW_CASE, OTHER_CASE, _api("GET", f"/v1/cases/{OTHER_CASE}")),
    Probe(Action.VIEW_CASE, ASSIGNED_CASE, _api("GET", f"/v1/cases/{ASSIGNED_CASE}/timeline")),
    Probe(
        Action.SUBMIT_REPORT,
        call=_api(
            "POST",
            "/v1/reports",
            {
                "source": "journalist",
                "nodes": ["unit-9900"],
                "policies": ["mass-surveillance"],
                "summary": "s",
            },
        ),
    ),
    Probe(Action.OPEN_CASE, call=_api("POST", "/v1/cases", {"title": "t", "signals": ["S-1"]})),
    *(
        Probe(
            Action.ADD_FINDING,
            case,
            _api(
                "POST",
                f"/v1/cases/{case}/findings",
                {"policy": "mass-surveillance", "outcome": "substantiated", "rationale": "r"},
            ),
        )
        for case in (ASSIGNED_CASE, OTHER_CASE)
    ),
    Probe(
        Action.RECORD_APPEAL,
        ASSIGNED_CASE,
        _api("POST", f"/v1/cases/{ASSIGNED_CASE}/appeals", {"text": "t"}),
    ),
    Probe(Action.CLOSE, OTHER_CASE, _api("POST", f"/v1/cases/{OTHER_CASE}/close", {"text": "t"})),
    Probe(Action.LIST_RESTRICTIONS, call=_api("GET", "/v1/restrictions")),
    Probe(Action.LIST_RESTRICTIONS, call=_api("GET", f"/v1/restrictions/{ACTIVE}")),
    Probe(Action.PROPOSE_RESTRICTION, call=_api("POST", "/v1/restrictions", _proposal)),
    Probe(Action.APPROVE_RESTRICTION, call=_api("POST", f"/v1/restrictions/{PENDING}/approve")),
    Probe(
        Action.REJECT_RESTRICTION,
        call=_api("POST", f"/v1/restrictions/{PENDING}/reject", {"why": "no"}),
    ),
    Probe(
        Action.LIFT_RESTRICTION,
        call=_api("POST", f"/v1/restrictions/{ACTIVE}/lift", {"why": "done"}),
    ),
    Probe(Action.READ_BUNDLE, call=_api("GET", "/v1/bundles/current")),
    Probe(Action.REQUEST_DECISION, call=_api("POST", "/v1/decisions", DECISION)),
    Probe(
        Action.REQUEST_DECISION, call=_api("POST", "/v1/decisions/batch", {"requests": [DECISION]})
    ),
    Probe(
        Action.REPORT_DECISION_LOGS,
        call=_api(
            "POST",
            "/v1/decision-logs",
            lambda w: {"report_id": f"m{next(w.counter)}", "counts": []},
        ),
    ),
    Probe(Action.EXPORT_POLICY, call=_api("GET", "/v1/exports/cedar")),
    Probe(Action.VIEW_LEDGER, call=_api("GET", "/v1/ledger")),
    Probe(Action.VIEW_LEDGER, call=_api("GET", "/v1/ledger/entries/0/proof")),
    Probe(Action.DISCLOSE, call=_api("GET", "/v1/ledger/entries/0/disclosure")),
    Probe(Action.LIST_PRINCIPALS, call=_api("GET", "/v1/principals")),
    Probe(Action.GRANT_ROLES, call=_api("PUT", "/v1/principals/someone/roles/auditor")),
    Probe(Action.REVOKE_ROLES, call=_api("DELETE", "/v1/principals/someone/roles/auditor")),
    Probe(Action.LIST_KEYS, call=_api("GET", "/v1/keys")),
    Probe(
        Action.CREATE_KEY,
        call=_api("POST", "/v1/keys", {"principal": "someone", "roles": ["auditor"]}),
    ),
    Probe(Action.REVOKE_KEY, call=_api("POST", lambda w: f"/v1/keys/{next(w.victims)}/revoke")),
    Probe(Action.VIEW_OWN_RESTRICTIONS, call=_api("GET", "/v1/customer/restrictions")),
    Probe(Action.VIEW_OWN_RESTRICTIONS, call=_api("GET", f"/v1/customer/restrictions/{ACTIVE}")),
    # ACTIVE was decided on no case: a customer passes the gate and is refused (409).
    Probe(
        Action.FILE_APPEAL,
        call=_api("POST", f"/v1/customer/restrictions/{ACTIVE}/appeals", {"grounds": "g"}),
    ),
]


def _api_outcomes(w: World) -> dict[tuple[str, int], bool]:
    outcomes: dict[tuple[str, int], bool] = {}
    for who in w.people:
        headers = {"authorization": f"Bearer {who.token}"}
        with httpx.Client(base_url=w.url, headers=headers, timeout=30) as http:
            for n, probe in enumerate(API):
                status = probe.call(http, w)
                assert status not in (401, 500), (who.label, probe.action, status)
                outcomes[(who.label, n)] = status != 403
    return outcomes


def test_every_api_route_follows_the_table(world: World) -> None:
    outcomes = _api_outcomes(world)
    wrong = [
        f"{who.label}: {probe.action} ({probe.case or '-'}) "
        f"{'allowed' if outcomes[(who.label, n)] else 'denied'}, the table says "
        f"{'allowed' if probe.expected(who) else 'denied'}"
        for who in world.people
        for n, probe in enumerate(API)
        if outcomes[(who.label, n)] != probe.expected(who)
    ]
    assert not wrong, "\n".join(wrong)


# -- the console ------------------------------------------------------------------------------


def _page(path: str) -> Callable[..., int]:
    def call(http: httpx.Client, csrf: str, w: World) -> int:
        return http.get(path).status_code

    return call


def _form(path: str, data: Mapping[str, str] | None = None) -> Callable[..., int]:
    def call(http: httpx.Client, csrf: str, w: World) -> int:
        return http.post(path, data={"csrf": csrf, **(data or {})}).status_code

    return call


def _case_form(case: str, action: str, data: Mapping[str, str] | None = None) -> Probe:
    gate = {
        "assign": Action.ASSIGN,
        "start-review": Action.START_REVIEW,
        "task": Action.ADD_TASK,
        "finding": Action.ADD_FINDING,
        "pin-usage": Action.ADD_EVIDENCE,
        "decide-none": Action.DECIDE,
        "appeal": Action.RECORD_APPEAL,
        "appeal-decide": Action.DECIDE_APPEAL,
        "close": Action.CLOSE,
    }[action]
    return Probe(gate, case, _form(f"/console/cases/{case}/{action}", data))


CONSOLE: list[Probe] = [
    Probe(Action.LIST_CASES, call=_page("/console/cases")),
    Probe(Action.VIEW_CASE, ASSIGNED_CASE, _page(f"/console/cases/{ASSIGNED_CASE}")),
    Probe(Action.VIEW_CASE, OTHER_CASE, _page(f"/console/cases/{OTHER_CASE}")),
    Probe(Action.VIEW_ALERTS, call=_page("/console/alerts")),
    Probe(Action.TRIAGE_REPORTS, call=_page("/console/intake")),
    Probe(Action.TRIAGE_REPORTS, call=_form("/console/intake/S-1/reply", {"text": "t"})),
    Probe(Action.OPEN_CASE, call=_form("/console/alerts/open", {"alert": "A-ms-0001"})),
    *(
        _case_form(case, action, data)
        for case in (ASSIGNED_CASE, OTHER_CASE)
        for action, data in (
            ("assign", {"principal": "someone"}),
            ("start-review", None),
            ("task", {"title": "look"}),
            (
                "finding",
                {"policy": "mass-surveillance", "outcome": "substantiated", "rationale": "r"},
            ),
            ("pin-usage", None),
            ("decide-none", {"rationale": "r"}),
            ("appeal", {"grounds": "g"}),
            ("appeal-decide", {"outcome": "upheld", "rationale": "r"}),
        )
    ),
    Probe(
        Action.PLAN,
        ASSIGNED_CASE,
        _form(
            f"/console/cases/{ASSIGNED_CASE}/plan",
            {"restrictions": "id: r-plan\nscope: unit-9900\nactions: ['ai.*:*']\n"},
        ),
    ),
    _case_form(OTHER_CASE, "close", {"why": "done"}),
    Probe(Action.LIST_RESTRICTIONS, call=_page("/console/restrictions")),
    Probe(Action.LIST_RESTRICTIONS, call=_page(f"/console/restrictions/{ACTIVE}")),
    Probe(Action.APPROVE_RESTRICTION, call=_form(f"/console/restrictions/{PENDING}/approve")),
    Probe(
        Action.REJECT_RESTRICTION,
        call=_form(f"/console/restrictions/{PENDING}/reject", {"why": "no"}),
    ),
    Probe(
        Action.LIFT_RESTRICTION, call=_form(f"/console/restrictions/{ACTIVE}/lift", {"why": "done"})
    ),
    Probe(Action.READ_DIRECTORY, call=_page("/console/tree")),
    Probe(
        Action.REQUEST_DECISION,
        call=_page(
            "/console/tree/sub-hq-mail/test?service=ai.speech&operation=transcribe&region=eastus"
        ),
    ),
    Probe(Action.VIEW_LEDGER, call=_page("/console/ledger")),
    Probe(Action.VIEW_OWN_RESTRICTIONS, call=_page("/console/customer")),
    Probe(Action.FILE_APPEAL, call=_form(f"/console/customer/{ACTIVE}/appeal", {"grounds": "g"})),
]


def _sign_in(w: World, who: Who) -> tuple[httpx.Client, str] | None:
    http = httpx.Client(base_url=w.url, timeout=30, follow_redirects=False)
    form = http.get("/console/login")
    response = http.post(
        "/console/login",
        data={"login_token": login_token(form.text), "credential": who.token, "next": ""},
    )
    if response.status_code != 303:
        assert response.status_code == 403, (who.label, response.status_code)
        http.close()
        return None
    home = "/console/" if may(who.roles, Action.LIST_CASES) else CUSTOMER_HOME
    found = re.search(r'name="csrf" value="([^"]+)"', http.get(home).text)
    assert found is not None
    return http, found.group(1)


def test_every_console_page_and_form_follows_the_table(world: World) -> None:
    wrong = []
    for who in world.people:
        signed = _sign_in(world, who)
        signs_in = any(may(who.roles, action) for action in SIGN_IN)
        assert (signed is not None) == signs_in, who.label
        for probe in CONSOLE:
            expected = signs_in and probe.expected(who)
            if signed is None:
                allowed = False
            else:
                status = probe.call(signed[0], signed[1], world)
                assert status not in (401, 500), (who.label, probe.action, status)
                allowed = status != 403
            if allowed != expected:
                wrong.append(
                    f"{who.label}: {probe.action} ({probe.case or '-'}) "
                    f"{'allowed' if allowed else 'denied'}"
                )
        if signed is not None:
            signed[0].close()
    assert not wrong, "\n".join(wrong)


# -- the CLI ----------------------------------------------------------------------------------


#: The CLI's click command, built once (``CliRunner.invoke`` builds it on every call).
COMMAND = typer.main.get_command(app)


def _cli(*argv: str | Callable[[World], str]) -> Callable[..., int]:
    def call(runner: CliRunner, w: World) -> int:
        args = [a(w) if callable(a) else a for a in argv]
        # Any exception but the command's exit propagates: a traceback fails the test.
        with runner.isolation(env=runner.env):
            try:
                COMMAND.main(args=args, prog_name="brightline")
            except SystemExit as exit_:
                return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        return 0

    return call


def _restriction_file(w: World) -> str:
    path = w.scratch / f"r-c{next(w.counter)}.yaml"
    path.write_text(f"id: {path.stem}\nscope: unit-9900\nactions: ['ai.*:*']\n", encoding="utf-8")
    return str(path)


def _out(suffix: str) -> Callable[[World], str]:
    return lambda w: str(w.scratch / f"out-{next(w.counter)}{suffix}")


_FINDING = ("--policy", "mass-surveillance", "--outcome", "substantiated", "--rationale", "r")
_SHA = "ab" * 32

CLI: list[Probe] = [
    Probe(Action.LIST_CASES, call=_cli("case", "list")),
    *(
        probe
        for case in (ASSIGNED_CASE, OTHER_CASE)
        for probe in (
            Probe(Action.VIEW_CASE, case, _cli("case", "show", case)),
            Probe(Action.VIEW_CASE, case, _cli("case", "timeline", case)),
            Probe(Action.ASSIGN, case, _cli("case", "assign", case, "someone")),
            Probe(Action.START_REVIEW, case, _cli("case", "review", case)),
            Probe(
                Action.ADD_EVIDENCE,
                case,
                _cli(
                    "case",
                    "evidence",
                    "add",
                    case,
                    "--title",
                    "t",
                    "--document",
                    "contract",
                    "--sha256",
                    _SHA,
                ),
            ),
            Probe(Action.VIEW_USAGE, case, _cli("case", "usage", case)),
            Probe(
                Action.VIEW_USAGE_BREAKDOWN, case, _cli("case", "usage", case, "--purpose", "why")
            ),
            Probe(Action.ADD_TASK, case, _cli("case", "task", "add", case, "--title", "t")),
            Probe(Action.ADD_FINDING, case, _cli("case", "finding", "add", case, *_FINDING)),
            Probe(Action.RECORD_APPEAL, case, _cli("case", "appeal", case, "--grounds", "g")),
            Probe(
                Action.DECIDE_APPEAL,
                case,
                _cli("case", "appeal", case, "--outcome", "upheld", "--rationale", "r"),
            ),
            Probe(Action.EXPORT, case, _cli("case", "export", case, "--out", _out(".json"))),
        )
    ),
    Probe(
        Action.DECIDE,
        OTHER_CASE,
        _cli("case", "decide", OTHER_CASE, "--rationale", "r", "--no-restriction"),
    ),
    Probe(Action.VIEW_REPORTER, call=_cli("case", "reporter", "S-1")),
    Probe(
        Action.SUBMIT_REPORT,
        call=_cli(
            "report",
            "submit",
            "--node",
            "unit-9900",
            "--policy",
            "mass-surveillance",
            "--summary",
            "s",
        ),
    ),
    Probe(Action.OPEN_CASE, call=_cli("case", "open", "--title", "t", "--signal", "S-1")),
    Probe(Action.LIST_RESTRICTIONS, call=_cli("restrict", "list")),
    Probe(Action.LIST_RESTRICTIONS, call=_cli("restrict", "show", ACTIVE)),
    Probe(Action.PROPOSE_RESTRICTION, call=_cli("restrict", "propose", _restriction_file)),
    Probe(Action.PLAN, call=_cli("restrict", "plan", _restriction_file)),
    Probe(Action.APPROVE_RESTRICTION, call=_cli("restrict", "approve", PENDING)),
    Probe(Action.APPROVE_RESTRICTION, call=_cli("case", "approve", PENDING)),
    Probe(Action.REJECT_RESTRICTION, call=_cli("restrict", "reject", PENDING, "--why", "no")),
    Probe(Action.LIFT_RESTRICTION, call=_cli("restrict", "lift", ACTIVE, "--why", "w")),
    Probe(Action.IMPORT_WORLD, call=_cli("world", "import", str(EXAMPLE), "--dry-run")),
    Probe(Action.READ_DIRECTORY, call=_cli("world", "export", _out(""))),
    Probe(Action.READ_BUNDLE, call=_cli("snapshot", "--out", _out(".json"))),
    Probe(
        Action.REQUEST_DECISION, call=_cli("check", "sub-hq-mail", "ai.speech:transcribe", "eastus")
    ),
    Probe(Action.EXPORT_POLICY, call=_cli("export", "cedar", "--out", _out(""))),
    Probe(Action.VIEW_LEDGER, call=_cli("ledger", "status")),
    Probe(Action.DISCLOSE, call=_cli("ledger", "disclose", "0")),
    # Log 999 is not the current log: whoever passes the gate is refused as a conflict
    # (exit 4), and the matrix's log is never sealed.
    Probe(Action.SEAL_LEDGER, call=_cli("ledger", "seal-and-restart", "--log", "999")),
    Probe(
        Action.MANAGE_NOTIFICATIONS,
        call=_cli(
            "case",
            "notify",
            "add-contact",
            "--name",
            "n",
            "--channel",
            "smtp",
            "--target",
            "legal@provider.example",
        ),
    ),
    Probe(Action.VIEW_NOTIFICATIONS, call=_cli("case", "notify", "log")),
    Probe(Action.LIST_PRINCIPALS, call=_cli("principal", "list")),
    Probe(Action.GRANT_ROLES, call=_cli("principal", "grant", "someone", "auditor")),
    Probe(Action.REVOKE_ROLES, call=_cli("principal", "revoke", "someone", "auditor")),
    Probe(Action.LIST_KEYS, call=_cli("apikey", "list")),
    Probe(Action.CREATE_KEY, call=_cli("apikey", "create", "someone", "--role", "auditor")),
    Probe(Action.REVOKE_KEY, call=_cli("apikey", "revoke", lambda w: next(w.victims))),
    Probe(Action.CLOSE, OTHER_CASE, _cli("case", "close", OTHER_CASE, "--why", "w")),
]


def test_every_cli_command_follows_the_table(world: World) -> None:
    wrong = []
    # Each command opens the store: on PostgreSQL, every role and one principal of each
    # kind whose credential and grants disagree (SQLite runs them all).
    people = world.people
    if world.environment["BRIGHTLINE_DATABASE_URL"].startswith("postgresql"):
        people = [w for w in people if w.carried == w.granted or w.name.endswith("approver")]
    for who in people:
        variable = "BRIGHTLINE_OIDC_TOKEN" if who.name.startswith("oidc:") else "BRIGHTLINE_API_KEY"
        runner = CliRunner(env={**world.environment, variable: who.token})
        for probe in CLI:
            code = probe.call(runner, world)
            assert code != 8, (who.label, probe.action, "credential refused")
            allowed = code != 7
            if allowed != probe.expected(who):
                wrong.append(f"{who.label}: {probe.action} ({probe.case or '-'}) exit {code}")
    assert not wrong, "\n".join(wrong)


# -- the table itself ---------------------------------------------------------------------------


def test_every_action_is_tried_on_some_way_in() -> None:
    tried = {p.action for p in (*API, *CONSOLE, *CLI)}
    assert set(Action) - tried == STEPS_OF_OTHERS


#: Actions that are a step of another (a promotion is a proposal of an id in force as a
#: dry-run, the guard's approval the first approval of a proposal over the limits): the
#: service checks them after the gate of the action they are part of
#: (tests/api/test_access_findings.py, tests/service/test_access_rules.py).
STEPS_OF_OTHERS = {Action.GUARD_APPROVE, Action.PROMOTE_RESTRICTION}


def test_admin_manages_keys_and_grants_only() -> None:
    allowed = {a for a in Action if may({Role.ADMIN}, a)}
    assert allowed == {
        Action.IMPORT_WORLD,
        Action.LIST_PRINCIPALS,
        Action.GRANT_ROLES,
        Action.REVOKE_ROLES,
        Action.LIST_KEYS,
        Action.CREATE_KEY,
        Action.REVOKE_KEY,
        Action.SEAL_LEDGER,
    }


def test_a_customer_only_reads_and_appeals_its_own() -> None:
    allowed = {a for a in Action if may({Role.CUSTOMER}, a)}
    assert allowed == {Action.VIEW_OWN_RESTRICTIONS, Action.FILE_APPEAL}
    assert not any(may(_STAFF_ROLES, a) for a in allowed)


_STAFF_ROLES = frozenset(Role) - {Role.CUSTOMER}


def test_no_role_outside_the_table() -> None:
    assert set(PERMISSIONS) == set(Action)
    assert all(roles <= set(Role) for roles in PERMISSIONS.values())


def test_authenticator_agrees_with_the_oracle(world: World) -> None:
    auth = Authenticator(world.store, world.settings)
    for who in world.people:
        if who.name.startswith("oidc:"):
            continue
        assert auth.principal_for(who.token).roles == who.roles, who.label


def test_the_documented_table_is_the_table() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "access.md").read_text(encoding="utf-8")
    table = doc.split("| action |", 1)[1].split("\n\n", 1)[0]
    header = "| action |" + table.splitlines()[0]
    rows = {
        line.split("|")[1].strip().strip("`"): [c.strip() for c in line.split("|")[2:-1]]
        for line in table.splitlines()
        if line.startswith("| `")
    }
    roles = [Role(c.strip()) for c in header.split("|")[2:-1]]
    documented = {
        Action(a): frozenset(r for r, cell in zip(roles, cells, strict=True) if cell)
        for a, cells in rows.items()
    }
    assert documented == dict(PERMISSIONS)
