from __future__ import annotations

from datetime import date

from brightline.detection import Firing, load_pack, score_alerts
from brightline.detection.engines import WorldTables

PACK = load_pack("mass-surveillance")
WORLD = PACK.fixture_world()


def firing(rule: str, node: str) -> Firing:
    return Firing(node, date(2025, 1, 6), date(2025, 1, 7), rule, (("value", 1.0),))


def test_sector_weight_lifts_a_node_over_the_review_threshold() -> None:
    rules = ["ms-speech-telecom-scale", "ms-translation-tracks-speech"]
    alerts = score_alerts(PACK, WORLD, [firing(r, n) for r in rules for n in ("cust-a", "cust-b")])
    # 2 + 2 = 4 for a broadcaster; x2 for a defence ministry reaches the threshold of 8.
    assert [(a.node, a.score) for a in alerts] == [("cust-a", 8.0)]


def test_usage_rolls_up_to_any_level_of_the_tree() -> None:
    tables = WorldTables.build(WORLD, ["customer", "unit", "subscription"])
    rows = {(r["level"], r["subscription_id"]): r["node"] for r in tables.node_map.to_pylist()}
    assert rows["customer", "sub-a1"] == "cust-a"
    assert rows["unit", "sub-a1"] == "unit-a"
    assert rows["subscription", "sub-a1"] == "sub-a1"
    assert ("unit", "sub-b1") not in rows
    info = {r["node"]: r for r in tables.node_info.to_pylist()}
    assert info["sub-a1"]["country"] == "NL"
    assert info["cust-a"]["subscriptions"] == 2
