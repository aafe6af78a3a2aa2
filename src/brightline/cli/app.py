"""The Typer application and the one place where errors become exit codes.

Each command group lives in a module of its own and registers itself on ``app``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from brightline.config import Settings
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

app = typer.Typer(
    name="brightline",
    help="Hold acceptable-use red lines without reading customer data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

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
    import brightline.cli  # noqa: F401  (registers the commands)

    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
