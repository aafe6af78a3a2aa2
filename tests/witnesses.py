"""Real witnesses on loopback for the tests: ``brightline.server.witness`` under uvicorn in a
thread, or the ``brightline ledger witness`` command in a process of its own; each on an
ephemeral port bound before the server starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from brightline.ledger import CosignatureVerifier, NoteVerifier
from brightline.server.witness import witness_app
from brightline.service.witness import Witness, witness_keygen

SRC = Path(__file__).resolve().parents[1] / "src"


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


class WitnessProcess:
    """``brightline ledger witness`` as a process of its own, as an outside witness runs it."""

    def __init__(self, directory: Path, *, logs: Sequence[str]) -> None:
        self.directory = directory
        self.logs = tuple(logs)
        self.process: subprocess.Popen[str] | None = None
        self._drainer: threading.Thread | None = None
        self.url = ""

    def start(self, port: int = 0) -> WitnessProcess:
        args = ["ledger", "witness", "--dir", str(self.directory), "--listen", f"127.0.0.1:{port}"]
        for log in self.logs:
            args += ["--log", log]
        env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "300"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from brightline.cli import main; main()", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("listening on "):
                self.url = line.split()[-1]
                # Keep draining its output so that the witness never blocks on a full pipe.
                self._drainer = threading.Thread(target=self._drain, daemon=True)
                self._drainer.start()
                return self
        self.stop()
        raise RuntimeError("the witness did not start:\n" + "".join(seen))

    def _drain(self) -> None:
        process = self.process
        if process is not None and process.stdout is not None:
            for _ in process.stdout:
                pass

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            if self._drainer is not None:
                self._drainer.join(timeout=10)  # it ends at the end of the output
            if self.process.stdout is not None:
                self.process.stdout.close()
        self.process = self._drainer = None
