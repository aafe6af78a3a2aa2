"""The enforcement client's HTTP exchanges with the server: long polls for the bundle
and posts of decision logs.

By default the client speaks HTTP/1.1 itself, over the standard library's
``http.client``: one keep-alive connection per thread that talks to the server. When a
new bundle comes into force every long-polling client receives it at the same moment,
and the cost of the exchange is what a hundred clients on a host pay at once: about
0.15 ms of CPU here against 0.85 ms through httpx (`bench/api.py`'s propagation figures,
docs/operations.md). Given an httpx transport (a proxy, client certificates, a test's
server in memory), the client goes through httpx with it instead.

Either way an exchange returns an :class:`Answer` or raises :class:`ExchangeError`
(the server could not be reached, or did not answer in HTTP); what an answer means is
the client's to decide, in one place.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlencode, urlsplit

import httpx

#: Headers read from an answer (names in lower case); the others are not kept.
_KEPT: Final = ("etag", "x-brightline-current", "x-brightline-serial", "content-type")


class ExchangeError(Exception):
    """The server could not be reached, or did not answer in HTTP (the cause is chained)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    #: The headers the client reads (:data:`_KEPT`), names in lower case.
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Exchanges(Protocol):
    def get(
        self, path: str, *, params: Mapping[str, object], headers: Mapping[str, str], timeout: float
    ) -> Answer: ...

    def post_json(self, path: str, body: bytes, *, timeout: float) -> Answer: ...

    def close(self) -> None: ...


def exchanges(
    base_url: str, *, api_key: str, timeout: float, transport: httpx.BaseTransport | None
) -> Exchanges:
    """The client's way to the server at ``base_url``: through httpx with ``transport``
    if given, else :class:`DirectExchanges`."""
    if transport is not None:
        return HttpxExchanges(base_url, api_key=api_key, timeout=timeout, transport=transport)
    return DirectExchanges(base_url, api_key=api_key, timeout=timeout)


class DirectExchanges:
    """HTTP/1.1 over ``http.client``: a keep-alive connection per calling thread, opened
    again when the server closed it (an exchange is retried once, on a fresh connection,
    when a kept one turns out closed before any answer came: a GET is safe to repeat,
    and a decision log carries its report id, which the server takes once)."""

    def __init__(self, base_url: str, *, api_key: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._authorization = f"Bearer {api_key}"
        self._host_header = parts.netloc.rpartition("@")[2]
        self._context = ssl.create_default_context() if self._https else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()
        self._closed = False

    def get(
        self, path: str, *, params: Mapping[str, object], headers: Mapping[str, str], timeout: float
    ) -> Answer:
        target = self._prefix + path
        if params:
            target += "?" + urlencode(params)
        return self._exchange("GET", target, None, dict(headers), timeout)

    def post_json(self, path: str, body: bytes, *, timeout: float) -> Answer:
        headers = {"content-type": "application/json"}
        return self._exchange("POST", self._prefix + path, body, headers, timeout)

    def close(self) -> None:
        """Close every connection; an exchange under way in another thread ends with
        ExchangeError (its socket is shut down, which wakes a waiting read)."""
        with self._lock:
            self._closed = True
            connections, self._open = self._open, set()
        for connection in connections:
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection and whether it was kept from an earlier exchange."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and connection.sock is not None:
            connection.sock.settimeout(timeout)
            return connection, True
        with self._lock:
            if self._closed:
                raise ExchangeError("the client is closed")
            if self._https:
                connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=self._context
                )
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._open.add(connection)
        self._local.connection = connection
        return connection, False

    def _forget(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        with self._lock:
            self._open.discard(connection)
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> Answer:
        headers["authorization"] = self._authorization
        headers["host"] = self._host_header
        while True:
            connection, kept = self._connection(timeout)
            try:
                connection.request(method, target, body=body, headers=headers)
                response = connection.getresponse()
                content = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._forget(connection)
                if kept:
                    continue  # the server closed the kept connection: once on a fresh one
                raise ExchangeError(f"{method} {target}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self._forget(connection)
                raise ExchangeError(f"{method} {target}: {exc}") from exc
            if response.will_close:
                self._forget(connection)
            kept_headers = {}
            for name in _KEPT:
                value = response.getheader(name)
                if value is not None:
                    kept_headers[name] = value
            return Answer(response.status, kept_headers, content)


class HttpxExchanges:
    """Through httpx, with the transport given."""

    def __init__(
        self, base_url: str, *, api_key: str, timeout: float, transport: httpx.BaseTransport
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={"authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    def get(
        self, path: str, *, params: Mapping[str, object], headers: Mapping[str, str], timeout: float
    ) -> Answer:
        query = {name: str(value) for name, value in params.items()}
        return self._exchange(
            lambda: self._http.get(path, params=query, headers=dict(headers), timeout=timeout)
        )

    def post_json(self, path: str, body: bytes, *, timeout: float) -> Answer:
        headers = {"content-type": "application/json"}
        return self._exchange(
            lambda: self._http.post(path, content=body, headers=headers, timeout=timeout)
        )

    def close(self) -> None:
        self._http.close()

    def _exchange(self, send: Callable[[], httpx.Response]) -> Answer:
        try:
            response = send()
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: closed meanwhile
            raise ExchangeError(str(exc)) from exc
        headers = {name: response.headers[name] for name in _KEPT if name in response.headers}
        return Answer(response.status_code, headers, response.content)
