"""Rate limits counted in the store: every server on it enforces one limit between them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from brightline.errors import RateLimitedError
from brightline.service.rate_limits import PublicRateLimiter, RateLimiter
from brightline.store import Store

#: The start of a minute (minutes since the epoch × 60), plus a second.
T = 29_000_000 * 60 + 1.0


def _passes(limiter: RateLimiter, credential: str, at: float) -> bool:
    try:
        limiter.take(credential, now=at)
    except RateLimitedError:
        return False
    return True


def test_two_servers_enforce_one_limit(store: Store) -> None:
    one, two = RateLimiter(store, 10), RateLimiter(store, 10)
    passed = [_passes(one if i % 2 else two, "key:a", T + i) for i in range(20)]
    assert passed == [True] * 10 + [False] * 10
    assert _passes(one, "key:b", T + 20)  # per credential


def test_concurrent_servers_never_count_past_the_limit(store: Store) -> None:
    limiters = [RateLimiter(store, 25) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        passed = list(pool.map(lambda i: _passes(limiters[i % 2], "key:a", T + 2), range(60)))
    assert sum(passed) == 25


@pytest.mark.parametrize(("into", "allowed"), [(0.0, 0), (30.0, 5), (59.0, 9)])
def test_the_previous_minute_counts_for_what_remains_of_it(
    store: Store, into: float, allowed: int
) -> None:
    limiter = RateLimiter(store, 10)
    assert all(_passes(limiter, "key:a", T + i) for i in range(10))
    later = T - 1 + 60 + into  # the next minute, ``into`` seconds in
    passed = [_passes(limiter, "key:a", later) for _ in range(12)]
    assert sum(passed) == allowed


def test_refused_requests_are_not_counted(store: Store) -> None:
    limiter = RateLimiter(store, 3)
    assert [_passes(limiter, "key:a", T) for _ in range(10)] == [True] * 3 + [False] * 7
    # Two minutes on, the refusals left nothing behind.
    assert [_passes(limiter, "key:a", T + 120) for _ in range(4)] == [True] * 3 + [False]


def _public_passes(limiter: PublicRateLimiter, route: str, address: str, at: float) -> bool:
    try:
        limiter.take(route, address, now=at)
    except RateLimitedError:
        return False
    return True


def test_the_public_limit_counts_per_address_and_route_and_forgets_each_minute() -> None:
    limiter = PublicRateLimiter(3)
    passed = [_public_passes(limiter, "status", "198.51.100.7", T + i) for i in range(4)]
    assert passed == [True, True, True, False]
    assert _public_passes(limiter, "file", "198.51.100.7", T + 5)  # per route
    assert _public_passes(limiter, "status", "198.51.100.8", T + 6)  # per address
    # Nothing it holds is an address, and a new minute starts from nothing.
    assert all("198.51" not in repr(key) for key in limiter._counts)
    assert _public_passes(limiter, "status", "198.51.100.7", T + 60)
    assert len(limiter._counts) == 1
