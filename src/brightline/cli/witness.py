"""``brightline ledger witness`` and ``witness-keygen``: run a witness (C2SP tlog-witness)
for someone else's log."""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from brightline.cli.app import command, console, settings
from brightline.cli.ledger import ledger_app
from brightline.errors import InvalidInputError, Problem
from brightline.service.witness import Witness, read_log_key, witness_keygen

WitnessDir = Annotated[
    Path | None,
    typer.Option("--dir", help="The witness's directory (default: <data dir>/witness)."),
]


def _directory(given: Path | None) -> Path:
    return given if given is not None else settings().data_dir / "witness"


@command(ledger_app, name="witness-keygen")
def witness_keygen_command(
    name: Annotated[str, typer.Option("--name", help="The witness's name, a schema-less URL.")],
    directory: WitnessDir = None,
) -> None:
    """Create a witness's Ed25519 key (private file mode 0600) and print its verifier key."""
    where = _directory(directory)
    verifier = witness_keygen(where, name=name)
    console.print(f"witness key: {where / 'witness.key'} (mode 0600)", highlight=False)
    console.print(str(verifier), highlight=False, soft_wrap=True)


@command(ledger_app, name="witness")
def witness_command(
    log: Annotated[
        list[str],
        typer.Option(
            "--log",
            help="A log's verifier key (or its log.pub): the witness cosigns its "
            "checkpoints. Repeat for each log.",
        ),
    ],
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to listen on (port 0: any free port).")
    ] = "127.0.0.1:8780",
    directory: WitnessDir = None,
) -> None:
    """Run a witness: POST /add-checkpoint (C2SP tlog-witness) checks each new checkpoint
    of the logs given against the latest it cosigned, with a consistency proof, and
    cosigns it (C2SP tlog-cosignature). Its memory survives restarts, in --dir."""
    import uvicorn

    from brightline.server.witness import witness_app

    witness = Witness(_directory(directory), logs=[read_log_key(k) for k in log])
    sock = _bind(listen)
    host, port = sock.getsockname()[:2]
    console.print(f"witness {witness.verifier()}", highlight=False, soft_wrap=True)
    console.print(f"logs: {', '.join(witness.origins)}", highlight=False, soft_wrap=True)
    console.print(f"listening on http://{host}:{port}", highlight=False)
    sys.stdout.flush()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = uvicorn.Config(
        witness_app(witness), log_level="warning", access_log=False, lifespan="off"
    )
    uvicorn.Server(config).run(sockets=[sock])


def _bind(listen: str) -> socket.socket:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InvalidInputError(Problem("--listen", f"not HOST:PORT: {listen!r}"))
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        raise InvalidInputError(Problem("--listen", f"cannot listen on {listen}: {exc}")) from exc
    return sock
