from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from brightline.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
REQUESTS = Path(__file__).parents[2] / "examples" / "requests.csv"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_prints_decision_and_explanation() -> None:
    code, out, _ = run(
        "check",
        "--world",
        str(EXAMPLE),
        "sub-9900-archive",
        "storage.blob:write",
        "westeurope",
        "--at",
        "2025-10-01T12:00:00Z",
    )
    assert code == 0
    assert out.startswith("DENY")
    assert "r-0001" in out


def test_check_json() -> None:
    code, out, _ = run(
        "check",
        "--world",
        str(EXAMPLE),
        "sub-9900-rescue",
        "storage.blob:write",
        "westeurope",
        "--at",
        "2025-10-01T12:00:00Z",
        "--json",
    )
    assert code == 0
    record = json.loads(out)
    assert record["effect"] == "allow"
    assert record["matched"] == []
    assert record["request"]["node"] == "sub-9900-rescue"
    assert "exempt" in record["explanation"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ghost", "storage.blob:write", "westeurope"), "unknown node 'ghost'"),
        (("sub-hq-mail", "storage.blob", "westeurope"), "expected service:operation"),
        (("sub-hq-mail", "storage.blob:write", "mars"), "unknown region 'mars'"),
    ],
)
def test_check_unknowns_exit_2_with_a_clear_message(args: tuple[str, ...], message: str) -> None:
    code, _, err = run("check", "--world", str(EXAMPLE), *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_check_bad_time_is_refused() -> None:
    code, _, err = run(
        "check",
        "--world",
        str(EXAMPLE),
        "sub-hq-mail",
        "storage.blob:write",
        "westeurope",
        "--at",
        "2025-10-01T12:00:00",
    )
    assert code == 2
    assert "zone" in err


def test_requests_file_to_csv(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        REQUESTS.read_text()
        + "ghost,storage.blob,write,westeurope,2025-10-01T12:00:00Z\n"
        + "sub-hq-mail,storage.blob,write,westeurope,yesterday\n"
        + "sub-9900-archive,storage.blob,write,westeurope,\n"
    )
    out = tmp_path / "out.csv"
    code, stdout, err = run(
        "check",
        "--world",
        str(EXAMPLE),
        "--requests",
        str(source),
        "--out",
        str(out),
        "--at",
        "2025-10-01T00:00:00Z",
    )
    assert code == 0, err
    rows = pacsv.read_csv(out).to_pylist()
    assert len(rows) == 11
    assert [r["decision"] for r in rows] == [
        "deny",
        "deny",
        "allow",
        "allow",
        "allow",
        "allow",
        "allow",
        "allow",
        "error",
        "error",
        "deny",
    ]
    assert rows[0]["restrictions"] == "r-0001"
    assert rows[6]["would_deny"] == "r-0002"
    assert rows[8]["error"] == "unknown node 'ghost'"
    assert "invalid time 'yesterday'" in rows[9]["error"]
    assert "11 requests decided" in stdout


def test_requests_file_parquet_round_trip(tmp_path: Path) -> None:
    table = pacsv.read_csv(
        REQUESTS, convert_options=pacsv.ConvertOptions(column_types={"time": pa.string()})
    )
    table = table.set_column(
        4, "time", table.column("time").cast(pa.timestamp("us", tz="UTC"))
    ).append_column("ticket", pa.array(range(table.num_rows)))
    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    out = tmp_path / "out.parquet"
    code, _, err = run(
        "check", "--world", str(EXAMPLE), "--requests", str(source), "--out", str(out)
    )
    assert code == 0, err
    result = pq.read_table(out)
    assert result.column("ticket").to_pylist() == list(range(table.num_rows))
    assert result.column("decision").to_pylist()[:2] == ["deny", "deny"]


def test_requests_file_missing_columns(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("node,service,operation\nsub-hq-mail,storage.blob,read\n")
    code, _, err = run(
        "check",
        "--world",
        str(EXAMPLE),
        "--requests",
        str(source),
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert code == 2
    assert "missing column(s): region" in err
    assert not (tmp_path / "o.csv").exists()


def test_requests_file_printed_without_out() -> None:
    code, out, _ = run("check", "--world", str(EXAMPLE), "--requests", str(REQUESTS))
    assert code == 0
    assert out.count("DENY") == 2
    assert out.count("ALLOW") == 6


def test_validate_ok() -> None:
    code, out, _ = run("validate", "--world", str(EXAMPLE))
    assert code == 0
    assert "20 nodes" in out


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    world = tmp_path / "w"
    shutil.copytree(EXAMPLE, world)
    with (world / "directory.jsonl").open("a") as handle:
        handle.write('{"id": "x", "parent": "ghost", "kind": "unit"}\n{broken\n')
    (world / "restrictions.yaml").write_text("- {id: r, scope: x, actions: ['*:*'], colour: red}\n")
    code, _, err = run("validate", "--world", str(world))
    assert code == 2
    assert "3 problems" in err
    assert "directory.jsonl:22: malformed JSON" in err
    assert "directory.jsonl:21: node 'x' has unknown parent 'ghost'" in err
    assert "restrictions.yaml:1: [0].colour: unknown field" in err


def test_validate_reports_structure_after_json(tmp_path: Path) -> None:
    world = tmp_path / "w"
    shutil.copytree(EXAMPLE, world)
    with (world / "directory.jsonl").open("a") as handle:
        handle.write('{"id": "x", "parent": "ghost", "kind": "unit"}\n')
        handle.write('{"id": "sub-hq-mail", "parent": null, "kind": "unit"}\n')
    code, _, err = run("validate", "--world", str(world))
    assert code == 2
    assert "directory.jsonl:21: node 'x' has unknown parent 'ghost'" in err
    assert "directory.jsonl:22: duplicate node id 'sub-hq-mail'" in err


@pytest.mark.parametrize("file", ["restrictions.yaml", "catalog.yaml", "directory.jsonl"])
def test_validate_refuses_a_file_nested_20000_deep_in_one_line(tmp_path: Path, file: str) -> None:
    world = tmp_path / "w"
    shutil.copytree(EXAMPLE, world)
    (world / file).write_text("[" * 20_000 + "\n")
    code, _, err = run("validate", "--world", str(world))
    assert code == 2
    assert err.strip().splitlines() == [f"error: {file}:1: nested deeper than 64 levels"]


def test_export_cedar(tmp_path: Path) -> None:
    code, _, _ = run("export", "cedar", "--world", str(EXAMPLE), "--out", str(tmp_path))
    assert code == 0
    assert (tmp_path / "policies.cedar").is_file()


def test_a_bad_time_in_a_requests_file_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "node,service,operation,region,time\n"
        "sub-9900-archive,storage.blob,write,westeurope,2025-10-01T12:00:00Z\n"
        "sub-9900-archive,storage.blob,write,westeurope,2025-10-01T12:00:00\n"
        "ghost,storage.blob,write,westeurope,2025-10-01T12:00:00Z\n"
    )
    code, out, err = run(
        "check",
        "--world",
        str(EXAMPLE),
        "--requests",
        str(source),
        "--json",
        "--at",
        "2025-10-01T00:00:00Z",
    )
    assert code == 0, err
    assert "--at" not in out
    records = [json.loads(chunk) for chunk in out.replace("}\n{", "}\x00{").split("\x00")]
    assert records[0]["effect"] == "deny"
    assert records[1]["error"] == (
        f"{source}:3: time: time '2025-10-01T12:00:00' must carry a zone, e.g. 2025-10-01T12:00:00Z"
    )
    assert records[2]["error"] == f"{source}:4: node: unknown node 'ghost'"


def test_a_parquet_file_of_zone_less_timestamps_is_named(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    table = pa.table(
        {
            "node": ["sub-9900-archive"],
            "service": ["storage.blob"],
            "operation": ["write"],
            "region": ["westeurope"],
            "time": pa.array([1_759_320_000_000_000], pa.timestamp("us")),
        }
    )
    pq.write_table(table, source)
    code, _, err = run("check", "--world", str(EXAMPLE), "--requests", str(source))
    assert code == 2
    assert f"{source}: column time: timestamps must be timezone-aware" in " ".join(err.split())
