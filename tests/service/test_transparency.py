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
from principals import NO_TELEMETRY
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

    # The figures of the seed (k = 1: nothing suppressed, nothing generalized).
    # Exact tables count enforcement; figures about investigations are the dp-* tables.
    assert sorted(p.name for p in (out / "tables").glob("r*.json")) == [
        "restrictions-by-country.json",
        "restrictions-by-policy.json",
        "restrictions-by-sector.json",
        "restrictions-by-service-tag.json",
    ]
    assert all(p.name.startswith(("r", "dp-")) for p in (out / "tables").glob("*.json"))
    assert _table(out, "restrictions-by-policy")["mass-surveillance"] == [3, 1, 0, 2]
    assert _table(out, "restrictions-by-sector")["intelligence"] == [2, 1, 0, 1]
    listed = json.loads((out / "restrictions-in-force.json").read_text())["restrictions"]
    assert [(r["restriction"], r["sector"], r["service_tags"]) for r in listed] == [
        ("R-1", "intelligence", ["file-storage", "object-storage", "speech-to-text"]),
        ("R-2", "defense", ["speech-to-text"]),
    ]
    # The listed fields only: the entry itself is in the tiles, proved by its leaf hash.
    assert set(listed[0]) == {
        "restriction",
        "entry",
        "policy",
        "sector",
        "country",
        "service_tags",
        "leaf_hash",
        "inclusion_proof",
    }
    manifest = json.loads((out / "report.json").read_text())
    assert manifest["tiles"] == "tiles/"
    assert manifest["k"] == 1
    assert manifest["time_granularity"] == "day"
    html = (out / "index.html").read_text()
    assert '<html lang="en">' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert "brightline report verify" in html

    # No name, title, reporter or restriction id in anything published.
    checkpoint = verify_tile_dir(out / "tiles", LedgerKeys.of(settings).verifier())
    published = b"".join(read_entries(out / "tiles", checkpoint.size)) + b"".join(
        p.read_bytes() for p in out.rglob("*") if p.is_file()
    )
    for secret in (b"Jo Whistle", b"Ministry of Defence", b"Signals Intelligence", b"Unit 9900"):
        assert secret not in published
    for rid in (b"r-9900", b"r-hq", b"r-dry", b"r-lifted"):
        assert rid not in published

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
    _edit(copy / "tables" / "restrictions-by-sector.csv", "intelligence,2", "intelligence,1")
    fails(copy, "tables/restrictions-by-sector.csv", "'intelligence'")

    copy = _tampered(out, tmp_path, "manifest")
    manifest_copy = json.loads((copy / "report.json").read_text())
    manifest_copy["tables"][0]["rows"][0]["values"] = [7, 1, 0, 2]
    (copy / "report.json").write_text(json.dumps(manifest_copy))
    fails(copy, "report.json table restrictions-by-policy", "'mass-surveillance'")

    copy = _tampered(out, tmp_path, "html")
    _edit(
        copy / "index.html",
        '<th scope="row">intelligence</th><td class="n">2</td>',
        '<th scope="row">intelligence</th><td class="n">0</td>',
    )
    fails(copy, "index.html table restrictions-by-sector", "'intelligence'")

    copy = _tampered(out, tmp_path, "in-force-csv")
    text = (copy / "restrictions-in-force.csv").read_text()
    (copy / "restrictions-in-force.csv").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("R-2")) + "\n"
    )
    fails(copy, "restrictions-in-force.csv", "'R-2' is missing")

    copy = _tampered(out, tmp_path, "in-force-entry")
    data = json.loads((copy / "restrictions-in-force.json").read_text())
    data["restrictions"][0]["leaf_hash"] = "00" * 32
    (copy / "restrictions-in-force.json").write_text(json.dumps(data))
    fails(copy, "restrictions-in-force.json", "'R-1'", "leaf hash")

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
    # The first entry that publishes a sector is R-1's approval.
    first = next(
        i
        for i, entry in enumerate(read_entries(out / "tiles", checkpoint.size))
        if b'"intelligence"' in entry
    )
    fails(copy, "tiles:", "entry bundles", f"index {first}")

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


_POLICY_TABLE = '<table id="table-restrictions-by-policy">'
_FAKE_ROW = '<tr><th scope="row">mass-surveillance</th><td class="n">0</td></tr>'


def _hide_real_table_beside_a_fake(html: str) -> str:
    fake = f'<table id="fake">{_FAKE_ROW}</table>'
    html = html.replace(
        "</head>", "<style>#table-restrictions-by-policy{display:none}</style></head>", 1
    )
    return html.replace(_POLICY_TABLE, fake + _POLICY_TABLE, 1)


def _real_table_in_a_template(html: str) -> str:
    start = html.index(_POLICY_TABLE)
    end = html.index("</table>", start) + len("</table>")
    fake = f'<table id="t">{_FAKE_ROW}</table>'
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

    def expired(row: dict[str, Any]) -> None:
        row["rows"][0]["values"][2] = 0.0

    by_policy = "tables/restrictions-by-policy.json"
    cases: list[tuple[str, str, Callable[[Any], None], tuple[str, ...]]] = [
        ("true", by_policy, first, (by_policy, "published True")),
        ("float", by_policy, expired, (by_policy, "published 0.0", "gives 0")),
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
            ("restrictions-in-force.json", "'R-1'", "inclusion proof"),
        ),
    ]
    for name, relative, change, needles in cases:
        copy = _tampered(out, tmp_path, name)
        _json_edit(copy, relative, change)
        fails(copy, *needles)

    copy = _tampered(out, tmp_path, "duplicate key")
    text = (copy / by_policy).read_text()
    (copy / by_policy).write_text(text.replace("{\n", '{\n  "name": "x",\n', 1))
    fails(copy, by_policy, "duplicate key 'name'")

    copy = _tampered(out, tmp_path, "extra files")
    (copy / "tables" / "cases-2.csv").write_text("cases,cases\nopened,0\n")
    (copy / "notes.html").write_text("<p>hello</p>")
    result = _verify(copy, settings)
    assert result.problems == (
        "notes.html is not part of the report the log gives (an extra file)",
        "tables/cases-2.csv is not part of the report the log gives (an extra file)",
    )

    copy = _tampered(out, tmp_path, "missing")
    (copy / "tables" / "restrictions-by-country.csv").unlink()
    fails(copy, "tables/restrictions-by-country.csv is missing")


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
    approve_restriction(store, "r-new", actor=BOB, now=at(24 * 41), settings=NO_TELEMETRY)
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
    # Three imposed, one lifted, two in force at the end (listed, so shown). The proof
    # that the lifted one cannot be worked out is another history with one more
    # restriction imposed and lifted in October: it changes the imposed count, hidden too.
    assert _table(out, "restrictions-by-policy") == {
        "mass-surveillance": ["suppressed", "< 3", 0, 2],
        "total": ["suppressed", "< 3", 0, 2],
    }
    # Figures with differential privacy (dp-*) are noisy, not suppressed: a small one is
    # not a true count.
    for path in (out / "tables").glob("[!d]*.json"):
        for row in json.loads(path.read_text())["rows"]:
            # "in force at end" is shown as counted: the list of restrictions names them.
            listed = path.name.startswith("restrictions-by-")
            for value in row["values"][:3] if listed else row["values"]:
                assert not (isinstance(value, int) and 1 <= value < 3), (path.name, row)
    assert "mass-surveillance,suppressed,< 3,0,2" in (
        (out / "tables" / "restrictions-by-policy.csv").read_text()
    )
    assert re.search(
        r'<th scope="row">mass-surveillance</th><td class="n">suppressed</td>'
        r'<td class="n">&lt; 3</td>',
        (out / "index.html").read_text(),
    )
    assert _verify(out, settings).ok

    # A report whose k was changed after the fact no longer matches.
    manifest = json.loads((out / "report.json").read_text())
    manifest["k"] = 1
    (out / "report.json").write_text(json.dumps(manifest))
    assert not _verify(out, settings).ok


def test_with_k_of_three_the_log_generalizes_what_the_report_lists(
    store: Store, tmp_path: Path
) -> None:
    """The example world has four customers: with k = 3, no restriction of the seed can
    be described more precisely than any node of any customer."""
    settings = settings_for(tmp_path, k=3)
    seed(store, settings)
    out = _write(store, settings, tmp_path / "site")
    assert set(_table(out, "restrictions-by-sector")) == {"any", "total"}
    listed = json.loads((out / "restrictions-in-force.json").read_text())["restrictions"]
    assert {(r["sector"], r["country"]) for r in listed} == {("any", "any")}


def test_a_weekly_log_reports_whole_weeks(store: Store, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", transparency_k=1, ledger_time_granularity="week"
    )
    keygen(settings, name="brightline.test/log")
    seed(store, settings)
    with pytest.raises(InvalidInputError, match="whole weeks"):
        _write(store, settings, tmp_path / "refused")  # 1 to 31 October
    out = tmp_path / "site"
    write_transparency_report(
        store,
        settings=settings,
        period_from=date(2025, 9, 29),  # a Monday
        period_to=date(2025, 11, 2),  # a Sunday
        out_dir=out,
        tiles_dir=out / "tiles",
        now=NOW,
    )
    assert json.loads((out / "report.json").read_text())["time_granularity"] == "week"
    checkpoint = verify_tile_dir(out / "tiles", LedgerKeys.of(settings).verifier())
    times = {json.loads(e)["time"] for e in read_entries(out / "tiles", checkpoint.size)}
    # Every entry (the report's own release included) is dated by the Monday of its week.
    assert {t.endswith("T00:00:00Z") for t in times} == {True}
    assert {date.fromisoformat(t[:10]).weekday() for t in times} == {0}
    assert _table(out, "restrictions-by-policy")["mass-surveillance"] == [3, 1, 0, 2]
    assert _verify(out, settings).ok


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
    approve_restriction(store, "r-1", actor=BOB, now=at(2), settings=NO_TELEMETRY)
    out = _write(store, settings, tmp_path / "site")
    listed = json.loads((out / "restrictions-in-force.json").read_text())["restrictions"]
    # Named, by the deployment's choice; k = 5 of four customers: nothing else is precise.
    assert [(r["restriction"], r["customer"], r["sector"]) for r in listed] == [
        ("R-1", "Ministry of Defence of Freedonia", "any")
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
