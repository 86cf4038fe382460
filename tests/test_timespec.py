from datetime import UTC, datetime, timedelta

import pytest

from sitrep.errors import InputError
from sitrep.timespec import isoformat, parse_time, time_range

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW - timedelta(minutes=90)),
        ("6h", NOW - timedelta(hours=6)),
        ("2d", NOW - timedelta(days=2)),
        ("1w", NOW - timedelta(weeks=1)),
        ("30s", NOW - timedelta(seconds=30)),
        (" 1.5h ", NOW - timedelta(minutes=90)),
        ("now", NOW),
        ("2026-11-23T08:00:00Z", datetime(2026, 11, 23, 8, tzinfo=UTC)),
        ("2026-11-23T09:00:00+01:00", datetime(2026, 11, 23, 8, tzinfo=UTC)),
        ("2026-11-23 08:00:00", datetime(2026, 11, 23, 8, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_durations_and_iso(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW, name="since") == expected


@pytest.mark.parametrize("text", ["yesterday", "", "6 hours", "-1h", "1y", "2026-13-01"])
def test_unreadable_time_names_the_argument_and_the_forms(text: str) -> None:
    with pytest.raises(InputError, match=r"^since: cannot read .* use a duration such as 90m"):
        parse_time(text, NOW, name="since")


def test_since_after_until_is_refused_with_both_times() -> None:
    with pytest.raises(
        InputError, match=r"since \(2026-11-23T11:00:00Z\) must be before until \(2026-11-23T10:00:00Z\)"
    ):
        time_range("1h", "2h", NOW)


def test_until_defaults_to_now() -> None:
    assert time_range("1h", None, NOW) == (NOW - timedelta(hours=1), NOW)


def test_isoformat_is_utc_with_z() -> None:
    assert isoformat(datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)) == "2026-01-02T03:04:05.600Z"
