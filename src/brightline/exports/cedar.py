"""Rendering a snapshot as Cedar: a schema, policies and entities.

The mapping (also in docs/cedar.md):

- principal: ``Brightline::Node::"<node id>"``; each node's parent is its Cedar parent,
  so ``principal in Brightline::Node::"unit-7"`` holds for unit-7 and everything below;
- action: ``Brightline::Action::"<service>:<operation>"``, one per catalog action;
- resource: ``Brightline::Region::"<region id>"``;
- context: ``{"time": <microseconds since the Unix epoch, UTC>}``.

Every enforcing restriction becomes one ``forbid`` policy annotated ``@id("<id>")``
(action patterns expanded against the catalog, regions and the time window in
``when``, exempt subtrees in ``unless``), followed by one ``permit`` for everything
else. Dry-run restrictions go to ``dry-run.cedar`` in the same form: evaluated on its
own, the forbids it determines are Brightline's ``would_deny``. Policies appear in
restriction-id order, so Cedar's positional ids (``policy0``, ``policy1``…) map back
to restrictions through :func:`policy_ids`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from brightline import files
from brightline.policy import Restriction, Snapshot, to_micros

NAMESPACE: Final = "Brightline"
BASELINE_ID: Final = "allow-by-default"


@dataclass(frozen=True, slots=True)
class CedarExport:
    schema: str
    policies: str
    dry_run_policies: str
    entities: list[dict[str, Any]]

    def write(self, out: Path) -> list[Path]:
        documents = {
            "schema.cedarschema": self.schema,
            "policies.cedar": self.policies,
            "dry-run.cedar": self.dry_run_policies,
            "entities.json": json.dumps(self.entities, indent=1, ensure_ascii=False) + "\n",
        }
        return [files.write_file(out / name, text) for name, text in documents.items()]


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def node_uid(node: str) -> str:
    return f"{NAMESPACE}::Node::{_quote(node)}"


def action_uid(service: str, operation: str) -> str:
    return f"{NAMESPACE}::Action::{_quote(f'{service}:{operation}')}"


def region_uid(region: str) -> str:
    return f"{NAMESPACE}::Region::{_quote(region)}"


def request_for(
    node: str, service: str, operation: str, region: str, time_us: int
) -> dict[str, Any]:
    """The Cedar request (cedarpy's dict form) that corresponds to a Brightline request."""
    return {
        "principal": node_uid(node),
        "action": action_uid(service, operation),
        "resource": region_uid(region),
        "context": {"time": time_us},
    }


def render_schema(snapshot: Snapshot) -> str:
    lines = [f"namespace {NAMESPACE} {{", "  entity Node in [Node] { kind: String, name: String };"]
    lines.append("  entity Region { country: String };")
    for service, operation in snapshot.actions:
        lines.append(
            f"  action {_quote(f'{service}:{operation}')} appliesTo "
            "{ principal: [Node], resource: [Region], context: { time: Long } };"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_policy(restriction: Restriction, snapshot: Snapshot) -> str:
    """One ``forbid`` policy for a restriction."""
    actions = sorted(
        {a for pattern in restriction.actions for a in pattern.actions(snapshot.world.catalog)}
    )
    head = [f"@id({_quote(restriction.id)})", "forbid ("]
    head.append(f"  principal in {node_uid(restriction.scope)},")
    if len(actions) == len(snapshot.actions):
        head.append("  action,")
    else:
        head.append("  action in [")
        head.extend(f"    {action_uid(s, o)}," for s, o in actions)
        head[-1] = head[-1].rstrip(",")
        head.append("  ],")
    head.append("  resource")
    head.append(")")
    conditions = []
    if restriction.regions is not None:
        regions = ", ".join(region_uid(r) for r in sorted(restriction.regions))
        conditions.append(f"[{regions}].contains(resource)")
    if restriction.not_before is not None:
        conditions.append(f"context.time >= {to_micros(restriction.not_before)}")
    if restriction.not_after is not None:
        conditions.append(f"context.time < {to_micros(restriction.not_after)}")
    if conditions:
        head.append("when { " + " && ".join(conditions) + " }")
    if restriction.exempt:
        exempt = " || ".join(f"principal in {node_uid(e)}" for e in restriction.exempt)
        head.append(f"unless {{ {exempt} }}")
    head[-1] += ";"
    return "\n".join(head)


def _policy_set(restrictions: list[Restriction], snapshot: Snapshot) -> str:
    parts = [render_policy(r, snapshot) for r in restrictions]
    parts.append(f"@id({_quote(BASELINE_ID)})\npermit (principal, action, resource);")
    return "\n\n".join(parts) + "\n"


def policy_ids(restrictions: list[Restriction]) -> dict[str, str]:
    """Cedar's positional policy ids (``policyN``) → restriction ids, for one policy set."""
    ids = {f"policy{i}": r.id for i, r in enumerate(restrictions)}
    ids[f"policy{len(restrictions)}"] = BASELINE_ID
    return ids


def render_entities(snapshot: Snapshot, nodes: list[str] | None = None) -> list[dict[str, Any]]:
    directory = snapshot.world.directory
    chosen = sorted(directory.nodes) if nodes is None else nodes
    entities: list[dict[str, Any]] = []
    for node_id in chosen:
        node = directory[node_id]
        parents = [] if node.parent is None else [_entity("Node", node.parent)]
        entities.append(
            {
                "uid": _entity("Node", node.id),
                "attrs": {"kind": node.kind, "name": node.name},
                "parents": parents,
            }
        )
    for region in sorted(snapshot.world.catalog.regions.values(), key=lambda r: r.id):
        entities.append(
            {
                "uid": _entity("Region", region.id),
                "attrs": {"country": region.country},
                "parents": [],
            }
        )
    return entities


def _entity(kind: str, entity_id: str) -> dict[str, Any]:
    return {"__entity": {"type": f"{NAMESPACE}::{kind}", "id": entity_id}}


def enforcing(snapshot: Snapshot) -> list[Restriction]:
    return [r for r in snapshot.restrictions if r.enforcing]


def dry_run(snapshot: Snapshot) -> list[Restriction]:
    return [r for r in snapshot.restrictions if not r.enforcing]


def export_cedar(snapshot: Snapshot) -> CedarExport:
    return CedarExport(
        schema=render_schema(snapshot),
        policies=_policy_set(enforcing(snapshot), snapshot),
        dry_run_policies=_policy_set(dry_run(snapshot), snapshot),
        entities=render_entities(snapshot),
    )


def policy_set_text(restrictions: list[Restriction], snapshot: Snapshot) -> str:
    """A policy set for some restrictions (plus the baseline permit), e.g. one customer's."""
    return _policy_set(restrictions, snapshot)
