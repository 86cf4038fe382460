from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitrep.errors import InputError
from sitrep.timespec import from_epoch, isoformat, parse_instant, parse_time, time_range

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
    assert time_range("1h", None, NOW) == ((NOW - timedelta(hours=1)).timestamp(), NOW.timestamp())


def test_isoformat_is_utc_with_z() -> None:
    assert isoformat(datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)) == "2026-01-02T03:04:05.600Z"


# -- the edges (issue 9) ------------------------------------------------------------------
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2999, 12, 31, tzinfo=UTC)


@st.composite
def iso_times(draw: st.DrawFn) -> str:
    """ISO-8601 times at the edges: years 1 and 9999 as often as ordinary ones, offsets to ±23:59."""
    year = draw(st.one_of(st.sampled_from([1, 2, 1969, 1970, 2999, 3000, 9998, 9999]), st.integers(1, 9999)))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    month, day = draw(st.sampled_from([(month, day), (1, 1), (12, 31)]))
    clock = draw(st.sampled_from(["00:00:00", "23:59:59", "23:59:59.999999", "12:30", "00:00:00.5"]))
    offset = draw(
        st.one_of(
            st.sampled_from(["", "Z", "+14:00", "-14:00", "+23:59", "-23:59", "+00:00"]),
            st.builds(
                lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
                st.sampled_from("+-"),
                st.integers(0, 23),
                st.integers(0, 59),
            ),
        )
    )
    separator = draw(st.sampled_from(["T", " "]))
    return f"{year:04d}-{month:02d}-{day:02d}{separator}{clock}{offset}"


durations = st.builds(
    lambda number, fraction, unit: f"{number}{fraction}{unit}",
    st.one_of(st.integers(0, 10**40).map(str), st.text("0123456789", min_size=1, max_size=400)),
    st.sampled_from(["", ".5", ".000001", ".9999999999"]),
    st.sampled_from(list("smhdwSMHDW")),
)


@given(
    text=st.one_of(iso_times(), durations, st.text(max_size=40)),
    until=st.one_of(st.none(), iso_times(), durations),
)
@settings(max_examples=1500, deadline=None)
def test_any_time_typed_is_an_answer_in_range_or_an_input_error(text: str, until: str | None) -> None:
    try:
        moment = parse_time(text, NOW, name="since")
    except InputError as error:
        assert str(error).startswith("since: ") and len(str(error)) < 400
    else:
        assert moment.tzinfo is not None and EARLIEST <= moment <= max(LATEST, NOW)
    try:
        start, end = time_range(text, until, NOW)
    except InputError:
        return
    assert start < end


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999999-00:01",
        "9" * 400 + "d",
    ],
)
def test_times_beyond_what_a_datetime_holds_are_refused_clearly(text: str) -> None:
    with pytest.raises(InputError, match=r"outside 1970–2999|more than ten years") as refused:
        parse_time(text, NOW, name="since")
    assert len(str(refused.value)) < 300
    assert parse_instant(text) is None or text.endswith("d")


@given(seconds=st.floats(allow_nan=True, allow_infinity=True))
@settings(max_examples=300, deadline=None)
def test_from_epoch_clamps_instead_of_raising(seconds: float) -> None:
    assert isoformat(from_epoch(seconds)).endswith("Z")
