"""Explaining a decision in words: which restrictions applied and why, or why none did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from brightline.policy.restriction import Restriction, format_time

if TYPE_CHECKING:
    from brightline.policy.decision import Decision


def _describe(r: Restriction) -> str:
    parts = [f"{r.id} ({r.mode.value}"]
    if r.reason:
        parts.append("; " + ", ".join(f"{k} {v}" for k, v in r.reason.items()))
    parts.append(")")
    text = "".join(parts)
    where = "in " + ", ".join(sorted(r.regions)) if r.regions is not None else "in every region"
    text += f" disables {', '.join(str(a) for a in r.actions)} {where} for {r.scope} and below"
    if r.exempt:
        text += f" except {', '.join(r.exempt)}"
    window = []
    if r.not_before is not None:
        window.append(f"from {format_time(r.not_before)}")
    if r.not_after is not None:
        window.append(f"until {format_time(r.not_after)}")
    if window:
        text += " " + " ".join(window)
    return text


def explain(decision: Decision) -> str:
    request = decision.request
    snapshot = decision.snapshot
    action = f"{request.service}:{request.operation}"
    call = f"{action} by {request.node} in {request.region} at {format_time(request.at)}"
    by_id = {c.id: c.restriction for c in snapshot.candidates(request.node)}
    sentences = []
    if decision.reason is not None and not decision.matched:
        sentences.append(f"Denied: {call}: {decision.reason}.")
    elif decision.matched:
        sentences.append(
            f"Denied: {call}. "
            + " ".join(f"Restriction {_describe(by_id[i])}." for i in decision.matched)
        )
    else:
        sentences.append(f"Allowed: {call}; no restriction in force covers it.")
        near = [_near_miss(by_id[i], decision) for i in sorted(by_id)]
        near = [n for n in near if n]
        if near:
            sentences.append(" ".join(near))
    if decision.would_deny:
        sentences.append(
            "Dry run: "
            + " ".join(
                f"restriction {_describe(by_id[i])} would deny it." for i in decision.would_deny
            )
        )
    # The node's lineage as a set: one look-up a restriction, not a walk up the tree
    # (a snapshot may hold tens of thousands of restrictions).
    lineage = set(snapshot.world.directory.ancestors(request.node))
    exempting = [
        r
        for r in snapshot.restrictions
        if r.exempt and r.scope in lineage and any(e in lineage for e in r.exempt)
    ]
    if exempting:
        sentences.append(
            "Exempt from "
            + ", ".join(r.id for r in exempting)
            + f": {request.node} is in an exempt subtree."
        )
    return " ".join(sentences)


def _near_miss(r: Restriction, decision: Decision) -> str:
    """Why a restriction that covers the node did not apply, or '' if it did."""
    request = decision.request
    if r.id in decision.would_deny:
        return ""
    if not any(p.matches(request.service, request.operation) for p in r.actions):
        return f"{r.id} covers {request.node} but not {request.service}:{request.operation}."
    if r.regions is not None and request.region not in r.regions:
        return f"{r.id} covers {request.node} but not region {request.region}."
    if not r.in_window(request.at):
        return f"{r.id} covers {request.node} but is not in force at that time."
    return ""
