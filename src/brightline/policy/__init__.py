"""Restrictions, compiling them into a Snapshot, and deciding requests against it."""

from brightline.policy.batch import BatchArrays, BatchDecisions, BatchEffect, BatchError, to_micros
from brightline.policy.decision import Decision, Request
from brightline.policy.document import SNAPSHOT_FORMAT, snapshot_document, snapshot_from_document
from brightline.policy.load import (
    RESTRICTIONS_FILE,
    RestrictionRecord,
    build_restriction,
    load_restrictions,
    parse_restrictions,
    parse_restrictions_text,
    restriction_from_mapping,
)
from brightline.policy.notice import PUBLIC_REASON_KEYS, CustomerNotice, Notice, denial_notice
from brightline.policy.restriction import ActionPattern, Effect, Mode, Restriction, format_time
from brightline.policy.snapshot import CompiledRestriction, Snapshot, compile_snapshot

__all__ = [
    "PUBLIC_REASON_KEYS",
    "RESTRICTIONS_FILE",
    "SNAPSHOT_FORMAT",
    "ActionPattern",
    "BatchArrays",
    "BatchDecisions",
    "BatchEffect",
    "BatchError",
    "CompiledRestriction",
    "CustomerNotice",
    "Decision",
    "Effect",
    "Mode",
    "Notice",
    "Request",
    "Restriction",
    "RestrictionRecord",
    "Snapshot",
    "build_restriction",
    "compile_snapshot",
    "denial_notice",
    "format_time",
    "load_restrictions",
    "parse_restrictions",
    "parse_restrictions_text",
    "restriction_from_mapping",
    "snapshot_document",
    "snapshot_from_document",
    "to_micros",
]
