"""The README's `make run`: the server it starts decides the example requests exactly as
`brightline check --world examples/world` printed them just before, and its console and
ledger show the example's restrictions as a recorded bootstrap."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from brightline.cli import app
from brightline.service.ledger import disclose, ledger_status
from brightline.service.store_audit import audit_store
from brightline.store import open_store
from serving import serving

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "world"
REQUESTS = ROOT / "examples" / "requests.csv"


@dataclass
class Served:
    url: str
    admin_key: str
    output: Path
    database: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`brightline serve --world examples/world` on an empty store, as `make run` starts it
    (in a process of its own, in an empty working directory)."""
    database = f"sqlite:///{tmp_path / 'brightline.db'}"
    env = {
        "BRIGHTLINE_DATABASE_URL": database,
        "BRIGHTLINE_DATA_DIR": str(tmp_path / "brightline-data"),
        "COLUMNS": "2000",
    }
    output = tmp_path / "serve.log"
    with serving(["--world", str(EXAMPLE)], env=env, log=output, cwd=tmp_path) as server:
        found = re.search(r"admin API key \(shown once, store it now\): (\S+)", output.read_text())
        assert found is not None, output.read_text()
        yield Served(server.url, found.group(1), output, database)


def _checked() -> list[dict[str, object]]:
    """What `make run` prints before it starts the server, as JSON."""
    result = CliRunner().invoke(
        app, ["check", "--world", str(EXAMPLE), "--requests", str(REQUESTS), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    return [json.loads(chunk) for chunk in result.stdout.replace("}\n{", "}\x00{").split("\x00")]


def test_the_server_make_run_starts_decides_as_check_did(served: Served) -> None:
    with REQUESTS.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = _checked()
    assert len(expected) == len(rows)
    assert {e["effect"] for e in expected} >= {"allow", "deny"}
    headers = {"Authorization": f"Bearer {served.admin_key}"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=30) as client:
        for row, want in zip(rows, expected, strict=True):
            body = {k: v for k, v in row.items() if v}
            answer = client.post("/v1/decisions", json=body)
            assert answer.status_code == 200, answer.text
            got = answer.json()
            assert (got["effect"], got["restrictions"], got["would_deny"]) == (
                want["effect"],
                want["matched"],
                want["would_deny"],
            ), row


def test_the_example_restrictions_are_a_recorded_bootstrap(served: Served) -> None:
    log = served.output.read_text()
    assert "put in force as a recorded bootstrap" in log, log
    headers = {"Authorization": f"Bearer {served.admin_key}"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=30) as client:
        listed = client.get("/v1/restrictions").json()
        assert {r["id"]: r["status"] for r in listed} == {
            "r-0001": "in-force",
            "r-0002": "in-force",
        }
        shown = client.get("/v1/restrictions/r-0001").json()
        assert [e["kind"] for e in shown["events"]] == ["bootstrapped"]
        assert "without proposal or four-eyes approval" in shown["events"][0]["why"]
        # The console lists them too.
        form = client.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token is not None
        signed_in = client.post(
            "/console/login",
            data={"login_token": token.group(1), "credential": served.admin_key, "next": ""},
        )
        assert signed_in.status_code == 303, signed_in.text
        page = client.get("/console/restrictions")
        assert page.status_code == 200
        assert "r-0001" in page.text
        assert "r-0002" in page.text
    with open_store(served.database, migrate=False) as store:
        types = [disclose(store, i).event_type for i in range(ledger_status(store).size)]
        audited = audit_store(store)  # the bootstrap is the store's history, as logged
    assert types.count("restriction.bootstrapped") == 2
    assert "restriction.approved" not in types
    assert audited.entries == len(types)
