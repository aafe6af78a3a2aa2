"""The ``brightline`` command. Importing this package registers every command group."""

from brightline.cli import (  # noqa: F401  (registration)
    check,
    db,
    export,
    ledger,
    restrict,
    snapshot,
    validate,
    world,
)
from brightline.cli.app import app, main

__all__ = ["app", "main"]
