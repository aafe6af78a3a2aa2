"""A small upstream for the gateway test and benchmark: every method answers 200 with a JSON
echo of the request; one line per request on stdout unless ``--quiet``.

    python tests/upstream_echo.py PORT [--quiet]
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real upstream behind nginx
    # The headers and the body are two writes: without this, Nagle's algorithm holds the
    # body until the client's delayed ACK, 40 ms later.
    disable_nagle_algorithm = True
    quiet = False

    def answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"upstream": True, "method": self.command, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # http.server's names for its handlers.
    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_OPTIONS = answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            print(f"{self.command} {self.path} {self.headers.get('host')}", flush=True)


def main() -> None:
    Echo.quiet = "--quiet" in sys.argv[2:]
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
