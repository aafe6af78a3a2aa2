"""Each command's module loads when the command is looked up (brightline.cli.app.COMMANDS).

The table is checked against what the modules register: a command run in a fresh process,
with only its own modules loaded, has every subcommand that it has with all loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer

from brightline.cli.app import COMMANDS, app, load_commands

DESCRIBE = """
import json, sys
import typer
from brightline.cli.app import app, load_commands

def describe(command):
    return {name: describe(sub) for name, sub in getattr(command, "commands", {}).items()}

load_commands(*sys.argv[1:])
print(json.dumps(describe(typer.main.get_command(app))))
"""


def describe(command: Any) -> dict[str, Any]:
    return {name: describe(sub) for name, sub in getattr(command, "commands", {}).items()}


def test_the_table_names_every_top_level_command_and_nothing_else() -> None:
    load_commands()
    assert set(describe(typer.main.get_command(app))) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_alone_has_all_its_subcommands(name: str) -> None:
    load_commands()
    everything = describe(typer.main.get_command(app))
    done = subprocess.run(
        [sys.executable, "-c", DESCRIBE, name], capture_output=True, text=True, check=True
    )
    alone = json.loads(done.stdout)
    assert alone[name] == everything[name]


def test_importing_the_package_loads_no_command() -> None:
    code = (
        "import json, sys, brightline.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('brightline.cli.'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == ["brightline.cli.app"]
