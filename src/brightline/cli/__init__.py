"""The ``brightline`` command. Importing this package registers every command group."""

from brightline.cli import (  # noqa: F401  (registration)
    check,
    db,
    detect,
    export,
    ledger,
    restrict,
    snapshot,
    synth,
    telemetry,
    validate,
    world,
)
from brightline.cli.app import app, main

__all__ = ["app", "main"]
