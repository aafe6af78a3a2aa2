from __future__ import annotations

from pathlib import Path

from brightline.world import World, load_world
from brightline.world.export import write_world

EXAMPLE = Path(__file__).parents[2] / "examples" / "world"


def _same(a: World, b: World) -> None:
    assert list(a.directory) == list(b.directory)
    assert list(a.catalog.services.values()) == list(b.catalog.services.values())
    assert list(a.catalog.regions.values()) == list(b.catalog.regions.values())


def test_written_world_loads_back_equal(tmp_path: Path) -> None:
    world = load_world(EXAMPLE)
    write_world(world, tmp_path / "out")
    _same(world, load_world(tmp_path / "out"))


def test_yaml_look_alike_values_survive(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "directory.jsonl").write_text(
        '{"id": "n1", "parent": null, "kind": "customer", "name": "Ünïcode «x»", '
        '"attrs": {"flag": true, "n": 3, "ratio": 0.5, "s": "3"}}\n'
    )
    (source / "catalog.yaml").write_text(
        "services:\n  - {id: 'yes', operations: ['on', 'null'], tags: []}\n"
        "regions:\n  - {id: 'no', country: 'NO'}\n"
    )
    world = load_world(source)
    write_world(world, tmp_path / "out")
    again = load_world(tmp_path / "out")
    _same(world, again)
    assert again.directory["n1"].attrs == {"flag": True, "n": 3, "ratio": 0.5, "s": "3"}
    assert again.catalog.regions["no"].country == "NO"
