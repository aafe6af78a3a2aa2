"""The ``brightline`` command. Importing this package registers every command group."""

from brightline.cli import (  # noqa: F401  (registration)
    case,
    check,
    db,
    demo,
    detect,
    export,
    export_clouds,
    ledger,
    notify,
    plan,
    principals,
    report,
    restrict,
    serve,
    snapshot,
    synth,
    telemetry,
    validate,
    witness,
    world,
)
from brightline.cli.app import app, main

__all__ = ["app", "main"]
