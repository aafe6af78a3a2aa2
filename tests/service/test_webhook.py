"""Webhook targets: only public addresses, however written, when a contact is added."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from brightline.errors import InvalidInputError
from brightline.service.webhook import (
    IPAddress,
    Resolver,
    TargetRefusedError,
    check_webhook_url,
    ipv4_host,
    non_public_kind,
    parse_target,
)

#: IPv4 networks that are not globally reachable (IANA special-purpose registry).
NON_PUBLIC_V4 = [
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
    "224.0.0.0/4",
    "240.0.0.0/4",
]


def _no_lookup(host: str, port: int) -> Sequence[IPAddress]:
    raise AssertionError(f"an address literal was looked up: {host}")


def _resolver(*addresses: str) -> Resolver:
    def resolve(host: str, port: int) -> Sequence[IPAddress]:
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


def _refusal(url: str, *, resolve: Resolver) -> str:
    with pytest.raises(InvalidInputError) as caught:
        check_webhook_url(url, where="target", allow_private=False, resolve=resolve)
    [problem] = caught.value.problems
    assert problem.where == "target"
    return problem.message


@st.composite
def ipv4_spellings(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    """``address`` written as resolvers read it: 1 to 4 parts, each decimal, hex or octal."""
    parts = draw(st.integers(1, 4))
    value = int(address)
    numbers = [(value >> (8 * (3 - i))) & 0xFF for i in range(parts - 1)]
    numbers.append(value & ((1 << (8 * (5 - parts))) - 1))
    written = []
    for number in numbers:
        style = draw(st.sampled_from(["dec", "hex", "HEX", "oct"]))
        if style == "dec":
            written.append(str(number))
        elif style == "oct":
            written.append("0" + format(number, "o"))
        else:
            digits = format(number, "x" if style == "hex" else "X")
            written.append(draw(st.sampled_from(["0x", "0X"])) + digits)
    return ".".join(written) + draw(st.sampled_from(["", "."]))


@st.composite
def non_public_ipv4(draw: st.DrawFn) -> ipaddress.IPv4Address:
    network = ipaddress.IPv4Network(draw(st.sampled_from(NON_PUBLIC_V4)))
    offset = draw(st.integers(0, network.num_addresses - 1))
    return network[offset]


@given(data=st.data())
def test_a_non_public_ipv4_address_is_refused_however_it_is_written(data: st.DataObject) -> None:
    address = data.draw(non_public_ipv4())
    host = data.draw(ipv4_spellings(address))
    assert ipv4_host(host) == address
    message = _refusal(f"http://{host}:8080/hook", resolve=_no_lookup)
    assert str(address) in message


@given(data=st.data())
def test_a_non_public_ipv4_address_is_refused_inside_ipv6(data: st.DataObject) -> None:
    address = data.draw(non_public_ipv4())
    embedded = int(address)
    host = data.draw(
        st.sampled_from(
            [
                f"::ffff:{address}",
                f"::ffff:{embedded >> 16:x}:{embedded & 0xFFFF:x}",
                f"0:0:0:0:0:ffff:{address}",
                f"2002:{embedded >> 16:x}:{embedded & 0xFFFF:x}::1",
                f"64:ff9b::{address}",
            ]
        )
    )
    assert non_public_kind(ipaddress.IPv6Address(host)) is not None
    _refusal(f"https://[{host}]/hook", resolve=_no_lookup)


#: First bytes of unicast space outside the blocks above (so that few draws are discarded).
PUBLIC_FIRST_BYTES = [b for b in range(1, 224) if b not in (10, 100, 127, 169, 172, 192, 198)]


@given(first=st.sampled_from(PUBLIC_FIRST_BYTES), rest=st.integers(0, 2**24 - 1), data=st.data())
def test_a_public_ipv4_address_must_be_written_as_four_decimals(
    first: int, rest: int, data: st.DataObject
) -> None:
    address = ipaddress.IPv4Address(first << 24 | rest)
    assume(non_public_kind(address) is None)
    host = data.draw(ipv4_spellings(address))
    url = f"http://{host}/hook"
    if host == str(address):
        assert parse_target(url, allow_private=False).address == address
    else:
        assert f"as {address}" in _refusal(url, resolve=_no_lookup)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://0x7f000001/hook", "127.0.0.1, which is a loopback"),
        ("http://2130706433/hook", "127.0.0.1, which is a loopback"),
        ("http://0177.0.0.1/hook", "127.0.0.1, which is a loopback"),
        ("http://127.1/hook", "127.0.0.1, which is a loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[0:0:0:0:0:0:0:1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback (through 127.0.0.1)"),
        ("http://[::]/hook", "unspecified"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.1/hook", "private"),
        ("http://[fd00::1]/hook", "private"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://[ff02::1]/hook", "multicast"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://100.64.0.1/hook", "non-global"),
        ("http://localhost:8080/hook", "loopback name"),
        ("http://LocalHost./hook", "loopback name"),
        ("http://api.localhost/hook", "loopback name"),
        ("http://1.2.3.4.5/hook", "neither a host name nor an IPv4 address"),
        ("http://256.1.1.1/hook", "neither a host name nor an IPv4 address"),
        ("http://1.2.3.08/hook", "neither a host name nor an IPv4 address"),
        ("http://user:pw@93.184.216.34/hook", "user info"),
        ("ftp://93.184.216.34/hook", "http(s) URL"),
        ("file:///etc/passwd", "http(s) URL"),
        ("gopher://93.184.216.34:70/", "http(s) URL"),
        ("http://93.184.216.34:99999/hook", "port"),
    ],
)
def test_non_public_and_malformed_targets_are_refused(url: str, says: str) -> None:
    assert says in _refusal(url, resolve=_no_lookup)


@pytest.mark.parametrize(
    "url",
    ["https://93.184.216.34/hook?x=1", "http://[2606:4700:4700::1111]:8443/x", "http://8.8.8.8"],
)
def test_public_address_literals_are_accepted_without_a_lookup(url: str) -> None:
    check_webhook_url(url, where="target", allow_private=False, resolve=_no_lookup)


def test_a_name_is_refused_if_any_address_it_resolves_to_is_not_public() -> None:
    url = "https://hooks.example.com/brightline"
    check_webhook_url(url, where="target", allow_private=False, resolve=_resolver("93.184.216.34"))
    assert "resolves to 10.0.0.7, which is a private" in _refusal(
        url, resolve=_resolver("93.184.216.34", "10.0.0.7")
    )
    assert "resolves to ::1, which is a loopback" in _refusal(url, resolve=_resolver("::1"))


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def fail(host: str, port: int) -> Sequence[IPAddress]:
        raise OSError("Name or service not known")

    assert "cannot resolve hooks.example.com" in _refusal("http://hooks.example.com/", resolve=fail)


def test_the_unsafe_setting_allows_private_targets_but_not_other_schemes() -> None:
    for url in ("http://127.0.0.1:9/hook", "http://[::1]/x", "http://localhost/x"):
        check_webhook_url(url, where="target", allow_private=True, resolve=_no_lookup)
    with pytest.raises(InvalidInputError):
        check_webhook_url("ftp://127.0.0.1/", where="target", allow_private=True)
    with pytest.raises(TargetRefusedError):
        parse_target("http://0x7f000001/", allow_private=True)  # still one spelling only
