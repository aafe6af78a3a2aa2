"""Hypothesis strategies for random worlds, restrictions and requests.

The ids are drawn from small pools on purpose, so that prefix patterns meet
look-alike services (``a.*`` must match ``a.b`` but not ``ab``), windows meet their
boundaries and exempt subtrees meet their scopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from hypothesis import strategies as st

from brightline.policy import ActionPattern, Mode, Request, Restriction, Snapshot
from brightline.world import Catalog, Directory, Node, Region, Service, World

SERVICE_POOL = ["a", "a.b", "a.b.c", "a.c", "ab", "b", "b.a", "c.d"]
OPERATION_POOL = ["read", "write", "list", "x"]
REGION_POOL = ["r1", "r2", "r3", "west-1"]
BASE = datetime(2025, 9, 25, tzinfo=UTC)
TIMES = [BASE + timedelta(hours=h) for h in (-48, -1, 0, 1, 24, 48)] + [
    BASE + timedelta(microseconds=1)
]


@dataclass(frozen=True)
class Scenario:
    world: World
    restrictions: tuple[Restriction, ...]
    requests: tuple[Request, ...]

    def snapshot(self) -> Snapshot:
        return Snapshot(self.world, self.restrictions)


@st.composite
def worlds(draw: st.DrawFn, max_nodes: int = 14) -> World:
    n = draw(st.integers(1, max_nodes))
    nodes: dict[str, Node] = {}
    for i in range(n):
        parent = None
        if i > 0 and draw(st.integers(0, 4)) > 0:
            parent = f"n{draw(st.integers(0, i - 1))}"
        nodes[f"n{i}"] = Node(id=f"n{i}", parent=parent, kind="unit" if parent else "customer")
    services = draw(st.lists(st.sampled_from(SERVICE_POOL), min_size=1, max_size=5, unique=True))
    catalog_services = {
        s: Service(
            id=s,
            operations=tuple(
                draw(st.lists(st.sampled_from(OPERATION_POOL), min_size=1, max_size=3, unique=True))
            ),
        )
        for s in services
    }
    regions = draw(st.lists(st.sampled_from(REGION_POOL), min_size=1, max_size=3, unique=True))
    catalog = Catalog(
        services=MappingProxyType(catalog_services),
        regions=MappingProxyType({r: Region(r, "NL") for r in regions}),
    )
    return World(directory=Directory(nodes), catalog=catalog)


@st.composite
def patterns(draw: st.DrawFn, world: World) -> ActionPattern:
    catalog = world.catalog
    service = draw(
        st.one_of(
            st.sampled_from(sorted(catalog.services)),
            st.just("*"),
            st.sampled_from(sorted({s.split(".")[0] + ".*" for s in catalog.services})),
        )
    )
    matched = catalog.services_matching(service)
    operations = sorted({op for s in matched for op in catalog.services[s].operations})
    operation = draw(
        st.one_of(st.just("*"), st.sampled_from(operations)) if operations else st.just("*")
    )
    return ActionPattern(service, operation)


@st.composite
def restrictions(draw: st.DrawFn, world: World, index: int) -> Restriction | None:
    directory = world.directory
    scope = draw(st.sampled_from(sorted(directory.nodes)))
    below = [n for n in directory.subtree(scope) if n != scope]
    actions = tuple(draw(st.lists(patterns(world), min_size=1, max_size=3, unique=True)))
    if not any(p.actions(world.catalog) for p in actions):
        return None  # a prefix with no services; the loader refuses it
    regions = draw(
        st.none() | st.frozensets(st.sampled_from(sorted(world.catalog.regions)), min_size=1)
    )
    exempt = tuple(sorted(draw(st.sets(st.sampled_from(below), max_size=2)))) if below else ()
    not_before = draw(st.none() | st.sampled_from(TIMES))
    not_after = draw(st.none() | st.sampled_from(TIMES))
    if not_before is not None and not_after is not None and not_after <= not_before:
        not_after = None
    return Restriction(
        id=f"r-{index:02d}",
        scope=scope,
        actions=actions,
        regions=regions,
        exempt=exempt,
        not_before=not_before,
        not_after=not_after,
        mode=draw(st.sampled_from([Mode.ENFORCE, Mode.ENFORCE, Mode.DRY_RUN])),
    )


@st.composite
def requests(draw: st.DrawFn, world: World, *, unknown: bool = False) -> Request:
    catalog = world.catalog
    node = draw(st.sampled_from(sorted(world.directory.nodes)))
    service = draw(st.sampled_from(sorted(catalog.services)))
    operation = draw(st.sampled_from(catalog.services[service].operations))
    region = draw(st.sampled_from(sorted(catalog.regions)))
    if unknown:
        which = draw(st.sampled_from(["node", "service", "operation", "region", "none"]))
        node = "nope" if which == "node" else node
        service = "zz.unknown" if which == "service" else service
        operation = "no-such-op" if which == "operation" else operation
        region = "mars-1" if which == "region" else region
    return Request(node, service, operation, region, draw(st.sampled_from(TIMES)))


@st.composite
def scenarios(
    draw: st.DrawFn, *, max_restrictions: int = 5, n_requests: int = 30, unknown: bool = False
) -> Scenario:
    world = draw(worlds())
    drawn = [draw(restrictions(world, i)) for i in range(draw(st.integers(0, max_restrictions)))]
    chosen = tuple(r for r in drawn if r is not None)
    reqs = tuple(draw(st.lists(requests(world, unknown=unknown), min_size=1, max_size=n_requests)))
    return Scenario(world, chosen, reqs)


def reference_decide(
    scenario: Scenario, request: Request
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """DESIGN.md's decision rule, written as directly as possible, as an oracle."""
    directory = scenario.world.directory
    ancestors = directory.ancestors(request.node)
    matched, would = [], []
    for r in sorted(scenario.restrictions, key=lambda r: r.id):
        if r.scope not in ancestors:
            continue
        if any(e in ancestors for e in r.exempt):
            continue
        if not any(p.matches(request.service, request.operation) for p in r.actions):
            continue
        if r.regions is not None and request.region not in r.regions:
            continue
        if not r.in_window(request.at):
            continue
        (matched if r.enforcing else would).append(r.id)
    return ("deny" if matched else "allow", tuple(matched), tuple(would))


@st.composite
def proposal(draw: st.DrawFn, world: World) -> tuple[Restriction, ...]:
    """One to three restrictions proposed together over ``world``, ids distinct (they may
    reuse ids of restrictions already in force)."""
    drawn = [
        draw(restrictions(world, draw(st.integers(0, 6)))) for _ in range(draw(st.integers(1, 3)))
    ]
    chosen: dict[str, Restriction] = {}
    for r in drawn:
        if r is not None:
            chosen.setdefault(r.id, r)
    return tuple(chosen.values())
