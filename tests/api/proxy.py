"""A broken or malicious Brightline server for the enforcement client to meet: a real
HTTP server on loopback in front of the live one, which forwards every request or,
when told, answers with a canned response instead (an old bundle, a doctored proof,
"not modified" forever)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass
class Canned:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


#: Given the request's path (with query) and headers, an answer, or None to forward.
Answer = Callable[[str, dict[str, str]], Canned | None]


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.answer: Answer = lambda path, headers: None
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._handle(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self._handle(self.rfile.read(length))

            def _handle(self, body: bytes) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                proxy.seen.append(self.path)
                canned = proxy.answer(self.path, headers)
                if canned is None:
                    canned = proxy.forward(self.command, self.path, headers, body)
                self.send_response(canned.status)
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Canned:
        sent = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        with httpx.Client(base_url=self.upstream, timeout=60) as http:
            r = http.request(method, path, headers=sent, content=body)
        kept = ("content-type", "etag", "x-brightline-serial", "x-brightline-current")
        return Canned(r.status_code, {k: r.headers[k] for k in kept if k in r.headers}, r.content)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def proxy_to(upstream: str) -> Iterator[Proxy]:
    proxy = Proxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
