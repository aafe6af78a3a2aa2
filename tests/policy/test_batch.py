from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.errors import InvalidInputError, UnknownReferenceError
from brightline.policy import BatchError, Request, Snapshot, to_micros
from worldgen import Scenario, scenarios


def single(snapshot: Snapshot, request: Request) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    try:
        d = snapshot.decide(request)
    except UnknownReferenceError:
        return ("error", (), ())
    return (d.effect.value, d.matched, d.would_deny)


def batch_rows(result, n: int) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    effects = result.effects()
    return [(effects[i], result.matched_ids(i), result.would_deny_ids(i)) for i in range(n)]


def as_columns(requests: tuple[Request, ...], encoding: str, snapshot: Snapshot) -> dict:
    names = {
        f: [getattr(r, f) for r in requests] for f in ("node", "service", "operation", "region")
    }
    times = np.array([to_micros(r.at) for r in requests], dtype=np.int64)
    if encoding == "strings":
        cols = {k: pa.array(v, pa.string()) for k, v in names.items()}
    elif encoding == "dictionary":
        cols = {k: pa.array(v, pa.string()).dictionary_encode() for k, v in names.items()}
    elif encoding == "python":
        cols = dict(names)
    else:  # integer codes in the snapshot's encoding; unknown names get an out-of-range code
        arrays = snapshot.batch_arrays
        tables = {
            "node": arrays.node_codes,
            "service": arrays.service_codes,
            "operation": arrays.operation_codes,
            "region": arrays.region_codes,
        }
        cols = {
            k: np.array([tables[k].get(x, 10_000) for x in v], dtype=np.int32)
            for k, v in names.items()
        }
    cols["time"] = (
        pa.array(times, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        if encoding == "strings"
        else times
    )
    return cols


@settings(max_examples=200, deadline=None)
@given(scenarios(unknown=True), st.sampled_from(["strings", "dictionary", "codes", "python"]))
def test_batch_equals_single_decisions(scenario: Scenario, encoding: str) -> None:
    snapshot = scenario.snapshot()
    expected = [single(snapshot, r) for r in scenario.requests]
    result = snapshot.decide_batch(as_columns(scenario.requests, encoding, snapshot))
    assert batch_rows(result, len(scenario.requests)) == expected


@settings(max_examples=50, deadline=None)
@given(scenarios())
def test_arrow_output_joins_ids(scenario: Scenario) -> None:
    snapshot = scenario.snapshot()
    result = snapshot.decide_batch(as_columns(scenario.requests, "strings", snapshot))
    table = result.to_arrow()
    for i, request in enumerate(scenario.requests):
        decision = snapshot.decide(request)
        assert table.column("decision")[i].as_py() == decision.effect.value
        assert table.column("restrictions")[i].as_py() == ";".join(decision.matched)
        assert table.column("would_deny")[i].as_py() == ";".join(decision.would_deny)
        assert table.column("error")[i].as_py() is None


def test_error_rows_name_the_unknown_value(example_snapshot: Snapshot) -> None:
    result = example_snapshot.decide_batch(
        {
            "node": ["sub-hq-mail", "ghost", "sub-hq-mail", "sub-hq-mail", None],
            "service": ["storage.blob", "storage.blob", "storage.blob", "nope.x", "storage.blob"],
            "operation": ["read", "read", "fly", "read", "read"],
            "region": ["westeurope", "westeurope", "westeurope", "westeurope", "westeurope"],
        },
        at=datetime(2025, 10, 1, tzinfo=UTC),
    )
    assert result.effects() == ["allow", "error", "error", "error", "error"]
    assert result.error.tolist() == [
        BatchError.NONE,
        BatchError.NODE,
        BatchError.OPERATION,
        BatchError.SERVICE,
        BatchError.NODE,
    ]
    assert result.error_message(1) == "unknown node 'ghost'"
    assert result.error_message(2) == "unknown operation 'fly' for service 'storage.blob'"
    assert result.error_message(4) == "missing node"


def test_missing_time_without_default_is_an_error(example_snapshot: Snapshot) -> None:
    result = example_snapshot.decide_batch(
        {
            "node": ["sub-hq-mail"],
            "service": ["ai.speech"],
            "operation": ["transcribe"],
            "region": ["eastus"],
        }
    )
    assert result.effects() == ["error"]
    assert result.error_message(0) == "missing or invalid time"


def test_missing_column_is_refused(example_snapshot: Snapshot) -> None:
    with pytest.raises(InvalidInputError, match="region"):
        example_snapshot.decide_batch({"node": [], "service": [], "operation": []})


def test_naive_timestamps_are_refused(example_snapshot: Snapshot) -> None:
    with pytest.raises(InvalidInputError, match="timezone"):
        example_snapshot.decide_batch(
            {
                "node": ["sub-hq-mail"],
                "service": ["ai.speech"],
                "operation": ["transcribe"],
                "region": ["eastus"],
                "time": pa.array([datetime(2025, 1, 1)], pa.timestamp("us")),
            }
        )
