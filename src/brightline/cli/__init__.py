"""The ``brightline`` command. Importing this package registers every command group."""

from brightline.cli import check, export, validate  # noqa: F401  (registration)
from brightline.cli.app import app, main

__all__ = ["app", "main"]
