"""brightline.generalization: no published restriction narrows to fewer than k customers.

Coverage is recomputed here by brute force over the directory, from the definition in
docs/privacy.md (a customer is covered when some node of its tree, with its inherited
country and sector and its kind, falls under every published value), not through the
module's index.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightline.disclosure import Facts, Granularity, published
from brightline.errors import InvalidInputError
from brightline.generalization import (
    ANY,
    ANY_NODE,
    PRIVATE_SECTORS,
    PUBLIC_SECTORS,
    STEPS,
    TAG_FAMILIES,
    CustomerIndex,
    Generalized,
    ScopeFacts,
    SectorClasses,
    TimeGranularity,
    floor_time,
    generalize,
    next_boundary,
)
from brightline.m49 import REGIONS, region_of
from brightline.world import SERVICE_TAGS, Catalog, Directory, Node, Service, World

SECTORS = SectorClasses()


def _node(node_id: str, parent: str | None, kind: str, **attrs: str) -> tuple[str, Node]:
    return node_id, Node(node_id, parent, kind, attrs=MappingProxyType(attrs))


DIRECTORY = Directory(
    dict(
        [
            _node("c1", None, "customer", country="XF", sector="defense"),
            _node("c1-u", "c1", "unit", sector="intelligence"),
            _node("c1-s", "c1-u", "subscription"),
            _node("c2", None, "customer", country="DE", sector="telecom"),
            _node("c2-s", "c2", "subscription"),
            _node("c3", None, "customer", country="FR", sector="police"),
            _node("c3-u", "c3", "unit"),
            _node("c4", None, "customer", country="IE", sector="media"),
            _node("c5", None, "customer", country="US", sector="retail"),
            _node("c6", None, "customer", country="NL", sector="defense"),
            _node("c6-u", "c6", "department"),
        ]
    )
)


# -- the hierarchies --------------------------------------------------------------------------


def test_every_assigned_country_code_but_antarctica_has_its_m49_region() -> None:
    assert len(REGIONS) == 248
    assert set(REGIONS.values()) == {"Africa", "Americas", "Asia", "Europe", "Oceania"}
    assert (region_of("DE"), region_of("BR"), region_of("JP")) == ("Europe", "Americas", "Asia")
    assert (region_of("NG"), region_of("NZ"), region_of("IL")) == ("Africa", "Oceania", "Asia")
    assert region_of("XF") is None  # the examples' fictional country
    assert region_of("AQ") is None


def test_sectors_are_public_private_or_neither_and_a_deployment_extends_them() -> None:
    assert not PUBLIC_SECTORS & PRIVATE_SECTORS
    assert SECTORS.of("intelligence") == "public"
    assert SECTORS.of("Telecom") == "private"
    assert SECTORS.of("health") is None  # public or private depending on who runs it
    extended = SectorClasses.extended(public=["Health", " "], private=["shipping"])
    assert (extended.of("health"), extended.of("shipping")) == ("public", "private")
    with pytest.raises(InvalidInputError, match="both public and private"):
        SectorClasses.extended(public=["media"])


def test_every_service_tag_has_a_family() -> None:
    assert set(TAG_FAMILIES) == SERVICE_TAGS
    assert set(TAG_FAMILIES.values()) == {"storage", "ai", "compute", "network"}


@pytest.mark.parametrize(
    ("granularity", "floor", "after"),
    [
        (TimeGranularity.DAY, datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 10, 2, tzinfo=UTC)),
        (
            TimeGranularity.WEEK,
            datetime(2025, 9, 29, tzinfo=UTC),  # the Monday
            datetime(2025, 10, 6, tzinfo=UTC),
        ),
        (
            TimeGranularity.MONTH,
            datetime(2025, 10, 1, tzinfo=UTC),
            datetime(2025, 11, 1, tzinfo=UTC),
        ),
    ],
)
def test_times_round_down_to_the_start_of_their_day_week_or_month(
    granularity: TimeGranularity, floor: datetime, after: datetime
) -> None:
    at = datetime(2025, 10, 1, 23, 59, 59, 999_999, tzinfo=UTC)  # a Wednesday
    assert floor_time(at, granularity) == floor
    assert next_boundary(at, granularity) == after
    assert floor_time(floor, granularity) == floor
    assert next_boundary(datetime(2025, 12, 31, tzinfo=UTC), TimeGranularity.MONTH) == datetime(
        2026, 1, 1, tzinfo=UTC
    )


# -- generalization on a known directory ---------------------------------------------------------


def _generalize(scope: str, k: int, tags: tuple[str, ...] = ("speech-to-text",)) -> Generalized:
    return generalize(
        ScopeFacts.of(DIRECTORY, scope),
        tags,
        index=CustomerIndex.of(DIRECTORY),
        k=k,
        sectors=SECTORS,
    )


def _values(result: Generalized) -> tuple[str, str, str, tuple[str, ...]]:
    return (result.country, result.sector, result.scope_kind, result.service_tags)


def test_k_of_one_publishes_the_scope_as_it_is() -> None:
    assert _values(_generalize("c1-u", 1)) == ("XF", "intelligence", "unit", ("speech-to-text",))
    assert _values(_generalize("c6-u", 1))[2] == "department"


def test_a_unique_unit_is_raised_until_k_customers_fit_it() -> None:
    """XF has no region and intelligence one customer: country goes to other, then the
    sector to public, then the country to any, where three customers have a public unit."""
    result = _generalize("c1-u", 2)
    assert _values(result) == ("any", "public", "unit", ("speech-to-text",))
    assert result.coverage == 3  # c1, c3 (police) and c6 (a department, of class unit)


def test_a_region_and_a_sector_class_are_enough_when_they_hold_k_customers() -> None:
    """Northwind's root (IE, media): Europe alone holds one media customer; Europe and
    private hold two (c2 in DE, telecom), so the country stops at its region."""
    result = _generalize("c4", 2)
    assert _values(result) == ("Europe", "private", "customer", ("speech-to-text",))
    assert result.coverage == 2


def test_a_subscription_keeps_its_kind_until_nothing_else_is_left() -> None:
    result = _generalize("c2-s", 2)  # DE telecom: only c1 and c2 have subscriptions
    assert _values(result)[:3] == (ANY, ANY, "subscription")
    assert result.coverage == 2


def test_fewer_customers_than_k_publishes_the_top_of_every_hierarchy() -> None:
    result = _generalize("c1-u", 7, tags=("speech-to-text", "object-storage"))
    assert _values(result) == (ANY, ANY, ANY_NODE, (ANY,))
    assert result.coverage == 6


def test_tags_are_raised_only_when_nothing_else_is_left() -> None:
    assert _generalize("c1-u", 6).service_tags == ("speech-to-text",)


# -- the property -------------------------------------------------------------------------------

COUNTRIES = ["DE", "FR", "IE", "US", "BR", "JP", "NG", "AU", "XF", "XG", "de"]
SECTOR_POOL = [
    "defense",
    "intelligence",
    "police",
    "government",
    "telecom",
    "media",
    "retail",
    "health",
    "science",
    "public",
]
KINDS = ["unit", "department", "subscription", "project"]
TAGS = sorted(SERVICE_TAGS)


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    """Random forests: 1–50 nodes, each a root (one in two) or under an earlier node, with
    a country and a sector or not (children mostly inherit)."""
    nodes: dict[str, Node] = {}
    for i in range(draw(st.integers(1, 50))):
        parent = None
        if i > 0 and draw(st.booleans()):
            parent = f"n{draw(st.integers(0, i - 1))}"
        attrs: dict[str, str] = {}
        if draw(st.integers(0, 3 if parent else 1)) == 0:
            attrs["country"] = draw(st.sampled_from(COUNTRIES))
        if draw(st.integers(0, 2 if parent else 1)) == 0:
            attrs["sector"] = draw(st.sampled_from(SECTOR_POOL))
        kind = "customer" if parent is None else draw(st.sampled_from(KINDS))
        nodes[f"n{i}"] = Node(f"n{i}", parent, kind, attrs=MappingProxyType(attrs))
    return Directory(nodes)


def _inherited(directory: Directory, node: str, attr: str) -> str | None:
    for ancestor in directory.ancestors(node):
        value = directory[ancestor].attrs.get(attr)
        if value is not None:
            return str(value)
    return None


def _falls_under(directory: Directory, node: str, published: Mapping[str, Any]) -> bool:
    country = _inherited(directory, node, "country")
    country = None if country is None else country.upper()
    sector = _inherited(directory, node, "sector")
    kind = directory[node].kind
    if directory[node].parent is None:
        kind_class = "customer"
    else:
        kind_class = "subscription" if kind == "subscription" else "unit"
    region = region_of(country) if country is not None else None
    country_ok = published["country"] in (ANY, country, region) or (
        published["country"] == "other" and region is None
    )
    sector_ok = published["sector"] == ANY or (
        sector is not None and published["sector"] in (sector, SECTORS.of(sector))
    )
    kind_ok = published["scope_kind"] in (ANY_NODE, kind, kind_class)
    return country_ok and sector_ok and kind_ok


def brute_force_coverage(directory: Directory, published: Mapping[str, Any]) -> int:
    return sum(
        any(_falls_under(directory, node, published) for node in directory.subtree(root))
        for root in directory.roots()
    )


def _at_top(result: Mapping[str, Any]) -> bool:
    return (result["country"], result["sector"], result["scope_kind"]) == (
        ANY,
        ANY,
        ANY_NODE,
    ) and set(result["service_tags"]) <= {ANY}


@settings(max_examples=300, deadline=None)
@given(
    directory=directories(),
    data=st.data(),
    k=st.integers(1, 8),
    tags=st.lists(st.sampled_from(TAGS), max_size=4),
)
def test_no_generalized_scope_covers_fewer_than_k_customers_and_the_result_is_deterministic(
    directory: Directory, data: st.DataObject, k: int, tags: list[str]
) -> None:
    scope = data.draw(st.sampled_from(sorted(directory.nodes)))
    facts = ScopeFacts.of(directory, scope)
    result = generalize(facts, tags, index=CustomerIndex.of(directory), k=k, sectors=SECTORS)
    shown = {
        "country": result.country,
        "sector": result.sector,
        "scope_kind": result.scope_kind,
        "service_tags": list(result.service_tags),
    }
    customers = len(directory.roots())
    covered = brute_force_coverage(directory, shown)
    assert covered == result.coverage
    assert covered >= k or (customers < k and _at_top(shown)), (shown, covered)
    # Its own customer always fits what is published about it.
    assert _falls_under(directory, scope, shown)

    # Deterministic: the same directory listed in another order gives the same values.
    shuffled = Directory(dict(reversed(list(directory.nodes.items()))))
    again = generalize(
        ScopeFacts.of(shuffled, scope),
        list(reversed(tags)),
        index=CustomerIndex.of(shuffled),
        k=k,
        sectors=SECTORS,
    )
    assert again == result

    # The least general along the documented order: one step less covers fewer than k.
    taken = sum(result.levels.values())
    assert taken <= len(STEPS)
    if taken:
        levels = dict.fromkeys(result.levels, 0)
        for step in STEPS[: taken - 1]:
            levels[step] += 1
        assert _coverage_at(directory, facts, levels) < k


def _coverage_at(directory: Directory, facts: ScopeFacts, levels: Mapping[Any, int]) -> int:
    """The brute-force coverage of the scope's values at ``levels``."""
    country = facts.country
    region = region_of(country) if country is not None else None
    by_level = {
        "country": [country or "other", region or "other", ANY],
        "sector": [
            facts.sector or ANY,
            (SECTORS.of(facts.sector) if facts.sector else None) or ANY,
            ANY,
        ],
        "scope_kind": [facts.kind, facts.kind_class, ANY_NODE],
    }
    shown = {name: values[min(levels[name], 2)] for name, values in by_level.items()}
    return brute_force_coverage(directory, shown)


@settings(max_examples=100, deadline=None)
@given(directory=directories(), data=st.data(), k=st.integers(1, 6))
def test_no_public_form_of_a_restriction_narrows_to_fewer_than_k_customers(
    directory: Directory, data: st.DataObject, k: int
) -> None:
    scope = data.draw(st.sampled_from(sorted(directory.nodes)))
    catalog = Catalog(
        services=MappingProxyType(
            {
                "s.speech": Service("s.speech", ("run",), frozenset({"speech-to-text"})),
                "s.blob": Service("s.blob", ("run",), frozenset({"object-storage"})),
            }
        ),
        regions=MappingProxyType({}),
    )
    body = {"scope": scope, "actions": ["s.*:*"], "reason": {"policy": "p"}}
    public = published(
        "restriction.approved",
        {"restriction": "r-1", "kind": "approved", "revision": 2},
        Facts(
            world=World(directory, catalog),
            restriction=body,
            reference="R-1",
            granularity=Granularity(k=k),
        ),
    )
    covered = brute_force_coverage(directory, public)
    assert covered >= k or (len(directory.roots()) < k and _at_top(public))
