"""Webhook targets and their delivery: which addresses a webhook may reach, and a POST
that goes only to an address so checked and never follows a redirect.

A contact's URL is chosen by whoever adds the contact. Unchecked, Brightline would send
signed requests wherever it points, inside the provider's own network too (server-side
request forgery): the cloud metadata service at 169.254.169.254, admin ports on
loopback, internal services. So:

1. only ``http`` and ``https`` URLs, with an ASCII host and no user info;
2. the host, however it is written (``127.1``, ``0x7f000001``, ``2130706433``,
   ``0177.0.0.1``, ``[::ffff:127.0.0.1]``, ``localhost``) and every address it resolves
   to must be public: not loopback, private, link-local, multicast, unspecified,
   reserved or otherwise not globally routable; an IPv6 address embedding an IPv4 one
   (mapped, 6to4) is judged by that too. Checked when the contact is added and again at
   every delivery, after resolving the name;
3. delivery connects to the address it has just checked, not to the name (a second
   lookup could answer differently: DNS rebinding), and sends the name in ``Host`` and
   in TLS SNI, checking the server's certificate against it;
4. a redirect is never followed: a 3xx answer is a failed delivery, so the signed
   request goes nowhere but the registered URL.

``Settings.webhook_allow_private_targets_unsafe`` lifts step 2 only.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from brightline.cases.evidence import check_url
from brightline.errors import InvalidInputError, Problem

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves a host name to the addresses a connection may use (``getaddrinfo``).
Resolver = Callable[[str, int], Sequence[IPAddress]]

UNSAFE_SETTING: Final = "BRIGHTLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS_UNSAFE"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
#: IANA special-purpose blocks that are not globally reachable, refused whatever the
#: Python version's ``ipaddress`` tables say (they have changed between releases).
_SPECIAL_PURPOSE: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",
        "::/127",
        "::ffff:0:0/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_DIGITS: Final = re.compile(r"[0-9]+")
_HEX: Final = re.compile(r"0[xX][0-9a-fA-F]*")


class TargetRefusedError(Exception):
    """A webhook target that may not be reached; the message says why."""


# -- how a host is written ----------------------------------------------------------------


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 host as ``inet_aton`` and the URL standard read it: ``0x``
    hexadecimal, a leading ``0`` octal, else decimal; None if it is not such a number."""
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if not _DIGITS.fullmatch(part):
        return None
    try:
        return int(part, 8) if len(part) > 1 and part.startswith("0") else int(part)
    except ValueError:  # 08, 09: octal that is not
        return None


def ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host written with numbers stands for (``127.1``, ``0x7f000001``,
    ``2130706433``, ``0177.0.0.1``…), as resolvers and browsers read it (WHATWG URL,
    "IPv4 parser"); None if ``host`` is a name. TargetRefusedError if it ends in a number but
    is no valid address (``1.2.3.4.5``, ``256.1.1.1``, ``1.2.3.08``)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()  # a trailing dot is allowed
    if not (_DIGITS.fullmatch(parts[-1]) or _HEX.fullmatch(parts[-1])):
        return None  # does not end in a number: a name
    numbers = [_ipv4_number(p) for p in parts]
    values = [n for n in numbers if n is not None]
    if len(parts) > 4 or len(values) < len(parts):
        raise TargetRefusedError(f"{host!r} is neither a host name nor an IPv4 address")
    *leading, final = values
    if any(n > 255 for n in leading) or final >= 256 ** (5 - len(values)):
        raise TargetRefusedError(f"{host!r} is neither a host name nor an IPv4 address")
    number = final
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` (as :func:`urllib.parse.urlsplit` gives it: lower case, IPv6
    without brackets) is written as, or None for a name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise TargetRefusedError(f"{host!r} is not an IPv6 address") from exc
    return ipv4_host(host)


# -- which addresses are public -----------------------------------------------------------


def _judged(address: IPAddress) -> list[IPAddress]:
    """Any IPv4 address ``address`` carries (mapped, 6to4, NAT64), then itself: a packet
    to such an IPv6 address may end up at the IPv4 one."""
    found: list[IPAddress] = []
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
    return [*found, address]


def non_public_kind(address: IPAddress) -> str | None:
    """What kind of non-public address ``address`` is (``"loopback"``…), or None if it
    is a public unicast address that a webhook may reach."""
    for candidate in _judged(address):
        checks = (
            ("unspecified", candidate.is_unspecified),
            ("loopback", candidate.is_loopback),
            ("link-local", candidate.is_link_local),
            ("multicast", candidate.is_multicast),
            ("reserved", candidate.is_reserved),
            ("private", candidate.is_private),
            (
                "site-local",
                isinstance(candidate, ipaddress.IPv6Address) and candidate.is_site_local,
            ),
            ("non-global", not candidate.is_global),
            ("special-purpose", any(candidate in n for n in _SPECIAL_PURPOSE)),
        )
        for kind, hit in checks:
            if hit:
                return kind if candidate == address else f"{kind} (through {candidate})"
    return None


def _refuse_non_public(host: str, address: IPAddress, *, resolved: bool = False) -> None:
    kind = non_public_kind(address)
    if kind is not None:
        verb = "resolves to" if resolved else "stands for"
        what = host if str(address) == host else f"{host} {verb} {address}, which"
        raise TargetRefusedError(
            f"{what} is a {kind} address; webhooks reach public addresses only "
            f"({UNSAFE_SETTING} lifts this)"
        )


# -- the target -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A checked webhook URL: ``host`` as written (lower case), ``address`` when the host
    is an IP address, ``path`` with its query."""

    scheme: str
    host: str
    port: int
    path: str
    address: IPAddress | None


def parse_target(url: str, *, allow_private: bool) -> WebhookTarget:
    """Check a webhook URL as written (steps 1 and 2 above, without resolving names);
    TargetRefusedError says why not."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise TargetRefusedError(f"is not a valid URL: {exc}") from exc
    if parts.scheme not in _DEFAULT_PORTS:
        raise TargetRefusedError("must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise TargetRefusedError("must not carry user info (the HMAC signature authenticates)")
    host = parts.hostname or ""
    if not host or not host.isascii():
        raise TargetRefusedError("needs a host, in ASCII (write international names in punycode)")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise TargetRefusedError(f"has an invalid port: {exc}") from exc
    address = literal_address(host)
    if not allow_private:
        if address is not None:
            _refuse_non_public(host, address)
        elif host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
            raise TargetRefusedError(f"{host} is a loopback name (RFC 6761)")
    if isinstance(address, ipaddress.IPv4Address) and str(address) != host:
        # Parsers disagree on such forms; the one written must be the one connected to.
        raise TargetRefusedError(f"write the address {host} as {address}")
    path = parts.path or "/"
    return WebhookTarget(
        parts.scheme, host, port, path + (f"?{parts.query}" if parts.query else ""), address
    )


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to for a TCP connection."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def checked_address(target: WebhookTarget, *, resolve: Resolver, allow_private: bool) -> IPAddress:
    """The address to connect to: the host's own, or the first it resolves to, after
    checking every one (a name with one private address among public ones is refused:
    which one a client picks is not ours to predict). TargetRefusedError if any is not public
    or the name does not resolve."""
    if target.address is not None:
        addresses: Sequence[IPAddress] = [target.address]
    else:
        try:
            addresses = resolve(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise TargetRefusedError(f"cannot resolve {target.host}: {exc}") from exc
        if not addresses:
            raise TargetRefusedError(f"{target.host} resolves to no address")
    if not allow_private:
        for address in addresses:
            _refuse_non_public(target.host, address, resolved=target.address is None)
    return addresses[0]


def check_webhook_url(
    url: str, *, where: str, allow_private: bool, resolve: Resolver = resolve_host
) -> WebhookTarget:
    """Refuse a webhook URL that is malformed or reaches a non-public address, as a
    contact is added: InvalidInputError naming ``where``."""
    check_url(url, where)
    try:
        target = parse_target(url, allow_private=allow_private)
        if not allow_private:
            checked_address(target, resolve=resolve, allow_private=False)
    except TargetRefusedError as exc:
        raise InvalidInputError(Problem(where, str(exc))) from exc
    return target


# -- delivery -------------------------------------------------------------------------------


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP to ``address`` while naming ``host`` in the request (``Host``)."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def _open_socket(self) -> socket.socket:
        return socket.create_connection((str(self._address), self.port), self.timeout)

    def connect(self) -> None:
        self.sock = self._open_socket()


class _PinnedTLSConnection(_PinnedConnection):
    """HTTPS to ``address``: SNI and certificate checked against ``host``."""

    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self._open_socket(), server_hostname=self.host)


def post(
    target: WebhookTarget,
    address: IPAddress,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
) -> tuple[bool, str]:
    """POST ``body`` to ``target`` over a connection to ``address``; (delivered, detail).

    Any 2xx is delivered; a 3xx is a failure and is not followed."""
    kind = _PinnedTLSConnection if target.scheme == "https" else _PinnedConnection
    try:
        connection = kind(target.host, target.port, address, timeout)
    except ValueError as exc:  # http.client.InvalidURL
        return False, f"cannot use webhook host {target.host}: {exc}"
    try:
        connection.request("POST", target.path, body=body, headers=dict(headers))
        status = connection.getresponse().status
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return False, f"cannot reach webhook at {address}: {exc}"
    finally:
        connection.close()
    if 300 <= status < 400:
        return False, f"HTTP {status} (redirects are not followed)"
    return 200 <= status < 300, f"HTTP {status}"
