"""Reports released one after another: each is recorded, k is the deployment's, and each
later report is suppressed with the earlier ones, as its report.json states and a verifier
checks."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from brightline.errors import ConflictError, InvalidInputError
from brightline.ledger import read_entries, verify_tile_dir
from brightline.service.ledger import LedgerKeys, sync
from brightline.service.private_figures import disclose_release
from brightline.service.transparency import (
    verify_transparency_report,
    write_transparency_report,
)
from brightline.store import Store, append_outbox
from brightline.store.releases import RELEASED, outbox_of_type, released_reports
from transparency.scenario import NOW, PERIOD, seed, settings_for


def _write(store: Store, settings: object, out: Path, **kw: object) -> Path:
    write_transparency_report(
        store,
        settings=settings,  # type: ignore[arg-type]
        period_from=kw.pop("period_from", PERIOD[0]),  # type: ignore[arg-type]
        period_to=kw.pop("period_to", PERIOD[1]),  # type: ignore[arg-type]
        out_dir=out,
        tiles_dir=out / "tiles",
        now=NOW,
        **kw,  # type: ignore[arg-type]
    )
    return out


def test_each_report_is_recorded_and_published_as_its_type_and_time(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "first")
    with store.read() as session:
        (record,) = [r.data() for r in released_reports(session)]
    suppression = record["suppression"]
    manifest = json.loads((out / "report.json").read_text())
    assert manifest["series"] == []
    assert suppression["release"]["k"] == 3
    assert suppression["release"]["from"] == "2025-10-01"
    hidden = suppression["release"]["hidden"]
    assert hidden
    assert all(cell[3] in ("< 3", "suppressed") for cell in hidden)
    by_policy = next(t for t in manifest["tables"] if t["name"] == "restrictions-by-policy")
    assert suppression["tables"]["restrictions-by-policy"] == by_policy["rows"]
    assert suppression["in_force"] == ["R-1", "R-2"]  # public references, never ids

    sync(settings, store)  # the release is logged: its type and time, nothing else
    second = _write(store, settings, tmp_path / "second")
    checkpoint = verify_tile_dir(second / "tiles", LedgerKeys.of(settings).verifier())
    forms = [json.loads(e) for e in read_entries(second / "tiles", checkpoint.size)]
    # The first report's two releases (its private figures, then its series release) and
    # the second's private figures: each its type, day and commitment, nothing else.
    logged = [f for f in forms if f["type"] == "transparency.released"]
    assert len(logged) == 3
    assert all(f["public"] == {} for f in logged)
    assert "R-1" not in json.dumps(logged)


def test_a_later_report_states_the_earlier_ones_and_verifies(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)
    first = _write(store, settings, tmp_path / "october")
    quarter = _write(
        store,
        settings,
        tmp_path / "quarter",
        period_from=date(2025, 10, 1),
        period_to=date(2025, 12, 31),
    )
    again = _write(store, settings, tmp_path / "again")
    verifier = LedgerKeys.of(settings).verifier()
    for out in (first, quarter, again):
        result = verify_transparency_report(out, out / "tiles", verifier=verifier)
        assert result.ok, result.problems
        assert not any("transparency releases" in w for w in result.warnings)
    stated = json.loads((again / "report.json").read_text())["series"]
    assert [(s["from"], s["to"]) for s in stated] == [
        ("2025-10-01", "2025-10-31"),
        ("2025-10-01", "2025-12-31"),
    ]
    # The same period again: the very same cells.
    for name in ("restrictions-by-policy", "restrictions-by-sector"):
        table = f"tables/{name}.json"
        assert (again / table).read_bytes() == (first / table).read_bytes()

    # A report that leaves out what came before it does not verify, and says why.
    manifest = json.loads((again / "report.json").read_text())
    manifest["series"] = []
    (again / "report.json").write_text(json.dumps(manifest, indent=2) + "\n")
    result = verify_transparency_report(again, again / "tiles", verifier=verifier)
    assert not result.ok
    assert any("transparency releases" in w for w in result.warnings)

    # Nor does one that states an earlier report hid what the log says it cannot have.
    manifest["series"] = [
        dict(stated[0], hidden=[["restrictions-by-policy", "x", "imposed", "< 3"]])
    ]
    (again / "report.json").write_text(json.dumps(manifest, indent=2) + "\n")
    result = verify_transparency_report(again, again / "tiles", verifier=verifier)
    assert not result.ok
    assert result.problems[0].startswith("report.json: series:")


def test_k_is_fixed_once_a_report_is_released(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)
    _write(store, settings, tmp_path / "first")
    with pytest.raises(ConflictError, match="k is fixed"):
        _write(store, settings, tmp_path / "second", k=5)
    assert not (tmp_path / "second" / "report.json").exists()
    _write(store, settings, tmp_path / "third", k=3)


def test_a_report_released_meanwhile_stops_the_one_being_made(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)

    def meanwhile(step: str) -> None:  # another report, released while this one counts
        if step.startswith("reading"):
            _write(store, settings, tmp_path / "other")

    with pytest.raises(ConflictError, match="released while this one was made"):
        write_transparency_report(
            store,
            settings=settings,
            period_from=PERIOD[0],
            period_to=PERIOD[1],
            out_dir=tmp_path / "late",
            now=NOW,
            progress=meanwhile,
        )
    assert not (tmp_path / "late").exists()


def test_a_report_the_series_refuses_releases_nothing(store: Store, tmp_path: Path) -> None:
    """The restriction tables are suppressed with the series before the figures about
    investigations are released: a report refused there spends no privacy budget."""
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)
    forged = {
        "from": "2025-10-01",
        "to": "2025-10-31",
        "as_of": "2025-11-01T00:00:00Z",
        "k": 3,
        "hidden": [["restrictions-by-policy", "no such policy", "imposed", "< 3"]],
    }
    with store.write() as session:  # a series release that the log contradicts
        append_outbox(session, RELEASED, {"suppression": {"release": forged}}, at=NOW)
    with store.read() as session:
        before = len(outbox_of_type(session, RELEASED))
    with pytest.raises(InvalidInputError, match="the log gives no such cell"):
        _write(store, settings, tmp_path / "refused")
    with store.read() as session:
        assert len(outbox_of_type(session, RELEASED)) == before
    assert not (tmp_path / "refused").exists()


def test_a_series_release_is_not_a_release_of_figures(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "october")
    sync(settings, store)
    checkpoint = verify_tile_dir(out / "tiles", LedgerKeys.of(settings).verifier())
    forms = [json.loads(e) for e in read_entries(out / "tiles", checkpoint.size)]
    (figures,) = [n for n, f in enumerate(forms) if f["type"] == RELEASED]
    # The series release comes after the report's checkpoint: the next entry of the type.
    assert disclose_release(store, figures)[0].record["release_epsilon"] == 14
    with pytest.raises(InvalidInputError, match="is a series release"):
        disclose_release(store, checkpoint.size)
