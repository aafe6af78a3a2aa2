"""Transparency reports end to end on both databases: written from the real store, verified
from the exported tiles and checkpoint alone, and caught when anything is changed."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from brightline.config import Settings
from brightline.errors import InvalidInputError, NotFoundError
from brightline.ledger import generate_key, read_entries, verify_tile_dir
from brightline.service import approve_restriction, import_world, propose_restrictions
from brightline.service.ledger import LedgerKeys, export_tiles_dir, keygen, sync
from brightline.service.transparency import (
    VerificationResult,
    verify_transparency_report,
    write_transparency_report,
)
from brightline.store import Store
from cases.case_scenarios import EXAMPLE, T0, at
from service.store_scenarios import ALICE, BOB, SETUP
from transparency.scenario import NOW, PERIOD, seed, settings_for


def _write(store: Store, settings: Settings, out: Path, **kw: object) -> Path:
    write_transparency_report(
        store,
        settings=settings,
        period_from=PERIOD[0],
        period_to=PERIOD[1],
        out_dir=out,
        tiles_dir=out / "tiles",
        now=NOW,
        **kw,  # type: ignore[arg-type]
    )
    return out


def _verify(out: Path, settings: Settings, tiles: Path | None = None) -> VerificationResult:
    return verify_transparency_report(
        out, tiles or out / "tiles", verifier=LedgerKeys.of(settings).verifier()
    )


def _table(out: Path, name: str) -> dict[str, list[object]]:
    data = json.loads((out / "tables" / f"{name}.json").read_text())
    return {row["label"]: row["values"] for row in data["rows"]}


def _tampered(out: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(out, copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_report_counts_the_log_and_any_change_is_caught(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "site")

    # The figures of the seed case (k = 1: nothing suppressed).
    assert _table(out, "reports-by-source") == {"person": [2], "detector": [1], "total": [3]}
    assert _table(out, "findings-by-policy")["mass-surveillance"] == [1, 0, 0]
    assert _table(out, "restrictions-by-policy")["mass-surveillance"] == [3, 1, 0, 2]
    assert _table(out, "restrictions-by-sector")["intelligence"] == [2, 1, 0, 1]
    assert _table(out, "appeals") == {"received": [1], "decided: lift": [0], "decided: upheld": [1]}
    times = _table(out, "time-to-action")
    assert times["first report to decision"] == [1, 0.3]  # 8 hours
    assert times["first report to enforcement"] == [1, 0.5]  # approved after 12 hours
    listed = json.loads((out / "restrictions-in-force.json").read_text())["restrictions"]
    assert [(r["restriction"], r["sector"], r["service_tags"]) for r in listed] == [
        ("r-9900", "intelligence", ["file-storage", "object-storage", "speech-to-text"]),
        ("r-hq", "defense", ["speech-to-text"]),
    ]
    manifest = json.loads((out / "report.json").read_text())
    assert manifest["tiles"] == "tiles/"
    assert manifest["k"] == 1
    html = (out / "index.html").read_text()
    assert '<html lang="en">' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert "brightline report verify" in html

    # No name, title or reporter in anything published.
    checkpoint = verify_tile_dir(out / "tiles", LedgerKeys.of(settings).verifier())
    published = b"".join(read_entries(out / "tiles", checkpoint.size)) + b"".join(
        p.read_bytes() for p in out.rglob("*") if p.is_file()
    )
    for secret in (b"Jo Whistle", b"Ministry of Defence", b"Signals Intelligence", b"Unit 9900"):
        assert secret not in published

    assert _verify(out, settings).ok, _verify(out, settings).problems

    def fails(copy: Path, *needles: str) -> None:
        result = _verify(copy, settings)
        assert not result.ok
        for needle in needles:
            assert needle in result.problems[0], result.problems

    copy = _tampered(out, tmp_path, "json")
    _edit(
        copy / "tables" / "restrictions-by-policy.json",
        '"mass-surveillance",\n      "values": [\n        3,',
        '"mass-surveillance",\n      "values": [\n        4,',
    )
    fails(copy, "tables/restrictions-by-policy.json", "'imposed'", "published 4", "gives 3")

    copy = _tampered(out, tmp_path, "csv")
    _edit(copy / "tables" / "reports-by-source.csv", "person,2", "person,1")
    fails(copy, "tables/reports-by-source.csv", "'person'")

    copy = _tampered(out, tmp_path, "manifest")
    manifest_copy = json.loads((copy / "report.json").read_text())
    manifest_copy["tables"][0]["rows"][0]["values"] = [7]
    (copy / "report.json").write_text(json.dumps(manifest_copy))
    fails(copy, "report.json table reports-by-source", "'person'")

    copy = _tampered(out, tmp_path, "html")
    _edit(
        copy / "index.html",
        '<th scope="row">opened</th><td class="n">1</td>',
        '<th scope="row">opened</th><td class="n">0</td>',
    )
    fails(copy, "index.html table cases", "'opened'")

    copy = _tampered(out, tmp_path, "in-force-csv")
    text = (copy / "restrictions-in-force.csv").read_text()
    (copy / "restrictions-in-force.csv").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("r-hq")) + "\n"
    )
    fails(copy, "restrictions-in-force.csv", "'r-hq' is missing")

    copy = _tampered(out, tmp_path, "in-force-entry")
    data = json.loads((copy / "restrictions-in-force.json").read_text())
    data["restrictions"][0]["public_form"] = data["restrictions"][0]["public_form"].replace(
        "intelligence", "agriculture"
    )
    (copy / "restrictions-in-force.json").write_text(json.dumps(data))
    fails(copy, "restrictions-in-force.json", "'r-9900'", "not entry")

    copy = _tampered(out, tmp_path, "tile")
    tile = next(p for p in (copy / "tiles" / "tile" / "0").rglob("*") if p.is_file())
    blob = bytearray(tile.read_bytes())
    blob[40] ^= 0x01
    tile.write_bytes(bytes(blob))
    fails(copy, "tiles:", "index 1")

    copy = _tampered(out, tmp_path, "entry")
    bundle = next(p for p in (copy / "tiles" / "tile" / "entries").rglob("*") if p.is_file())
    raw = bundle.read_bytes()
    assert raw.count(b'"intelligence"') >= 1
    bundle.write_bytes(raw.replace(b'"intelligence"', b'"agriculture!"', 1))
    # The bootstrap, the world and eight grants come first: the first report is entry 10.
    fails(copy, "tiles:", "entry bundles", "index 10")

    other_key = generate_key("brightline.test/log").verifier()
    result = verify_transparency_report(out, out / "tiles", verifier=other_key)
    assert not result.ok
    assert "checkpoint" in result.problems[0]


def _forge_html(copy: Path, change: Callable[[str], str]) -> None:
    page = copy / "index.html"
    html = page.read_text()
    changed = change(html)
    assert changed != html
    page.write_text(changed)


def _hide_real_table_beside_a_fake(html: str) -> str:
    fake = '<table id="fake"><tr><th scope="row">opened</th><td class="n">0</td></tr></table>'
    html = html.replace("</head>", "<style>#table-cases{display:none}</style></head>", 1)
    return html.replace('<table id="table-cases">', fake + '<table id="table-cases">', 1)


def _real_table_in_a_template(html: str) -> str:
    start = html.index('<table id="table-cases">')
    end = html.index("</table>", start) + len("</table>")
    fake = '<table id="t"><tr><th scope="row">opened</th><td class="n">0</td></tr></table>'
    return html[:start] + "<template>" + html[start:end] + "</template>" + fake + html[end:]


def _svg_in_a_comment(html: str) -> str:
    start = html.index("<svg")
    end = html.index("</svg>", start) + len("</svg>")
    svg = html[start:end]
    return html[:start] + f"<!--{svg}-->" + svg.replace("<svg", '<svg data-x="1"', 1) + html[end:]


HTML_FORGERIES: dict[str, Callable[[str], str]] = {
    "hidden table": _hide_real_table_beside_a_fake,
    "template": _real_table_in_a_template,
    "css content": lambda h: h.replace("</head>", '<style>td::after{content:"0"}</style></head>'),
    "svg comment": _svg_in_a_comment,
    "heading": lambda h: h.replace(
        "Restrictions in force at the end of the period</h2>", "Restrictions lifted</h2>", 1
    ),
    "period prose": lambda h: h.replace("(UTC, both included)", "(UTC, first day only)", 1),
    "extra table": lambda h: h.replace("</main>", "<table><tr><td>1</td></tr></table></main>"),
    "tiles link": lambda h: h.replace('<a href="tiles/">', '<a href="https://example.org/">', 1),
    "checkpoint": lambda h: h.replace("brightline.test/log\n", "brightline.test/log \n", 1),
}


def test_a_page_that_shows_anything_else_does_not_verify(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "site")
    assert _verify(out, settings).ok
    for name, change in HTML_FORGERIES.items():
        copy = _tampered(out, tmp_path, name)
        _forge_html(copy, change)
        result = _verify(copy, settings)
        assert not result.ok, name
        assert result.problems[0].startswith("index.html"), (name, result.problems)


def _json_edit(copy: Path, relative: str, change: Callable[[Any], None]) -> None:
    path = copy / relative
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def test_every_file_field_and_extra_file_is_checked(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "site")
    assert _verify(out, settings).ok

    def fails(copy: Path, *needles: str) -> None:
        result = _verify(copy, settings)
        assert not result.ok
        for needle in needles:
            assert needle in result.problems[0], result.problems

    def first(row: dict[str, Any]) -> None:
        row["rows"][0]["values"][0] = True

    cases: list[tuple[str, str, Callable[[Any], None], tuple[str, ...]]] = [
        ("true", "tables/cases.json", first, ("tables/cases.json", "published True")),
        (
            "float",
            "tables/appeals.json",
            lambda v: v["rows"][1].update(values=[0.0]),
            ("tables/appeals.json", "published 0.0", "gives 0"),
        ),
        (
            "start",
            "report.json",
            lambda v: v["period"].update(start="2025-09-30T00:00:00Z"),
            ("report.json", "period.start"),
        ),
        (
            "duplicate table",
            "report.json",
            lambda v: v["tables"].append(v["tables"][0]),
            ("report.json", "listed twice"),
        ),
        ("k two", "report.json", lambda v: v.update(k=2), ("report.json", "k = 2")),
        ("k text", "report.json", lambda v: v.update(k="3"), ("report.json", "whole number")),
        (
            "fields",
            "report.json",
            lambda v: v.update(fields=["policy", "name"]),
            ("report.json", "unknown fields"),
        ),
        (
            "fields twice",
            "report.json",
            lambda v: v.update(fields=["policy", "policy"]),
            ("report.json", "twice"),
        ),
        ("format", "report.json", lambda v: v.update(format="x/2"), ("report.json", "format")),
        (
            "generator",
            "report.json",
            lambda v: v.update(generator="Brightline 1.0 <b>"),
            ("report.json", "generator"),
        ),
        (
            "tiles",
            "report.json",
            lambda v: v.update(tiles="javascript:alert(1)"),
            ("report.json", "tiles"),
        ),
        (
            "customer",
            "restrictions-in-force.json",
            lambda v: v["restrictions"][0].update(customer="Ministry"),
            ("restrictions-in-force.json",),
        ),
        (
            "count",
            "report.json",
            lambda v: v["restrictions_in_force"].update(count=3),
            ("report.json",),
        ),
        (
            "in-force title",
            "restrictions-in-force.json",
            lambda v: v.update(title="Lifted"),
            ("restrictions-in-force.json",),
        ),
        (
            "checkpoint size",
            "restrictions-in-force.json",
            lambda v: v.update(checkpoint_size=1),
            ("restrictions-in-force.json",),
        ),
        (
            "proof",
            "restrictions-in-force.json",
            lambda v: v["restrictions"][0].update(inclusion_proof=["00" * 32]),
            ("restrictions-in-force.json", "'r-9900'", "inclusion proof"),
        ),
    ]
    for name, relative, change, needles in cases:
        copy = _tampered(out, tmp_path, name)
        _json_edit(copy, relative, change)
        fails(copy, *needles)

    copy = _tampered(out, tmp_path, "duplicate key")
    text = (copy / "tables" / "cases.json").read_text()
    (copy / "tables" / "cases.json").write_text(text.replace("{\n", '{\n  "name": "x",\n', 1))
    fails(copy, "tables/cases.json", "duplicate key 'name'")

    copy = _tampered(out, tmp_path, "extra files")
    (copy / "tables" / "cases-2.csv").write_text("cases,cases\nopened,0\n")
    (copy / "notes.html").write_text("<p>hello</p>")
    result = _verify(copy, settings)
    assert result.problems == (
        "notes.html is not part of the report the log gives (an extra file)",
        "tables/cases-2.csv is not part of the report the log gives (an extra file)",
    )

    copy = _tampered(out, tmp_path, "missing")
    (copy / "tables" / "appeals.csv").unlink()
    fails(copy, "tables/appeals.csv is missing")


def test_a_report_that_leaves_out_logged_events_does_not_verify(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "site")
    # Logged after the report's checkpoint, but it happened inside the period.
    propose_restrictions(
        store,
        "id: r-late\nscope: mod-hq\nactions: ['ai.vision:*']\n",
        name="n.yaml",
        actor=ALICE,
        now=at(24 * 20),
    )
    sync(settings, store)
    grown = tmp_path / "grown-tiles"
    export_tiles_dir(store, grown, LedgerKeys.of(settings).verifier())
    result = _verify(out, settings, grown)
    assert not result.ok
    assert "leaves it out" in result.problems[0], result.problems
    assert "2025-10-21T00:00:00Z" in result.problems[0]


def test_figures_before_the_end_of_the_period_verify_with_a_warning(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    seed(store, settings)
    out = tmp_path / "site"
    write_transparency_report(
        store,
        settings=settings,
        period_from=PERIOD[0],
        period_to=PERIOD[1],
        out_dir=out,
        tiles_dir=out / "tiles",
        now=at(24 * 2),
    )
    result = _verify(out, settings)
    assert result.ok, result.problems
    assert result.warnings == (
        "the figures hold at 2025-10-03T00:00:00Z, before the end of the period "
        "(2025-11-01T00:00:00Z): nothing from then on is counted",
    )
    assert result.to_json()["warnings"] == list(result.warnings)
    # As seen from then, the later part of the log is missing: the report says nothing
    # about it and is not wrong, but an outsider is told.
    assert result.tiles_size is not None


def test_an_older_report_verifies_against_a_log_that_grew(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "site")
    propose_restrictions(
        store,
        "id: r-new\nscope: mod-hq\nactions: ['ai.vision:*']\n",
        name="n.yaml",
        actor=ALICE,
        now=at(24 * 41),
    )
    approve_restriction(store, "r-new", actor=BOB, settings=settings, now=at(24 * 41))
    sync(settings, store)
    grown = tmp_path / "grown-tiles"
    export_tiles_dir(store, grown, LedgerKeys.of(settings).verifier())
    result = _verify(out, settings, grown)
    assert result.ok, result.problems
    assert result.tiles_size is not None
    assert result.checkpoint is not None
    assert result.tiles_size > result.checkpoint.size


def test_a_period_with_nothing_in_it_verifies(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    seed(store, settings)
    out = tmp_path / "site"
    write_transparency_report(
        store,
        settings=settings,
        period_from=date(2025, 1, 1),
        period_to=date(2025, 1, 31),
        out_dir=out,
        tiles_dir=tmp_path / "tiles",
        now=NOW,
    )
    assert _table(out, "restrictions-by-service-tag") == {}
    assert json.loads((out / "report.json").read_text())["tiles"] == "../tiles/"
    result = _verify(out, settings, tmp_path / "tiles")
    assert result.ok, result.problems
    assert result.in_force == 0


def test_small_counts_are_suppressed_in_every_file(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "site")
    assert _table(out, "reports-by-source") == {
        "person": ["< 3"],
        "detector": ["< 3"],
        "total": [3],
    }
    assert _table(out, "time-to-action")["first report to decision"] == ["< 3", "suppressed"]
    for path in (out / "tables").glob("*.json"):
        for row in json.loads(path.read_text())["rows"]:
            # "in force at end" is shown as counted: the list of restrictions names them.
            listed = path.name.startswith("restrictions-by-")
            for value in row["values"][:3] if listed else row["values"]:
                assert not (isinstance(value, int) and 1 <= value < 3), (path.name, row)
    assert "person,< 3" in (out / "tables" / "reports-by-source.csv").read_text()
    assert re.search(
        r'<th scope="row">person</th><td class="n">&lt; 3</td>', (out / "index.html").read_text()
    )
    assert _verify(out, settings).ok

    # A report whose k was changed after the fact no longer matches.
    manifest = json.loads((out / "report.json").read_text())
    manifest["k"] = 1
    (out / "report.json").write_text(json.dumps(manifest))
    assert not _verify(out, settings).ok


def test_customer_names_only_when_the_deployment_publishes_them(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        transparency_fields=("sector", "customer"),
        ledger_publishes_customer_names=False,
    )
    keygen(settings, name="brightline.test/log")
    import_world(store, EXAMPLE, actor=SETUP, now=T0)
    with pytest.raises(InvalidInputError, match="customer"):
        _write(store, settings, tmp_path / "refused")

    settings = Settings(
        data_dir=settings.data_dir,
        transparency_fields=("sector", "customer"),
        ledger_publishes_customer_names=True,
    )
    propose_restrictions(
        store,
        "id: r-1\nscope: mod-hq\nactions: ['ai.speech:*']\n",
        name="r",
        actor=ALICE,
        now=at(1),
    )
    approve_restriction(store, "r-1", actor=BOB, settings=settings, now=at(2))
    out = _write(store, settings, tmp_path / "site")
    listed = json.loads((out / "restrictions-in-force.json").read_text())["restrictions"]
    assert [(r["restriction"], r["customer"]) for r in listed] == [
        ("r-1", "Ministry of Defence of Freedonia")
    ]
    assert _verify(out, settings).ok


def test_bad_periods_and_missing_keys_are_clear_errors(store: Store, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(NotFoundError, match="keygen"):
        _write(store, settings, tmp_path / "site")
    keygen(settings)
    with pytest.raises(InvalidInputError, match="before the start"):
        write_transparency_report(
            store,
            settings=settings,
            period_from=date(2025, 10, 2),
            period_to=date(2025, 10, 1),
            out_dir=tmp_path / "site",
            now=NOW,
        )
    with pytest.raises(InvalidInputError, match="future"):
        write_transparency_report(
            store,
            settings=settings,
            period_from=date(2030, 1, 1),
            period_to=date(2030, 1, 2),
            out_dir=tmp_path / "site",
            now=NOW,
        )
    with pytest.raises(NotFoundError, match="checkpoint"):
        _write(store, settings, tmp_path / "site")
