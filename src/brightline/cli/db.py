"""``brightline db``: the database itself."""

from __future__ import annotations

import typer

from brightline.cli.app import app, command, console, settings
from brightline.service import upgrade_database

db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@command(db_app, name="upgrade")
def upgrade() -> None:
    """Apply pending migrations to the database (BRIGHTLINE_DATABASE_URL or ./brightline.db)."""
    status = upgrade_database(settings())
    if status.before == status.after:
        console.print(f"{status.url}: already at revision {status.after} (head)", highlight=False)
    else:
        console.print(
            f"{status.url}: upgraded from {status.before or 'an empty database'} "
            f"to revision {status.after}",
            highlight=False,
        )
