"""The ``brightline`` command: ``app`` and its entry point ``main``.

Each command's module is imported when the command is first looked up
(:data:`brightline.cli.app.COMMANDS`), so that importing this package loads no command.
"""

from brightline.cli.app import app, main

__all__ = ["app", "main"]
