"""A store's people for the CLI tests: the first admin from ``brightline bootstrap``, then
a key and grants for each person, all through the CLI itself; each command then acts
with one person's key file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner

from brightline.cli import app

ADMIN = "admin"


class People:
    """A CliRunner on one store and one data directory, with the key file of each person."""

    def __init__(self, runner: CliRunner, keys: Path) -> None:
        self.runner = runner
        self.keys = keys
        keys.mkdir(exist_ok=True)

    def key_file(self, name: str) -> Path:
        return self.keys / name

    def invoke(self, *args: str, by: str | None = None, code: int = 0) -> str:
        """Run a command (as ``by``, with that person's key file); stdout on success,
        stderr otherwise. Never a traceback."""
        argv = [*args, "--key-file", str(self.key_file(by))] if by else list(args)
        result = self.runner.invoke(app, argv)
        assert result.exit_code == code, (argv, result.output, result.stderr)
        assert "Traceback" not in result.output + result.stderr
        return result.stdout if code == 0 else result.stderr

    def bootstrap(self, name: str = ADMIN) -> None:
        self.invoke("bootstrap", "--principal", name, "--key-out", str(self.key_file(name)))

    def enrol(self, name: str, *roles: str, grant: Sequence[str] | None = None) -> None:
        """A key for ``name`` carrying ``roles``, and the store's grants of ``grant``
        (default: the same roles), made by the admin."""
        flags = [arg for role in roles for arg in ("--role", role)]
        self.invoke(
            "apikey", "create", name, *flags, "--key-out", str(self.key_file(name)), by=ADMIN
        )
        for role in roles if grant is None else grant:
            self.invoke("principal", "grant", name, role, by=ADMIN)


def words(text: str) -> str:
    """Rich wraps lines at the terminal width; compare words."""
    return " ".join(text.split())
