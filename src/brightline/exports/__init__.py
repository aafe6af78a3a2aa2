"""Renderings of a snapshot in other policy languages (Cedar; cloud-native exports later)."""

from brightline.exports.cedar import (
    BASELINE_ID,
    CedarExport,
    export_cedar,
    policy_ids,
    policy_set_text,
    render_entities,
    request_for,
)

__all__ = [
    "BASELINE_ID",
    "CedarExport",
    "export_cedar",
    "policy_ids",
    "policy_set_text",
    "render_entities",
    "request_for",
]
