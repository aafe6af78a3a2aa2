"""Real witnesses on loopback for the tests: ``brightline.server.witness`` under uvicorn,
in a thread, on an ephemeral port bound before the server starts."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from brightline.ledger import CosignatureVerifier, NoteVerifier
from brightline.server.witness import witness_app
from brightline.service.witness import Witness, witness_keygen


class WitnessServer:
    """A witness over ``directory`` (its key made on first start) serving ``logs``."""

    def __init__(self, directory: Path, *, name: str, logs: Sequence[NoteVerifier]) -> None:
        self.directory = directory
        self.logs = tuple(logs)
        if not (directory / "witness.key").exists():
            witness_keygen(directory, name=name)
        self.witness: Witness | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def key(self) -> CosignatureVerifier:
        assert self.witness is not None
        return self.witness.verifier()

    def start(self, port: int = 0) -> WitnessServer:
        """Start (again, after :meth:`stop`: a restart reads the state the witness kept),
        on ``port`` or a new ephemeral one."""
        self.witness = Witness(self.directory, logs=self.logs)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            witness_app(self.witness), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test witness did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
