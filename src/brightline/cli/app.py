"""The Typer application and the one place where errors become exit codes.

Each command group lives in a module of its own and registers itself on ``app``. A
module is imported when its command is first looked up (:data:`COMMANDS`), so that a
command loads only what it uses: ``brightline check --world`` starts without the
store, the server or the detection engines. ``brightline --help`` loads them all.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from brightline.errors import (
    AccessDeniedError,
    AuthenticationError,
    BrightlineError,
    ConflictError,
    InvalidInputError,
    LedgerIntegrityError,
    NotFoundError,
    StorageError,
    StoreUnavailableError,
)

if TYPE_CHECKING:
    from typer._click.core import Command, Context

    from brightline.config import Settings

#: Each top-level command, and the modules of ``brightline.cli`` that register it and
#: its subcommands (a test checks that together they register exactly these names).
COMMANDS: Final[dict[str, tuple[str, ...]]] = {
    "apikey": ("principals",),
    "bootstrap": ("principals",),
    "case": ("case", "notify"),
    "check": ("check",),
    "db": ("db",),
    "demo": ("demo",),
    "detect": ("detect",),
    "export": ("export", "export_clouds"),
    "ledger": ("ledger", "witness"),
    "principal": ("principals",),
    "report": ("report",),
    "restrict": ("restrict", "plan"),
    "serve": ("serve",),
    "snapshot": ("snapshot",),
    "synth": ("synth",),
    "telemetry": ("telemetry",),
    "validate": ("validate",),
    "world": ("world",),
}
#: Every module, in the order that sets the order of ``brightline --help``.
_MODULE_ORDER: Final = tuple(sorted({m for ms in COMMANDS.values() for m in ms}))


def load_commands(*names: str) -> None:
    """Import the modules that register the commands ``names`` (all when none are given)."""
    modules = [m for n in names for m in COMMANDS.get(n, ())] if names else _MODULE_ORDER
    for module in modules:
        importlib.import_module(f"brightline.cli.{module}")


class _Commands(TyperGroup):
    """The top-level group: looking a command up loads its modules first."""

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            load_commands(cmd_name)
            self._refresh()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Context) -> list[str]:
        load_commands()
        self._refresh()
        return super().list_commands(ctx)

    def _refresh(self) -> None:
        built = typer.main.get_command(app)
        assert isinstance(built, TyperGroup)
        self.commands = built.commands


app = typer.Typer(
    name="brightline",
    help="Hold acceptable-use red lines without reading customer data.",
    cls=_Commands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """Hold acceptable-use red lines without reading customer data."""


console = Console()
err_console = Console(stderr=True)

#: Exit codes, by error kind; 1 is anything else Brightline refused. 7 is "you may not"
#: (the principal's roles do not allow it), 8 "who are you?" (no credential, or an
#: unknown, revoked, expired or badly signed one), like HTTP's 403 and 401. 9 is a file
#: that could not be written (disk full, read-only file system, permission), left as it was.
EXIT_CODES: Final[dict[type[BrightlineError], int]] = {
    InvalidInputError: 2,
    NotFoundError: 3,
    ConflictError: 4,
    LedgerIntegrityError: 5,
    StoreUnavailableError: 6,
    AccessDeniedError: 7,
    AuthenticationError: 8,
    StorageError: 9,
}


def exit_code(error: BrightlineError) -> int:
    for kind, code in EXIT_CODES.items():
        if isinstance(error, kind):
            return code
    return 1


def fail(error: BrightlineError) -> NoReturn:
    """Print every problem of ``error`` on stderr and exit with its code."""
    if isinstance(error, InvalidInputError) and len(error.problems) > 1:
        err_console.print(f"[bold red]error:[/] {len(error.problems)} problems", highlight=False)
        for problem in error.problems:
            err_console.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
    else:
        # Escaped: a message may quote stored text (a store audit's difference), never markup.
        err_console.print(
            f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
    raise typer.Exit(exit_code(error))


@contextmanager
def reporting() -> Iterator[None]:
    """Turn a BrightlineError raised inside into a clean message and exit code."""
    try:
        yield
    except BrightlineError as error:
        fail(error)


def settings() -> Settings:
    from brightline.config import Settings

    return Settings.from_env()


def command(
    group: typer.Typer = app, **kwargs: object
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command whose BrightlineErrors become messages and exit codes."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        import functools

        @functools.wraps(func)
        def wrapper(*args: object, **kw: object) -> None:
            with reporting():
                func(*args, **kw)

        group.command(**kwargs)(wrapper)  # type: ignore[arg-type]
        return func

    return register


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
