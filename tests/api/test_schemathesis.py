"""Schemathesis over the whole OpenAPI schema, with valid credentials, against the live
server: no 5xx and no response that breaks the schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from api.conftest import Live


def test_schemathesis_finds_no_server_errors_or_schema_violations(live: Live) -> None:
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{live.url}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--header",
            f"Authorization: Bearer {live.keys['admin']}",
            "--max-examples",
            "30",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
