"""``brightline check --requests FILE --out FILE``: every row decided or named as an error.

Real files through the real command: CSV as people write it (quotes, a byte-order mark,
extra columns, blank lines, line breaks inside quotes), Parquet, and files large enough
that a bad row sits in a late batch.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from brightline.cli import app
from brightline.errors import InvalidInputError
from brightline.policy import Request
from brightline.service.offline import load_world_dir
from tmpfs import Tmpfs

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"
AT_ARGS = ("--at", "2025-10-01T00:00:00Z")
HEADER = "node,service,operation,region,time\n"
DENIED = "sub-9900-archive,storage.blob,write,westeurope,2025-10-01T12:00:00Z\n"
ALLOWED = "sub-hq-mail,storage.blob,write,westeurope,2025-10-01T12:00:00Z\n"
runner = CliRunner()


def decide(source: Path, out: Path) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        ["check", "--world", str(EXAMPLE), "--requests", str(source), "--out", str(out), *AT_ARGS],
    )
    return result.exit_code, result.stdout, result.stderr


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_quoted_fields_and_extra_columns_pass_through_unchanged(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "ticket,node,service,operation,region,note\n"
        '"T-1","sub-9900-archive","storage.blob","write","westeurope","a, b and ""c"""\n'
        "T-2,sub-hq-mail,storage.blob,write,westeurope,007\n"
    )
    out = tmp_path / "out.csv"
    code, _, err = decide(source, out)
    assert code == 0, err
    rows = read_rows(out)
    assert [r["ticket"] for r in rows] == ["T-1", "T-2"]
    assert rows[0]["note"] == 'a, b and "c"'
    assert rows[1]["note"] == "007"  # text, not a number
    assert [r["decision"] for r in rows] == ["deny", "allow"]


def test_a_byte_order_mark_before_the_header_is_read_as_nothing(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(("\ufeff" + HEADER + DENIED).encode("utf-8"))
    out = tmp_path / "out.csv"
    code, _, err = decide(source, out)
    assert code == 0, err
    rows = read_rows(out)
    assert next(iter(rows[0])) == "node"
    assert rows[0]["decision"] == "deny"


def test_header_names_are_trimmed(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("node, service ,operation,region\n" + DENIED.rsplit(",", 1)[0] + "\n")
    out = tmp_path / "out.csv"
    code, _, err = decide(source, out)
    assert code == 0, err
    assert pacsv.read_csv(out).column("decision").to_pylist() == ["deny"]


def test_unknown_names_and_missing_values_are_errors_never_allows(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        HEADER
        + "ghost,storage.blob,write,westeurope,\n"
        + "sub-9900-archive,storage.nope,write,westeurope,\n"
        + "sub-9900-archive,storage.blob,fly,westeurope,\n"
        + "sub-9900-archive,storage.blob,write,mars,\n"
        + ",storage.blob,write,westeurope,\n"
        + "sub-9900-archive,storage.blob,write,westeurope,soon\n"
    )
    out = tmp_path / "out.csv"
    code, stdout, err = decide(source, out)
    assert code == 0, err
    table = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    assert table.column("decision").to_pylist() == ["error"] * 6
    assert table.column("error").to_pylist() == [
        "unknown node 'ghost'",
        "unknown service 'storage.nope'",
        "unknown operation 'fly' for service 'storage.blob'",
        "unknown region 'mars'",
        "missing node",
        "invalid time 'soon' (RFC 3339 with a zone, e.g. 2025-10-01T12:00:00Z)",
    ]
    assert "0 allow, 0 deny, 6 error" in " ".join(stdout.split())
    assert f"{source}:2: node: unknown node 'ghost'" in err
    assert f"{source}:4: operation: unknown operation 'fly'" in err
    assert f"{source}:7: time: invalid time 'soon'" in err


def test_a_bad_row_in_a_late_batch_is_named_by_its_line(tmp_path: Path) -> None:
    rows = [ALLOWED, DENIED] * 60_000  # about 8 MB: several batches
    rows[100_001] = "sub-9900-archive,storage.blob,write,mars,2025-10-01T12:00:00Z\n"
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "".join(rows))
    out = tmp_path / "out.csv"
    code, stdout, err = decide(source, out)
    assert code == 0, err
    assert "120000 requests decided" in stdout
    assert f"{source}:100003: region: unknown region 'mars'" in err
    table = pacsv.read_csv(out)
    assert table.num_rows == 120_000
    assert table.column("error")[100_001].as_py() == "unknown region 'mars'"
    assert table.column("decision").to_pylist().count("deny") == 59_999


def test_blank_lines_and_quoted_line_breaks_keep_line_numbers_true(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "node,service,operation,region,note\n"
        'sub-hq-mail,storage.blob,write,westeurope,"two\nlines"\n'
        "\n"
        "sub-hq-mail,storage.blob,write,westeurope,plain\n"
        "ghost,storage.blob,write,westeurope,late\n"
    )
    out = tmp_path / "out.csv"
    code, _, err = decide(source, out)
    assert code == 0, err
    assert f"{source}:6: node: unknown node 'ghost'" in err
    rows = read_rows(out)
    assert [r["note"] for r in rows] == ["two\nlines", "plain", "late"]


def test_a_row_with_the_wrong_number_of_fields_refuses_the_file_naming_its_line(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + DENIED * 3 + "sub-hq-mail,storage.blob,write\n" + DENIED)
    out = tmp_path / "out.csv"
    code, _, err = decide(source, out)
    assert code == 2
    assert f"{source}:5: 3 field(s), the header names 5" in " ".join(err.split())
    assert not out.exists()


def test_text_that_is_not_utf8_refuses_the_file_naming_its_line(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes((HEADER + DENIED).encode() + b"sub-hq-mail,storage.blob,wr\xffte,eu,\n")
    code, _, err = decide(source, tmp_path / "out.csv")
    assert code == 2
    assert f"{source}:3: not UTF-8 text" in " ".join(err.split())


def test_a_parquet_file_names_a_bad_row_by_its_number(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    nodes = ["sub-hq-mail"] * 300_000
    nodes[250_000] = "ghost"
    table = pa.table(
        {
            "node": nodes,
            "service": ["storage.blob"] * len(nodes),
            "operation": ["write"] * len(nodes),
            "region": ["westeurope"] * len(nodes),
            "time": pa.array([datetime(2025, 10, 1, 12, tzinfo=UTC)] * len(nodes)),
        }
    )
    pq.write_table(table, source, row_group_size=100_000)
    out = tmp_path / "out.parquet"
    code, _, err = decide(source, out)
    assert code == 0, err
    assert f"{source}: row 250001: node: unknown node 'ghost'" in err
    assert pq.read_schema(out).field("node").type == pa.string()  # as stored, not as read
    result = pq.read_table(out, columns=["decision"]).column("decision").to_pylist()
    assert result.count("allow") == 299_999
    assert result[250_000] == "error"


def test_a_parquet_column_of_numbers_is_refused_not_taken_for_codes(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(
        pa.table(
            {"node": [0], "service": ["storage.blob"], "operation": ["write"], "region": ["eu"]}
        ),
        source,
    )
    code, _, err = decide(source, tmp_path / "out.parquet")
    assert code == 2
    assert f"{source}: column node: expected text, got int64" in " ".join(err.split())


def test_a_header_alone_gives_an_empty_output_with_every_column(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("node,service,operation,region,ticket\n")
    out = tmp_path / "out.csv"
    code, stdout, err = decide(source, out)
    assert code == 0, err
    assert out.read_text().splitlines()[0].replace('"', "").split(",") == [
        "node",
        "service",
        "operation",
        "region",
        "ticket",
        "decision",
        "restrictions",
        "would_deny",
        "error",
    ]
    assert "0 requests decided" in stdout


def test_deciding_a_file_loads_no_store_server_or_pandas(tmp_path: Path) -> None:
    """The command starts lean: what it does not use is not imported."""
    source = tmp_path / "in.csv"
    source.write_text(HEADER + DENIED + "ghost,storage.blob,write,mars,soon\n")
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: print(sorted(m for m in ('pandas', 'sqlalchemy', 'fastapi',"
        " 'duckdb', 'uvicorn', 'pyspark') if m in sys.modules)))\n"
        "from brightline.cli import main\n"
        "sys.argv[0] = 'brightline'\n"
        "main()\n"
    )
    args = ["check", "--world", str(EXAMPLE), "--requests", str(source)]
    args += ["--out", str(tmp_path / "out.csv")]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


NODES = ["sub-9900-archive", "sub-9900-rescue", "sub-hq-mail", "unit-9900", "ghost", ""]
SERVICES = [("storage.blob", "write"), ("ai.vision", "analyze"), ("ai.speech", "fly")]
REGIONS = ["westeurope", "eastus", "mars"]
TIMES = ["2025-09-20T12:00:00Z", "2025-10-01T12:00:00+02:00", "", "yesterday"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(0, 40))
def test_every_row_is_decided_as_the_single_decision_would(
    tmp_path: Path, seed: int, count: int
) -> None:
    rng = random.Random(seed)
    rows = [
        (rng.choice(NODES), *rng.choice(SERVICES), rng.choice(REGIONS), rng.choice(TIMES))
        for _ in range(count)
    ]
    source = tmp_path / f"in-{seed}-{count}.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["node", "service", "operation", "region", "time"])
        writer.writerows(rows)
    out = tmp_path / f"out-{seed}-{count}.csv"
    code, _, err = decide(source, out)
    assert code == 0, err
    decided = read_rows(out)
    snapshot = load_world_dir(EXAMPLE).snapshot()
    default = datetime(2025, 10, 1, tzinfo=UTC)
    for (node, service, operation, region, time), row in zip(rows, decided, strict=True):
        try:
            moment = datetime.fromisoformat(time) if time else default
            expected = snapshot.decide(Request.checked(node, service, operation, region, moment))
        except ValueError:
            assert row["decision"] == "error"
            continue
        except InvalidInputError:  # an unknown or missing name: an error, never an allow
            assert row["decision"] == "error"
            assert row["error"]
            continue
        assert row["decision"] == expected.effect.value
        assert row["restrictions"] == ";".join(expected.matched)
        assert row["would_deny"] == ";".join(expected.would_deny)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_output_of_an_empty_file_is_readable(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER)
    out = tmp_path / f"out{suffix}"
    code, _, err = decide(source, out)
    assert code == 0, err
    table = pacsv.read_csv(out) if suffix == ".csv" else pq.read_table(out)
    assert table.num_rows == 0
    assert "decision" in table.column_names


def test_a_disk_that_fills_while_writing_leaves_no_output_and_says_why(
    tmpfs: Tmpfs, tmp_path: Path
) -> None:
    """The output (about 5 MB here) outgrows a 2 MiB file system part-way through."""
    source = tmp_path / "in.csv"
    source.write_text(HEADER + DENIED * 50_000)
    out = tmpfs.path / "out.csv"
    code, _, err = decide(source, out)
    assert code == 9, err
    assert "No space left on device" in err
    assert "Traceback" not in err
    assert list(tmpfs.path.iterdir()) == []
