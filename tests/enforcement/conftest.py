"""A bundle of the example world signed by a test ledger key, for the client's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from brightline.bundle import Bundle, build_bundle
from brightline.ledger import NoteSigner, generate_key
from brightline.policy import compile_snapshot, load_restrictions, snapshot_document
from brightline.world import load_world

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "world"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def signed() -> tuple[Bundle, NoteSigner]:
    world = load_world(EXAMPLES)
    snapshot = compile_snapshot(world, load_restrictions(EXAMPLES / "restrictions.yaml", world))
    document = snapshot_document(snapshot, at=NOW, world_version=1)
    signer = generate_key("brightline.test/ledger")
    bundle = build_bundle(snapshot, document, serial=1, issued_at=NOW, signer=signer)
    return bundle, signer
