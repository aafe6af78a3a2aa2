"""The enforcement client's own HTTP/1.1 exchanges, against a real server on loopback:
one kept connection per thread, a connection the server closed is opened again, and
closing the client ends a long poll under way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from brightline.enforcement.exchanges import DirectExchanges, ExchangeError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("authorization")))
        if self.path.endswith("/slow"):
            self.server.release.wait(10)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-brightline-serial", "7")
        self.send_header("x-other", "not kept")
        self.end_headers()
        self.wfile.write(body)
        if self.server.close_after:
            self.close_connection = True  # closes it without saying so: a kept one dies

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.posted.append((self.headers.get("content-type"), body))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, *_: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str | None]] = []
        self.posted: list[tuple[str | None, bytes]] = []
        self.connections = 0
        self.close_after = False
        self.release = threading.Event()


@pytest.fixture
def served() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _exchanges(server: _Server, prefix: str = "") -> DirectExchanges:
    port = server.server_address[1]
    return DirectExchanges(f"http://127.0.0.1:{port}{prefix}", api_key="bl_k", timeout=5)


def test_exchanges_keep_one_connection_and_send_the_key(served: _Server) -> None:
    http = _exchanges(served, "/brightline/")
    try:
        for n in range(3):
            answer = http.get(
                "/v1/bundles/current", params={"wait": 0, "ledger_size": n}, headers={}, timeout=5
            )
            assert answer.status == 200
            assert answer.content == b'{"ok": true}'
            assert answer.headers == {"x-brightline-serial": "7"}
        assert http.post_json("/v1/decision-logs", b"{}", timeout=5).status == 204
    finally:
        http.close()
    assert served.connections == 1
    assert served.seen == [
        (f"/brightline/v1/bundles/current?wait=0&ledger_size={n}", "Bearer bl_k") for n in range(3)
    ]
    assert served.posted == [("application/json", b"{}")]


def test_a_connection_the_server_closed_is_opened_again(served: _Server) -> None:
    served.close_after = True
    http = _exchanges(served)
    try:
        for _ in range(3):
            assert http.get("/a", params={}, headers={}, timeout=5).status == 200
    finally:
        http.close()
    assert served.connections == 3


def test_an_unreachable_server_is_an_exchange_error(served: _Server) -> None:
    port = served.server_address[1]
    served.shutdown()
    served.server_close()
    http = DirectExchanges(f"http://127.0.0.1:{port}", api_key="k", timeout=5)
    with pytest.raises(ExchangeError, match="GET /a"):
        http.get("/a", params={}, headers={}, timeout=5)


def test_closing_ends_a_long_poll_under_way(served: _Server) -> None:
    http = _exchanges(served)
    failed: list[BaseException] = []

    def poll() -> None:
        try:
            http.get("/slow", params={}, headers={}, timeout=30)
        except ExchangeError as exc:
            failed.append(exc)

    thread = threading.Thread(target=poll)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    http.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(failed) == 1
    with pytest.raises(ExchangeError, match="closed"):
        http.get("/a", params={}, headers={}, timeout=5)


def test_only_http_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="not an http"):
        DirectExchanges("ftp://example.test", api_key="k", timeout=1)
