"""``format_time`` (RFC 3339 in UTC, ``Z``, microseconds only when present) takes a fast
path through ``isoformat``; it must give strftime's text for every time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from brightline.policy import format_time


def _by_strftime(value: datetime) -> str:
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    offset=st.sampled_from([0, 0, 5, -3]),
)
def test_format_time_is_strftime_s_text(moment: datetime, offset: int) -> None:
    local = moment.astimezone(timezone(timedelta(hours=offset)))
    assert format_time(local) == _by_strftime(local)


def test_whole_seconds_have_no_fraction_and_early_years_are_not_padded() -> None:
    assert format_time(datetime(2025, 10, 1, 9, 30, tzinfo=UTC)) == "2025-10-01T09:30:00Z"
    assert format_time(datetime(999, 1, 1, tzinfo=UTC)) == _by_strftime(
        datetime(999, 1, 1, tzinfo=UTC)
    )
